/**
 * `impera exits`: train early-exit branches at cuts on the frozen model, calibrate them, sweep exit policies on a
 * held-out test split, optionally find the POPEX partition for an edge device, a server and a link, study distorted
 * inputs, and export the model (or head and tail) with its exits for the runtime.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { resolveCut, type Cut } from '../../cuts/cuts.js';
import { openDataset, type Dataset } from '../../data/dataset.js';
import { DEFAULT_TRAINING_DATA, labelledSplits } from '../../data/policy.js';
import { ImperaError } from '../../errors.js';
import { makeBranch, type BranchSpec } from '../../exits/branch.js';
import { parseDistortions, type Distortion } from '../../exits/distort.js';
import { pathTimes, popexSummary, profilePopex, type PopexSetup, type PopexSummary } from '../../placement/model-popex.js';
import { checkPolicy, missedDeadline, type Policy } from '../../exits/policy.js';
import { robustness, type RobustnessRow } from '../../exits/robustness.js';
import { checkExitCuts, earlyShare, trainExits, type ExitsResult, type PolicyRow, type TrainedExit, type TrainedExits } from '../../exits/pipeline.js';
import { attachExits, describeExits } from '../../exits/export.js';
import { hasClassScores } from '../../exits/output-branch.js';
import type { MetricName } from '../../task/types.js';
import { outputReportText, runOutputExits, type OutputExitsCli, type TrainingFlags } from './exits-outputs.js';
import { splitModel, writeParts } from '../../export/split.js';
import type { Graph } from '../../graph/graph.js';
import { tensorLayout } from '../../graph/layout.js';
import { resolveLink } from '../../net/link.js';
import { resolveTransport } from '../../net/transfer.js';
import { loadCatalog } from '../../devices/catalog.js';
import { analysisCache } from '../../util/analysis-cache.js';
import { resolveCompute } from '../../devices/resolve.js';
import { loadProfile, type Profile } from '../../profile/profile-file.js';
import { exitTradeOffSpec, reliabilitySpec, renderSvg } from '../../report/plot.js';
import { addDataOptions, addModelOptions, CUT_NAMING, datasetOptions, loadGraph, positiveInt, printJson, printWarnings, resolveCuts, type DataOptions, type ModelOptions } from '../common.js';
import { fmtBytes, fmtInt, table } from '../table.js';
import { fmtPoints as pct } from '../../util/format.js';
import { progressBar, type Progress } from '../progress.js';

interface ExitsCliOptions extends ModelOptions, DataOptions {
  at: string;
  data: string;
  test?: string;
  kind: 'linear' | 'conv';
  hidden: number;
  sparsity?: string;
  calibrate?: boolean;
  tau: string;
  trainSamples?: number;
  valSamples?: number;
  calSamples?: number;
  testSamples?: number;
  epochs: number;
  batchSize: number;
  lr: string;
  patience: number;
  seed: number;
  outageTarget: string;
  popex?: boolean;
  device?: string;
  server?: string;
  link?: string;
  protocol: 'tcp' | 'udp';
  deadline?: string;
  distort?: string;
  distortSamples: number;
  split?: string;
  out?: string;
  json?: boolean;
  target?: string;
  metric?: string;
  threshold?: number;
}

const number = (flag: string, value: string, ok: (x: number) => boolean, what: string): number => {
  const x = Number(value);
  if (!Number.isFinite(x) || !ok(x)) throw new ImperaError('BAD_ARGUMENT', `${flag} must be ${what}, got '${value}'`);
  return x;
};

/** Training data and test data: the source's own splits, or a folder with a held-out share (no test set here). */
function exitData(o: ExitsCliOptions): { train: Dataset; test?: Dataset } {
  const options = datasetOptions(o);
  const splits = labelledSplits(o.data, undefined, options);
  const train = splits.train();
  const test = o.test ? openDataset(o.test, options) : splits.test?.();
  return { train, ...(test ? { test } : {}) };
}

function parseFanOuts(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  return text.split(',').map((v) => number('--sparsity', v, (x) => Number.isInteger(x) && x >= 0, 'fan-outs as whole numbers (0: dense), one per fully connected layer, e.g. 16,5'));
}

/**
 * A machine for POPEX: a profile file (`impera profile` run here, on the device, or predicted), `this-machine`, or a
 * catalog device predicted from a profile of the model measured here (cached).
 */
