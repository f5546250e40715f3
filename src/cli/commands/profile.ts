/**
 * `impera profile`: measure the latency of a model's parts on this machine with ONNX Runtime (full model, head and
 * tail of each cut, k-stage partitions; per-node breakdown and the sum-of-nodes prediction of every part), or
 * predict them for a catalog device with `--device`.
 */
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import type { Cut } from '../../cuts/cuts.js';
import { ImperaError } from '../../errors.js';
import { DTYPES, findDevice, loadCatalog, type ComputeDtype } from '../../devices/catalog.js';
import { predictedProfile } from '../../devices/predicted.js';
import { calibrate, OP_CLASSES } from '../../devices/roofline.js';
import type { Graph } from '../../graph/graph.js';
import { loadProfile, saveProfile, type Profile } from '../../profile/profile-file.js';
import { profileModel, profileSteps } from '../../profile/profiler.js';
import { predictionErrors } from '../../profile/predict.js';
import { addCutListOptions, addDataOptions, addModelOptions, CUT_NAMING, datasetOptions, loadGraph, positiveInt, printJson, printWarnings, resolveCuts, selectCuts, type CutListCliOptions, type ModelOptions } from '../common.js';
import { fmtCount, fmtFraction, fmtSignedPercent as pct, table } from '../table.js';
import { fmtMsFine as ms } from '../../util/format.js';
import { progressBar } from '../progress.js';
import { openDataset, type Dataset } from '../../data/dataset.js';
import { DEFAULT_SAMPLES } from '../../data/samples.js';
import { median } from '../../util/stats.js';

interface ProfileOptions extends ModelOptions, CutListCliOptions {
  cuts: string;
  stages: string[];
  threads: number;
  out?: string;
  json?: boolean;
  nodes?: boolean;
  device?: string;
  calibrate?: string;
  catalog: string[];
  dtype: ComputeDtype;
  data?: string;
  preprocess?: string;
  labels?: string;
}

const repeat = (v: string, prev: string[] = []) => [...prev, v];

export function registerProfile(program: Command): void {
  addDataOptions(addCutListOptions(addModelOptions(program.command('profile')), 'the cuts of --cuts all'))
    .option('--data <source>', `inputs to time on: an image folder, an .npy or .npz file (default: ${DEFAULT_SAMPLES})`)
    .description('measure the latency of every part of a model on this machine (with --batch N: at batch 1 and at N), or predict it for a catalog device with --device')
    .option('--cuts <spec>', `cuts whose head and tail to time: 'all' (every cut up to --width), 'none', or cuts ${CUT_NAMING}, separated by ','`, 'all')
    .addOption(new Option('--stages <cuts>', "a k-stage partition to time: its cuts in increasing depth separated by ',' (repeatable)").argParser(repeat).default([]))
    .option('--threads <n>', 'intra-op threads per ONNX Runtime session', positiveInt('--threads'), availableParallelism())
    .option('--out <file>', 'write the profile (impera-profile/1 JSON) to this file')
    .option('--nodes', 'also list the per-node breakdown')
    .option('--json', 'print the profile as JSON')
    .option('--device <id>', 'predict for a catalog device instead of measuring (see `impera devices`)')
    .option('--calibrate <file>', 'with --device: a measured profile of this model to fit the device model to (default: measure one now)')
    .addOption(new Option('--catalog <file>', 'extra device catalog, YAML or JSON (repeatable)').argParser(repeat).default([]))
    .addOption(new Option('--dtype <type>', 'with --device: the arithmetic the device runs').choices([...DTYPES]).default('fp32'))
    .action(async (model: string | undefined, options: ProfileOptions, command: Command) => {
      const deviceOnly = ['calibrate', 'catalog', 'dtype'].filter((k) => command.getOptionValueSource(k) === 'cli');
      if (!options.device && deviceOnly.length) throw new ImperaError('BAD_ARGUMENT', `${deviceOnly.map((k) => `--${k}`).join(', ')} ${deviceOnly.length === 1 ? 'applies' : 'apply'} only with --device (a predicted profile)`, 'add --device ID (see `impera devices`), or drop them to measure this machine');
      const batch = options.batch ?? 1;
      const data = options.data ? openDataset(options.data, datasetOptions(options)) : undefined;
      const g1 = await loadGraph(model, { ...options, batch: 1 }, data && (() => data));
      const cuts = selectCuts(g1, options.cuts, options);
      const stages = options.stages.map((spec) => resolveCuts(g1, spec));
      const graphs = batch > 1 ? [g1, await loadGraph(model, { ...options, batch }, data && (() => data))] : [g1];
      const profile = options.device
        ? await predict(graphs[graphs.length - 1]!, options, cuts, stages)
        : await measure(graphs, options, cuts.map((c) => c.id), stages.map((s) => s.map((c) => c.id)), data);
      if (options.out) saveProfile(profile, options.out);
      if (options.json) return printJson(profile);
      printWarnings(g1.warnings);
      process.stdout.write(`${report(profile, options)}\n`);
    });
}

