/**
 * bench:exits — early exits on a zoo model with exits at an early, a middle and a late cut, trained on the
 * Fashion-MNIST train split (validation and calibration held out of it) and measured on the test split:
 *  - per-exit accuracy, exit rates and overall accuracy across tau, before and after temperature scaling, ECE;
 *  - dense vs predefined-sparse branches (weights, MACs, bytes, accuracy);
 *  - training speed: seconds per epoch next to the same number of bare ONNX Runtime forward+backward passes
 *    (pre-built feeds, no optimizer, no batching work) plus the validation forward passes (goal: at most 1.3x);
 *  - robustness: exit rates and accuracy under blur and noise, and the POPEX partition each one leads to
 *    (edge: a Raspberry Pi 4 predicted from a profile measured here; server: this machine; link: Wi-Fi 18.88 Mb/s).
 *
 *   npm run bench:exits [-- --model resnet50 --train 20000 --test 10000 --distort-samples 1000 --epochs 100 --patience 5]
 * Writes docs/exits/<model>.md, .json, -tradeoff.svg and -reliability.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { buildBackwardGraph, TARGETS_INPUT } from '../src/autodiff/backward.js';
import { resolveCut, singleTensorCuts } from '../src/cuts/cuts.js';
import { openDataset } from '../src/data/dataset.js';
import { findDevice, loadCatalog } from '../src/devices/catalog.js';
import { predictedProfile } from '../src/devices/predicted.js';
import { calibrate } from '../src/devices/roofline.js';
import { branchModel, channelStats, initParams, makeBranch, type BranchSpec } from '../src/exits/branch.js';
import { validFanOuts } from '../src/exits/sparsity.js';
import { parseDistortions } from '../src/exits/distort.js';
import { popexSummary, profilePopex, type PopexSummary } from '../src/placement/model-popex.js';
import { robustness } from '../src/exits/robustness.js';
import { cacheFeatures, earlyShare, featureRows, fitExits, type ExitsResult, type PolicyRow, type TrainedExits } from '../src/exits/pipeline.js';
import { trainBranch, type TrainData } from '../src/exits/train.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { resolveLink } from '../src/net/link.js';
import { resolveTransport } from '../src/net/transfer.js';
import { DataType } from '../src/onnx/dtype.js';
import { inMemoryModel, loadModel } from '../src/onnx/io.js';
import type { Tensor } from '../src/onnx/tensor.js';
import { createSession, run } from '../src/ort/session.js';
import { profileModel } from '../src/profile/profiler.js';
import { exitTradeOffSpec, reliabilitySpec, renderSvg } from '../src/report/plot.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { median } from '../src/util/stats.js';
import { arg, machine, ZOO } from './common.js';

const EXITS: Record<string, string[]> = {
  mobilenet_v2: ['/1/features/features.3/Add_output_0', '/1/features/features.10/Add_output_0', '/1/features/features.16/Add_output_0'],
  resnet50: ['/1/layer1/layer1.2/relu_2/Relu_output_0', '/1/layer2/layer2.3/relu_2/Relu_output_0', '/1/layer3/layer3.5/relu_2/Relu_output_0'],
};
const model = arg('model', 'mobilenet_v2');
const trainSamples = arg('train', '');
const testSamples = Number(arg('test', '10000'));
const distortSamples = Number(arg('distort-samples', '1000'));
const hidden = Number(arg('hidden', '128'));
const tau = Number(arg('tau', '0.9'));
const distortions = parseDistortions(arg('distort', 'blur:1,2,3,4,5 noise:0.02,0.05,0.1'));

const started = new Date();
const g = await analyzeModel(loadModel(join(ZOO, `${model}.onnx`)));
const all = singleTensorCuts(g);
const cuts = (EXITS[model] ?? arg('at', '').split(',')).map((s) => resolveCut(g, all, s));
console.log(`bench:exits  ${started.toISOString()}  ${machine()}  ${model}: exits at ${cuts.map((c) => `#${c.index}`).join(', ')}`);

let last = 0;
const progress = (phase: string, done: number, total: number) => {
  if (done === total || performance.now() - last > 30_000) {
    last = performance.now();
    process.stderr.write(`${phase} ${done}/${total}\n`);
  }
};

const dense: BranchSpec = { kind: 'linear', hidden };
/**
 * Per exit, the densest predefined-sparse design (fan-outs of both layers, chosen before training) with at least
 * 4x fewer weights than the dense branch: the FDL 2024 bar, with as much accuracy left as the bar allows.
 */