async function popexProfile(flag: string, spec: string | undefined, g: Graph): Promise<Profile> {
  if (!spec) throw new ImperaError('BAD_ARGUMENT', `--popex needs ${flag} (a catalog device such as raspberry-pi-4, this-machine, or a PROFILE.json)`, 'profile files come from `impera profile MODEL --out FILE` (on the device, or --device ID to predict a catalog device)');
  if (/\.json$/i.test(spec)) return loadProfile(spec, g.model);
  return (await resolveCompute(g, spec, flag, { catalog: loadCatalog(), baseDir: '.', cache: analysisCache() })).profile;
}

/** POPEX over all single-tensor cuts: layer times from the two profiles, hop times from the link model. */
async function popexSetup(g: Graph, exits: readonly TrainedExit[], o: ExitsCliOptions): Promise<PopexSetup> {
  if (!o.link) throw new ImperaError('BAD_ARGUMENT', '--popex needs --link (a preset such as wifi, lte, 5g, RATE/DELAY such as 10/5, or a link file)');
  const link = resolveLink(o.link, { where: '--link' });
  const [edge, cloud] = [await popexProfile('--device', o.device, g), await popexProfile('--server', o.server, g)];
  return profilePopex(g, exits, edge, cloud, link, resolveTransport({ protocol: o.protocol }, '--protocol'));
}


export function registerExits(program: Command): void {
  addDataOptions(addModelOptions(program.command('exits')))
    .description('train, calibrate and evaluate early-exit branches; POPEX partitioning; export with exits')
    .requiredOption('--at <cuts>', `exit cuts, comma-separated, input to output: single-tensor cuts ${CUT_NAMING}`)
    .option('--data <source>', `images or arrays to train on: a named dataset (its train split; tests on its test split), a folder with one sub-folder per class, or unlabelled data (the exits then learn the full model's top-1)`, DEFAULT_TRAINING_DATA)
    .option('--test <source>', 'test images (default: the test split of --data, or 20 % of a folder held out)')
    .addOption(new Option('--kind <kind>', 'branch: GAP + (hidden) + linear, or a small 3x3 conv + GAP + linear').choices(['linear', 'conv']).default('linear'))
    .option('--hidden <n>', 'hidden units of the linear branch (0: none), or channels of the conv branch', (v) => number('--hidden', v, (x) => Number.isInteger(x) && x >= 0, 'a whole number >= 0'), 0)
    .option('--sparsity <fanouts>', 'predefined sparsity: fan-out of each fully connected layer, comma-separated (0: dense), e.g. 16,5')
    .option('--calibrate', 'fit temperatures on a calibration split and report ECE before and after')
    .option('--tau <t>', 'max-softmax threshold in (0, 1] for the fixed-tau comparison and the export', '0.9')
    .option('--train-samples <n>', 'training images (default: all that validation and calibration leave)', positiveInt('--train-samples'))
    .option('--val-samples <n>', 'validation images for early stopping (default: 10 %, at most 5000)', positiveInt('--val-samples'))
    .option('--cal-samples <n>', 'calibration images (default: 10 %, at most 5000)', positiveInt('--cal-samples'))
    .option('--test-samples <n>', 'test images (default: the whole test split)', positiveInt('--test-samples'))
    .option('--epochs <n>', 'maximum epochs', positiveInt('--epochs'), 30)
    .option('--batch-size <n>', 'mini-batch size', positiveInt('--batch-size'), 256)
    .option('--lr <x>', 'Adam learning rate', '0.001')
    .option('--patience <n>', 'epochs without a better validation accuracy before stopping', positiveInt('--patience'), 3)
    .option('--seed <n>', 'seed for splits, initialisation and shuffling', positiveInt('--seed'), 1)
    .option('--outage-target <acc>', 'edge accuracy target of the outage probability', '0.9')
    .option('--popex', 'find the partition minimising expected inference time (needs --device, --server, --link)')
    .option('--device <device>', 'edge device: a catalog id (predicted; see `impera devices`), this-machine, or a profile JSON from `impera profile`')
    .option('--server <device>', 'server: a catalog id, this-machine, or a profile JSON')
    .option('--link <link>', 'uplink: a preset (3g, lte, wifi, 5g, ethernet, wifi-ac, ...), RATE/DELAY in Mb/s and ms (10/5), or a link file (YAML/JSON)')
    .addOption(new Option('--protocol <p>', 'transport on the link').choices(['tcp', 'udp']).default('tcp'))
    .option('--deadline <ms>', 'with --popex: report the share of samples missing this deadline')
    .option('--distort <spec>', "robustness: 'blur:1,2,3,4,5 noise:0.05,0.1' (sigma in input pixels / input units)")
    .option('--distort-samples <n>', 'test images per distortion', positiveInt('--distort-samples'), 1000)
    .option('--split <cut>', `export head (with the exits) and tail at this cut (${CUT_NAMING}) instead of the whole model with exits`)
    .option('--out <dir>', 'write the model with exits (or head/tail), exits.json, the report and plots')
    .option('--target <x>', "outputs that are not class scores (maps, sequences): the metric's target on samples that leave early, tau is calibrated to it (default 0.9 of a score, 0.1 of an error, 20 dB)")
    .option('--metric <name>', 'outputs that are not class scores: the metric exits are judged by (default: chosen from the output, and printed), e.g. map-iou, sequence-agreement, token-error-rate, cosine, rel-l2')
    .option('--threshold <x>', 'threshold of the map metrics (default 0.5)', (v) => number('--threshold', v, () => true, 'a number'))
    .option('--json', 'print the report as JSON')
    .action(async (model: string | undefined, o: ExitsCliOptions, command: Command) => {
      const settings = exitsSettings(o);
      const setup = await exitsSetup(model, o, settings);
      const bar = progressBar('exits', !o.json && process.stderr.isTTY === true);
      try {
        if (!hasClassScores(setup.g)) {
          const { result, files } = await runOutputExits(setup.g, setup.cuts, setup.data, outputOptions(o, settings, command.getOptionValueSource('tau') === 'cli'), bar);
          bar.stop();
          if (o.json) return printJson({ model: setup.g.model.source, ...result, files, warnings: setup.warnings });
          printWarnings(setup.warnings);
          process.stdout.write(`${outputReportText(result)}\n`);
          if (files.length) process.stdout.write(`\nwrote ${files.join(', ')}\n`);
          return;
        }
        const outcome = await runExits(setup, settings, o, bar);
        if (o.json) return printJson(outcome.report);
        printWarnings(setup.warnings);
        process.stdout.write(`${reportText(outcome.trained.result, outcome.popex, outcome.rows)}\n`);
        if (outcome.files.length) process.stdout.write(`\nwrote ${outcome.files.join(', ')}\n`);
      } finally {
        bar.stop();
      }
    });
}