async function measure(graphs: readonly Graph[], o: ProfileOptions, cuts: string[], stages: string[][], data?: Dataset): Promise<Profile> {
  const total = profileSteps(graphs, { cuts, stages });
  const bar = progressBar('profiling', !o.json && process.stderr.isTTY === true);
  let done = 0;
  try {
    return await profileModel(graphs, { threads: o.threads, cuts, stages, onProgress: () => bar.update(++done, total), ...(data ? { data } : {}) });
  } finally {
    bar.stop();
  }
}

/** Cut heads and tails are the same node sets at every batch size: cuts found on the batch-1 graph apply to g. */
async function predict(g: Graph, o: ProfileOptions, cuts: readonly Cut[], stages: readonly Cut[][]): Promise<Profile> {
  const device = findDevice(loadCatalog(o.catalog), o.device!);
  const calibration = o.calibrate ? loadProfile(o.calibrate, g.model) : await measure([g], o, [], []);
  return predictedProfile(g, {
    device,
    model: calibrate(g, calibration),
    dtype: o.dtype,
    calibratedFrom: o.calibrate ?? `a profile of this model measured now on ${calibration.device.description}`,
    cuts,
    stages,
  });
}

function report(p: Profile, o: ProfileOptions): string {
  const lines: string[] = [];
  if (p.device.kind === 'measured') {
    lines.push(`device   ${p.device.name}: ${p.device.description} · ${p.runtime!.engine} ${p.runtime!.version} (${p.runtime!.executionProvider}, ${p.runtime!.threads} threads, optimisation ${p.runtime!.graphOptimization})`);
    const m = p.device.machine;
    if (m?.peakGflops && m.bandwidthGBs) lines.push(`machine  reaches ${fmtCount(m.peakGflops * 1e9)}FLOP/s in a large GEMM, ${m.bandwidthGBs.toFixed(1)} GB/s streaming`);
    if (p.data) lines.push(`inputs   ${p.data}`);
  } else {
    lines.push(`device   ${p.device.name}: ${p.device.description} (predicted; calibrated on ${p.device.calibratedFrom})`);
    if (p.deviceModel) lines.push(deviceModelText(p.deviceModel));
  }
  if (o.nodes) lines.push('', nodeTable(p));
  lines.push('', partTable(p));
  const errors = predictionErrors(p);
  if (errors.length) {
    const within = errors.filter((e) => Math.abs(e) <= 0.1).length / errors.length;
    lines.push('', `sum-of-nodes prediction: median |error| ${fmtFraction(median(errors.map(Math.abs)))}, ${(100 * within).toFixed(0)}% of ${errors.length} heads and tails within ±10%`);
  }
  return lines.join('\n');
}

function deviceModelText(m: NonNullable<Profile['deviceModel']>): string {
  const classes = OP_CLASSES.filter((c) => m.classes[c]).map((c) => {
    const e = m.classes[c]!;
    return `${c} ${(100 * Math.min(1, e.compute)).toFixed(0)}%/${(100 * Math.min(1, e.memory)).toFixed(0)}%${e.nodes ? '' : '*'}`;
  });
  return `model    ${m.dtype}; efficiency (compute/memory, capped at 100%): ${classes.join(', ')} (* = no nodes of its own, fitted on all); overhead ${m.overheadUs} µs per node on CPUs; fit error ${(100 * m.fitError).toFixed(0)}% (time-weighted median)`;
}

function partTable(p: Profile): string {
  const rows = p.parts.map((x) => {
    const err = x.measured && x.predictedMs !== undefined ? pct(x.predictedMs / x.measured.medianMs - 1) : '-';
    return [x.kind + (x.stage !== undefined ? ` ${x.stage}` : ''), x.cut ?? '', x.batch, ms(x.measured?.minMs), ms(x.measured?.medianMs), ms(x.measured?.p90Ms), ms(x.predictedMs), err];
  });
  return table(['part', 'cut', 'batch', 'min ms', 'median ms', 'p90 ms', 'predicted ms', 'error'], rows, ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right']);
}

function nodeTable(p: Profile): string {
  const rows = p.nodes.map((n) => [n.index ?? '', n.name, n.opType, n.batch ?? p.batch, ms(n.ms), n.fusedInto ? `in ${n.fusedInto}` : (n.kernels ?? []).join(', ')]);
  return table(['node', 'name', 'op', 'batch', 'ms', 'ORT kernel(s)'], rows, ['right', 'left', 'left', 'right', 'right', 'left']);
}