function sparseFor(channels: number, classes: number): BranchSpec {
  const dense = channels * hidden + hidden * classes;
  let best: { weights: number; fanOut: number[] } | null = null;
  for (const d1 of validFanOuts(channels, hidden))
    for (const d2 of validFanOuts(hidden, classes)) {
      const weights = channels * d1 + hidden * d2;
      if (4 * weights <= dense && (!best || weights > best.weights)) best = { weights, fanOut: [d1, d2] };
    }
  if (!best) throw new Error(`no fan-outs give 4x fewer weights for a ${channels} -> ${hidden} -> ${classes} branch`);
  return { kind: 'linear', hidden, fanOut: best.fanOut };
}
const maxEpochs = Number(arg('epochs', '100'));
const patience = Number(arg('patience', '5'));
const options = { branch: dense, calibrate: true, tau, testSamples, seed: 1, maxEpochs, patience, onProgress: progress, ...(trainSamples ? { trainSamples: Number(trainSamples) } : {}) };
const cache = await cacheFeatures(g, cuts, { train: openDataset('fashion-mnist:train'), test: openDataset('fashion-mnist') }, options);
console.log(`features: ${cache.counts.train} train, ${cache.counts.val} val, ${cache.counts.cal} cal, ${cache.test.count} test images in ${cache.seconds.toFixed(0)} s`);
const denseRun = await fitExits(g, cuts, cache, options);
const sparse = cache.fit.channels.map((ch) => sparseFor(ch, cache.fit.classes));
const sparseRun = await fitExits(g, cuts, cache, { ...options, branch: sparse });

/**
 * Bare ONNX Runtime: the same steps of forward+backward on one pre-built batch, and the validation forward passes.
 * Training epochs and bare passes alternate (five rounds, medians) so machine noise hits both alike.
 */
async function bareOrtSeconds(run0: TrainedExits, k: number): Promise<{ epochS: number; bareS: number; steps: number }> {
  const e = run0.exits[k]!;
  const width = cache.fit.width[k]!;
  const { train: nTrain, val: nVal } = cache.counts;
  const slice = (from: number, to: number): TrainData => featureRows(cache.fit, k, from, to);
  const branch = makeBranch(dense, 'timing', e.cut.detail[0]!.shape, cache.fit.classes, 1, channelStats(slice(0, nTrain).x, nTrain, cache.fit.channels[k]!));
  const fwd = branchModel(branch);
  const bwd = buildBackwardGraph(await analyzeModel(inMemoryModel(fwd, 'branch')), { wrt: branch.params.map((p) => p.name), objective: 'cross-entropy' });
  const [train, infer] = [await createSession(bwd.proto, '.'), await createSession(fwd, '.')];
  const values = initParams(branch);
  const weights: Record<string, Tensor> = Object.fromEntries(branch.params.map((p) => [p.name, { dtype: DataType.FLOAT, dims: p.shape, data: values.get(p.name)! }]));
  const batch = 256;
  const feeds = { ...weights, [branch.input.name]: { dtype: DataType.FLOAT, dims: [batch, width], data: slice(0, batch).x }, [TARGETS_INPUT]: { dtype: DataType.INT64, dims: [batch], data: BigInt64Array.from(slice(0, batch).y, (y) => BigInt(y)) } };
  const valFeeds = (from: number, to: number) => ({ ...weights, [branch.input.name]: { dtype: DataType.FLOAT, dims: [to - from, width], data: slice(from, to).x } });
  const epochTimes: number[] = [];
  const bareTimes: number[] = [];
  let steps = 0;
  for (let round = 0; round < 5; round++) {
    // two epochs per round: the first warms the fresh sessions up, the second is timed
    const trained = await trainBranch(branch, slice(0, nTrain), slice(nTrain, nTrain + nVal), { maxEpochs: 2, patience: 2, seed: round + 1 });
    epochTimes.push(trained.history[1]!.seconds);
    steps = trained.history[1]!.steps;
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) await run(train, feeds);
    for (let from = nTrain; from < nTrain + nVal; from += 1024) await run(infer, valFeeds(from, Math.min(from + 1024, nTrain + nVal)));
    bareTimes.push((performance.now() - t0) / 1000);
  }
  await Promise.all([train.release(), infer.release()]);
  return { epochS: median(epochTimes), bareS: median(bareTimes), steps };
}
const timing = await bareOrtSeconds(denseRun, cuts.length - 1);
const overhead = timing.epochS / timing.bareS;