/** The training and split options every kind of exit takes from the flags. */
function trainingOptions(o: ExitsCliOptions, settings: ExitsSettings): TrainingFlags {
  return {
    maxEpochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: settings.lr,
    patience: o.patience,
    seed: o.seed,
    ...(o.trainSamples ? { trainSamples: o.trainSamples } : {}),
    ...(o.valSamples ? { valSamples: o.valSamples } : {}),
    ...(o.calSamples ? { calSamples: o.calSamples } : {}),
    ...(o.testSamples ? { testSamples: o.testSamples } : {}),
  };
}

/** The options of exits on outputs that are not class scores; those only classifier exits have, named to be refused. */
function outputOptions(o: ExitsCliOptions, settings: ExitsSettings, tauGiven: boolean): OutputExitsCli {
  // tau is calibrated to --target on these exits, so a fixed --tau would be silently ignored
  const given: [string, unknown][] = [['--tau', tauGiven || undefined], ['--popex', o.popex], ['--distort', o.distort], ['--split', o.split], ['--calibrate', o.calibrate], ['--sparsity', o.sparsity], ['--kind conv', o.kind === 'conv' || undefined]];
  return {
    hidden: o.hidden,
    ...(o.target !== undefined ? { target: o.target } : {}),
    task: { ...(o.metric ? { metric: o.metric as MetricName } : {}), ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) },
    training: trainingOptions(o, settings),
    ...(o.out ? { out: o.out } : {}),
    classifierOnly: given.filter(([, v]) => v).map(([flag]) => flag),
  };
}

/** What the flags ask for, as numbers and specs, checked before the model is loaded. */
interface ExitsSettings {
  tau: number;
  lr: number;
  outageTarget: number;
  deadline: number | undefined;
  distortions: Distortion[];
  branch: BranchSpec;
}

function exitsSettings(o: ExitsCliOptions): ExitsSettings {
  const tau = number('--tau', o.tau, (x) => x > 0 && x <= 1, 'in (0, 1] (a max-softmax probability, e.g. 0.9)');
  const lr = number('--lr', o.lr, (x) => x > 0, 'a positive number');
  const outageTarget = number('--outage-target', o.outageTarget, (x) => x > 0 && x <= 1, 'in (0, 1]');
  const deadline = o.deadline === undefined ? undefined : number('--deadline', o.deadline, (x) => x > 0, 'a positive number of ms');
  const distortions = o.distort ? parseDistortions(o.distort) : [];
  const fanOut = parseFanOuts(o.sparsity);
  return { tau, lr, outageTarget, deadline, distortions, branch: { kind: o.kind, hidden: o.hidden, ...(fanOut ? { fanOut } : {}) } };
}

/** The model, its exit cuts and split, and the data, all checked before the long feature pass. */
interface ExitsSetup {
  g: Graph;
  warnings: string[];
  cuts: Cut[];
  split: Cut | undefined;
  data: { train: Dataset; test?: Dataset };
}

async function exitsSetup(model: string | undefined, o: ExitsCliOptions, settings: ExitsSettings): Promise<ExitsSetup> {
  const g = await loadGraph(model, o);
  const cuts = resolveCuts(g, o.at);
  checkExitCuts(cuts);
  const classes = g.outputs[0] ? (g.tensors.get(g.outputs[0].name!)?.shape[1] ?? 0) : 0;
  // fail before the long feature pass: fan-outs that do not fit, a conv exit on a vector (output exits check their own)
  const outputOnly = [['--target', o.target], ['--metric', o.metric], ['--threshold', o.threshold]].filter(([, v]) => v !== undefined).map(([flag]) => flag);
  if (hasClassScores(g) && outputOnly.length) throw new ImperaError('BAD_ARGUMENT', `${outputOnly.join(', ')} ${outputOnly.length > 1 ? 'apply' : 'applies'} to exits on outputs that are not class scores (maps, sequences, embeddings)`, 'classifier exits report accuracy (top-1 agreement without labels) and take --tau');
  if (hasClassScores(g)) cuts.forEach((c, k) => makeBranch(settings.branch, `exit${k}`, c.detail[0]!.shape, classes, 1, undefined, tensorLayout(g, c.tensors[0]!)));
  const split = o.split ? resolveCut(g, cuts, o.split) : undefined;
  if (split && cuts.some((c) => ![...c.head].every((i) => split.head.has(i)))) throw new ImperaError('BAD_ARGUMENT', `--split ${o.split}: every exit must lie in the head`, 'split at or after the deepest exit');
  if (settings.deadline !== undefined && !o.popex) throw new ImperaError('BAD_ARGUMENT', '--deadline needs --popex (path times come from the partition)');
  const data = exitData(o);
  // profiles and link are checked before training too
  if (o.popex) await popexSetup(g, [], o);
  return { g, warnings: [...g.warnings], cuts, split, data };
}

/** Train, calibrate and sweep the exits, then POPEX, distortions and files as asked. */
async function runExits(setup: ExitsSetup, settings: ExitsSettings, o: ExitsCliOptions, bar: Progress) {
  const { g, cuts, data } = setup;
  const trained = await trainExits(g, cuts, data, {
    branch: settings.branch,
    calibrate: o.calibrate === true,
    tau: settings.tau,
    outageTarget: settings.outageTarget,
    ...trainingOptions(o, settings),
    onProgress: (phase, d, t) => bar.update(d, t, phase),
  });
  const policy: Policy = { kind: 'softmax', thresholds: cuts.map(() => settings.tau) };
  checkPolicy(policy, cuts.length);
  const partition = o.popex ? await popexSetup(g, trained.exits, o) : undefined;
  const rows = settings.distortions.length ? await distortedRows(setup, trained, settings, policy, partition, o, bar) : [];
  bar.stop();
  const { result, exits } = trained;
  const popex = partition ? popexReport(partition, result.atTau.calibrated, settings.deadline, trained) : undefined;
  const description = describeExits(exits, policy);
  const files = o.out ? await writeOutputs(g, o.out, exits, description, setup.split, result, { popex, robustness: rows }) : [];
  const report = { model: g.model.source, ...result, ...(popex ? { popex } : {}), ...(rows.length ? { robustness: rows } : {}), deployment: description, files, warnings: setup.warnings };
  return { trained, popex, rows, files, report };
}