// POPEX: Raspberry Pi 4 (predicted from a profile measured here) -> Wi-Fi -> this machine
const measured = await profileModel([g], { threads: availableParallelism(), cuts: [], stages: [] });
const rpi = predictedProfile(g, { device: findDevice(loadCatalog(), 'raspberry-pi-4'), model: calibrate(g, measured), dtype: 'fp32', calibratedFrom: 'a profile measured by bench:exits', cuts: [], stages: [] });
const links = arg('links', 'wifi,wifi-ac,5g').split(',');
const setups = links.map((l) => profilePopex(g, denseRun.exits, rpi, measured, resolveLink(l), resolveTransport({ protocol: 'tcp' })));
const partitions = (rates: readonly number[]) => setups.map((st) => popexSummary(st.run(rates)));
const robust = await robustness(g, denseRun.exits, openDataset('fashion-mnist'), [...Array(distortSamples).keys()], distortions, { kind: 'softmax', thresholds: cuts.map(() => tau) }, { partition: partitions, onProgress: progress });
const noExits = partitions(cuts.map(() => 0));
const where = (p: PopexSummary) => (p.cutIndex === null ? p.cut : `#${p.cutIndex}`);

// --- report ---
const pct = (x: number | null) => (x === null ? '-' : (100 * x).toFixed(2));
/** The shortest tail of the exit cuts' names (at least two path parts) that still tells them apart. */
const tailParts = (() => {
  const names = cuts.map((c) => c.id.split('/'));
  for (let k = 2; k < Math.max(...names.map((n) => n.length)); k++) if (new Set(names.map((n) => n.slice(-k).join('/'))).size === names.length) return k;
  return Infinity;
})();
const short = (id: string) => id.split('/').slice(-tailParts).join('/');
const r = denseRun.result;
const s = sparseRun.result;
function sweepTable(rows: readonly PolicyRow[], full: number): string[] {
  const k = r.exits.length;
  return [
    `| tau | ${r.exits.map((_, i) => `exit ${i} %`).join(' | ')} | end % | early % | ${r.exits.map((_, i) => `acc ${i} %`).join(' | ')} | acc end % | overall % | Δ points |`,
    `|${Array(2 * k + 6).fill('---:').join('|')}|`,
    ...rows.map((x) => `| ${x.policy.thresholds[0]} | ${x.rates.map(pct).join(' | ')} | ${pct(x.finalRate)} | ${pct(earlyShare(x))} | ${x.exitAccuracy.map(pct).join(' | ')} | ${pct(x.finalAccuracy)} | ${pct(x.accuracy)} | ${(100 * (x.accuracy - full)).toFixed(2)} |`),
  ];
}
const exitRows = (res: ExitsResult) => res.exits.map((e, i) => `| ${i} | ${short(e.cut)} | ${e.shape.join('×')} | ${e.size.weights} / ${e.size.denseWeights} | ${e.size.macs} / ${e.size.denseMacs} | ${e.size.bytes} / ${e.size.denseBytes} | ${e.training.bestEpoch}/${e.training.epochs} | ${pct(e.training.valAccuracy)} | ${pct(e.testAccuracy)} | ${e.temperature.toFixed(3)} | ${e.ece.before.toFixed(4)} | ${e.ece.after.toFixed(4)} |`);
const exitHead = ['| exit | cut | shape | weights (kept / dense) | MACs | bytes (stored / dense) | best/epochs | val acc % | test acc % | T | ECE before | ECE after |', '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
const drops = r.exits.map((e, i) => 100 * (e.testAccuracy - s.exits[i]!.testAccuracy));
const reductions = s.exits.map((e) => e.size.denseWeights / e.size.weights);
const macReductions = s.exits.map((e) => e.size.denseMacs / e.size.macs);
const a = r.atTau;
const lines = [
  `# ${model}: early exits (bench:exits, ${started.toISOString().slice(0, 10)}, ${machine()})`,
  '',
  `Backbone frozen; branches GAP -> ${hidden} (ReLU) -> 10, Adam lr 1e-3, batch 256, at most ${maxEpochs} epochs with early stopping on validation accuracy (patience ${patience}). Trained on ${cache.counts.train} Fashion-MNIST training images, ${cache.counts.val} for validation, ${cache.counts.cal} for calibration (all from the train split); measured on ${cache.test.count} test images. Full model: ${pct(r.finalAccuracy)} %.`,
  '',
  '## Dense branches',
  ...exitHead,
  ...exitRows(r),
  '',
  `Global temperature (one for all exits): ${r.globalTemperature.toFixed(3)}.`,
  '',
  '### Max-softmax sweep, uncalibrated',
  ...sweepTable(r.sweeps.softmax.uncalibrated, r.finalAccuracy),
  '',
  '### Max-softmax sweep, calibrated (per-exit temperature)',
  ...sweepTable(r.sweeps.softmax.calibrated, r.finalAccuracy),
  '',
  '### Entropy sweep, calibrated (threshold in nats)',
  ...sweepTable(r.sweeps.entropy.calibrated, r.finalAccuracy),
  '',
  r.bestTradeOff ? `Best trade-off within 1 point of the full model (calibrated): tau ${r.bestTradeOff.policy.thresholds[0]}, ${pct(r.bestTradeOff.earlyShare)} % leave early, overall ${pct(r.bestTradeOff.accuracy)} % (full ${pct(r.finalAccuracy)} %).` : 'No tau keeps the overall accuracy within 1 point of the full model.',
  '',
  `At tau ${a.tau}: uncalibrated ${pct(earlyShare(a.uncalibrated))} % early, accuracy ${pct(a.uncalibrated.accuracy)} %, outage ${pct(a.uncalibrated.outage)} %; calibrated ${pct(earlyShare(a.calibrated))} % early, accuracy ${pct(a.calibrated.accuracy)} %, outage ${pct(a.calibrated.outage)} % (edge accuracy target ${pct(a.outageTarget)} % per batch of 100).`,
  '',
  `## Predefined-sparse branches (per exit the densest fan-outs with at least 4x fewer weights: ${sparse.map((b, i) => `exit ${i} ${b.fanOut!.join(', ')}`).join('; ')})`,
  ...exitHead,
  ...exitRows(s),
  '',
  `Weights ${reductions.map((x) => `${x.toFixed(1)}x`).join(', ')} fewer, MACs ${macReductions.map((x) => `${x.toFixed(1)}x`).join(', ')} fewer; test accuracy change vs dense: ${drops.map((d) => `${(-d).toFixed(2)}`).join(', ')} points.`,
  '',
  '## Training speed (late exit, dense)',
  `${timing.steps} steps per epoch: ${timing.epochS.toFixed(3)} s per epoch (batch selection, forward+backward, Adam, validation) vs ${timing.bareS.toFixed(3)} s for the same forward+backward and validation passes in bare ONNX Runtime: ${overhead.toFixed(2)}x.`,
  '',
  `## Distorted inputs (tau ${tau}, calibrated, ${distortSamples} test images) and the POPEX partition`,
  `Edge ${setups[0]!.device}, server ${setups[0]!.server}; links ${links.join(', ')} (TCP). Best partition and E[T] per link; without exits: ${links.map((l, i) => `${l} ${where(noExits[i]!)} at ${noExits[i]!.expectedMs.toFixed(1)} ms`).join(', ')}. Cuts: ${cuts.map((c) => `#${c.index} = ${short(c.id)}`).join(', ')}.`,
  '',
  `| distortion | ${r.exits.map((_, i) => `exit ${i} %`).join(' | ')} | early % | ${r.exits.map((_, i) => `acc ${i} %`).join(' | ')} | overall % | full model % | ${links.map((l) => `${l}: cut, E[T] ms`).join(' | ')} |`,
  `|---|${Array(2 * r.exits.length + 3 + links.length).fill('---:').join('|')}|`,
  ...robust.map((x) => `| ${x.distortion} | ${x.rates.map(pct).join(' | ')} | ${pct(x.rates.reduce((p, q) => p + q, 0))} | ${x.exitAccuracy.map(pct).join(' | ')} | ${pct(x.accuracy)} | ${pct(x.fullModelAccuracy)} | ${x.partition!.map((p) => `${where(p)}, ${p.expectedMs.toFixed(1)}`).join(' | ')} |`),
];
const dir = join(PACKAGE_ROOT, 'docs', 'exits');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `${model}.md`), `${lines.join('\n')}\n`);
const strip = (x: ExitsResult) => ({ ...x, exits: x.exits.map((e) => ({ ...e, training: { ...e.training, history: e.training.history.map((h) => ({ epoch: h.epoch, loss: h.loss, valAccuracy: h.valAccuracy })) } })) });
writeFileSync(join(dir, `${model}.json`), `${JSON.stringify({ model, date: started.toISOString(), dense: strip(r), sparse: strip(s), timing, robustness: robust, popexWithoutExits: noExits }, null, 1)}\n`);
const points = (['uncalibrated', 'calibrated'] as const).flatMap((series) => r.sweeps.softmax[series].map((x) => ({ series, threshold: x.policy.thresholds[0]!, earlyShare: earlyShare(x), accuracy: x.accuracy })));
writeFileSync(join(dir, `${model}-tradeoff.svg`), await renderSvg(exitTradeOffSpec(`${model}: early exits, accuracy vs samples leaving early`, points, r.finalAccuracy)));
const bins = r.exits.flatMap((e, k) => (['before', 'after'] as const).flatMap((when) => e.reliability[when].filter((b) => b.count > 0).map((b) => ({ panel: `exit ${k} (${short(e.cut)})`, series: when === 'before' ? 'uncalibrated' : 'calibrated', confidence: b.confidence, accuracy: b.accuracy, count: b.count }))));
writeFileSync(join(dir, `${model}-reliability.svg`), await renderSvg(reliabilitySpec(`${model}: reliability before and after temperature scaling`, bins)));

console.log(lines.join('\n'));
const headline = {
  bench: 'exits',
  model,
  train_overhead_ratio: Number(overhead.toFixed(3)),
  sparse_weight_reduction: Number(Math.min(...reductions).toFixed(2)),
  sparse_accuracy_drop_points: Number(Math.max(...drops).toFixed(2)),
  full_accuracy: Number(r.finalAccuracy.toFixed(4)),
  best_early_share_within_1pt: r.bestTradeOff ? Number(r.bestTradeOff.earlyShare.toFixed(4)) : null,
  ece_before: r.exits.map((e) => Number(e.ece.before.toFixed(4))),
  ece_after: r.exits.map((e) => Number(e.ece.after.toFixed(4))),
  accuracy_at_tau: { uncalibrated: Number(a.uncalibrated.accuracy.toFixed(4)), calibrated: Number(a.calibrated.accuracy.toFixed(4)) },
};
console.log(JSON.stringify(headline));