/** The exits on distorted test images, with the POPEX partition for each distortion's exit rates. */
async function distortedRows(setup: ExitsSetup, trained: TrainedExits, settings: ExitsSettings, policy: Policy, partition: PopexSetup | undefined, o: ExitsCliOptions, bar: Progress): Promise<RobustnessRow<PopexSummary>[]> {
  const test = setup.data.test ?? setup.data.train;
  const indices = [...Array(Math.min(o.distortSamples, test.size)).keys()];
  return robustness(setup.g, trained.exits, test, indices, settings.distortions, policy, {
    seed: o.seed,
    onProgress: (label, d, t) => bar.update(d, t, `distortion ${label}`),
    ...(partition ? { partition: (rates: number[]) => popexSummary(partition.run(rates)) } : {}),
  });
}

function popexReport(setup: PopexSetup, at: PolicyRow, deadline: number | undefined, trained: TrainedExits) {
  const p = setup.run(at.rates);
  const noExits = setup.run(at.rates.map(() => 0));
  const paths = pathTimes(p.problem, p.plan.cut);
  return {
    device: setup.device,
    server: setup.server,
    link: setup.link,
    tau: trained.result.atTau.tau,
    exitProbabilities: p.problem.exits.map((e) => e.probability),
    best: popexSummary(p),
    withoutExits: popexSummary(noExits),
    pathMs: paths,
    ...(deadline !== undefined ? { deadlineMs: deadline, missedDeadline: missedDeadline(trained.taken, paths, deadline) } : {}),
  };
}

async function writeOutputs(g: Graph, dir: string, exits: readonly TrainedExit[], description: ReturnType<typeof describeExits>, split: Cut | undefined, result: ExitsResult, extra: object): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const parts = split ? splitModel(g, [split]).parts : [{ ...splitModel(g, []).parts[0]!, name: 'model_with_exits' }];
  parts[0] = attachExits(g, parts[0]!, exits);
  const files = writeParts(g, parts, dir);
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    files.push(join(dir, name));
  };
  write('exits.json', `${JSON.stringify(description, null, 2)}\n`);
  write('exits-report.json', `${JSON.stringify({ model: g.model.source, ...result, ...extra }, null, 2)}\n`);
  const sweep = result.sweeps.softmax;
  const points = (['uncalibrated', 'calibrated'] as const).flatMap((series) => sweep[series].map((r) => ({ series, threshold: r.policy.thresholds[0]!, earlyShare: earlyShare(r), accuracy: r.accuracy })));
  write('tradeoff.svg', await renderSvg(exitTradeOffSpec(`Early exits: accuracy vs samples leaving early (${result.samples.test} test images)`, points, result.finalAccuracy)));
  if (result.calibrated) {
    const bins = result.exits.flatMap((e, k) => (['before', 'after'] as const).flatMap((when) => e.reliability[when].filter((b) => b.count > 0).map((b) => ({ panel: `exit ${k} (${e.cut.split('/').slice(-2).join('/')})`, series: when === 'before' ? 'uncalibrated' : 'calibrated', confidence: b.confidence, accuracy: b.accuracy, count: b.count }))));
    write('reliability.svg', await renderSvg(reliabilitySpec('Reliability before and after temperature scaling', bins)));
  }
  return files;
}

function reportText(r: ExitsResult, popex: ReturnType<typeof popexReport> | undefined, rows: readonly RobustnessRow<PopexSummary>[]): string {
  const s = r.samples;
  const lines = [`full model: ${pct(r.finalAccuracy)} % on ${fmtInt(s.test)} test images · trained on ${fmtInt(s.train)}, validated on ${fmtInt(s.val)}${s.cal ? `, calibrated on ${fmtInt(s.cal)}` : ''} (${r.dataset})`, ''];
  if (r.distilled) lines.splice(1, 0, "no labels: the exits learn the full model's top-1 class, and every accuracy below is top-1 agreement with the full model");
  lines.push(exitTable(r), '', ...sweepLines(r));
  if (r.calibrated) lines.push('', calibrationLine(r));
  if (popex) lines.push('', ...popexLines(popex));
  if (rows.length) lines.push('', ...robustnessLines(r, rows));
  lines.push('', `time: features ${r.seconds.features.toFixed(1)} s, training ${r.seconds.training.toFixed(1)} s`);
  return lines.join('\n');
}

function exitTable(r: ExitsResult): string {
  return table(
    ['exit', 'cut', 'branch', 'weights (dense)', 'MACs (dense)', 'bytes (dense)', 'epochs', 's/epoch', 'test acc %', ...(r.calibrated ? ['T', 'ECE before', 'ECE after'] : [])],
    r.exits.map((e, k) => [
      k,
      e.cut,
      `${e.branch.kind}${e.branch.hidden ? ` ${e.branch.hidden}` : ''}${e.branch.fanOut ? ` fan-out ${e.branch.fanOut.join(',')}` : ''}`,
      `${fmtInt(e.size.weights)} (${fmtInt(e.size.denseWeights)})`,
      `${fmtInt(e.size.macs)} (${fmtInt(e.size.denseMacs)})`,
      `${fmtBytes(e.size.bytes)} (${fmtBytes(e.size.denseBytes)})`,
      `${e.training.bestEpoch}/${e.training.epochs}`,
      e.training.secondsPerEpoch.toFixed(2),
      pct(e.testAccuracy),
      ...(r.calibrated ? [e.temperature.toFixed(3), e.ece.before.toFixed(4), e.ece.after.toFixed(4)] : []),
    ]),
  );
}

/** The max-softmax sweep and the best trade-off within a point of the full model. */
function sweepLines(r: ExitsResult): string[] {
  const sweep = r.calibrated ? r.sweeps.softmax.calibrated : r.sweeps.softmax.uncalibrated;
  const k = r.exits.length;
  const b = r.bestTradeOff;
  return [
    `max-softmax sweep${r.calibrated ? ' (calibrated)' : ''}: share leaving at each exit, their accuracy, overall accuracy`,
    table(
      ['tau', ...r.exits.map((_, i) => `exit ${i} %`), 'end %', 'early %', ...r.exits.map((_, i) => `acc ${i} %`), 'acc end %', 'overall %', 'Δ points'],
      sweep.map((row) => [row.policy.thresholds[0]!, ...row.rates.map(pct), pct(row.finalRate), pct(earlyShare(row)), ...row.exitAccuracy.map(pct), pct(row.finalAccuracy), pct(row.accuracy), (100 * (row.accuracy - r.finalAccuracy)).toFixed(2)]),
      ['right', ...Array<'right'>(2 * k + 5).fill('right')],
    ),
    b ? `within 1 point of the full model: tau ${b.policy.thresholds[0]} lets ${pct(b.earlyShare)} % leave early at ${pct(b.accuracy)} % accuracy` : 'no tau keeps the overall accuracy within 1 point of the full model',
  ];
}

function calibrationLine(r: ExitsResult): string {
  const a = r.atTau;
  return `at tau ${a.tau}: uncalibrated ${pct(earlyShare(a.uncalibrated))} % early, ${pct(a.uncalibrated.accuracy)} % accuracy, outage ${pct(a.uncalibrated.outage)} %; calibrated ${pct(earlyShare(a.calibrated))} % early, ${pct(a.calibrated.accuracy)} % accuracy, outage ${pct(a.calibrated.outage)} % (target ${pct(a.outageTarget)} %) · global T ${r.globalTemperature.toFixed(3)}`;
}

function popexLines(popex: ReturnType<typeof popexReport>): string[] {
  const best = popex.best.cut === 'cloud' || popex.best.cut === 'edge' ? popex.best.cut : `cut #${popex.best.cutIndex} ${popex.best.cut}`;
  return [
    `POPEX (${popex.device} -> ${popex.link} -> ${popex.server}, tau ${popex.tau}): best ${best}, E[T] ${popex.best.expectedMs.toFixed(2)} ms (brute force ${popex.best.bruteForceMs.toFixed(2)} ms) · without exits: ${popex.withoutExits.cut}, ${popex.withoutExits.expectedMs.toFixed(2)} ms`,
    ...(popex.missedDeadline !== undefined ? [`missed-deadline probability at ${popex.deadlineMs} ms: ${pct(popex.missedDeadline)} %`] : []),
  ];
}

function robustnessLines(r: ExitsResult, rows: readonly RobustnessRow<PopexSummary>[]): string[] {
  return [
    `distorted inputs (tau ${r.atTau.tau}${r.calibrated ? ', calibrated' : ''}):`,
    table(
      ['distortion', ...r.exits.map((_, i) => `exit ${i} %`), 'early %', 'overall %', 'full model %', ...(rows[0]?.partition ? ['best cut', 'E[T] ms'] : [])],
      rows.map((row) => [row.distortion, ...row.rates.map(pct), pct(row.rates.reduce((a, c) => a + c, 0)), pct(row.accuracy), pct(row.fullModelAccuracy), ...(row.partition ? [row.partition.cutIndex === null ? row.partition.cut : `#${row.partition.cutIndex}`, row.partition.expectedMs.toFixed(2)] : [])]),
    ),
  ];
}
