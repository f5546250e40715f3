/**
 * bench:bottleneck — the ground truth of the I-SPLIT claim: a 1/64 bottleneck trained (backbone frozen) at every
 * candidate of zoo models (their block outputs, as timings_h100_cpu16.json names them), with two seeds, on a
 * Fashion-MNIST training subsample. Prints the trained accuracy per candidate, the seed-to-seed Spearman (the noise
 * ceiling) and the Spearman of depth alone and of the CUI against the trained accuracy; writes the ground truth to
 * bench/data/bottleneck-truth.json (model -> candidate tensor -> {depth, acc per seed, bytes}) after every
 * candidate. Then one training step (cached head features, forward + backward through the frozen tail to the
 * bottleneck, Adam) against PyTorch CPU autograd doing the same step on the same graph and threads. The last line's
 * bytes_ratio is bench:bottleneck-bytes's (bench/data/bottleneck-bytes.json).
 *
 *   npm run bench:bottleneck -- [--models mobilenet_v2,resnet50] [--train 600] [--test 500] [--epochs 4]
 *     [--seeds 1,2] [--batch 16] [--lr 5e-3] [--threads 2] [--only 17,11,5] [--cui-samples 200] [--skip-torch]
 *     [--step-only] [--step-cut TENSOR] [--step-batch 32]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gradientName, LOSS_OUTPUT } from '../src/autodiff/backward.js';
import { adamStep, BATCH_ROWS } from '../src/autodiff/training.js';
import { designBottleneck, initParams } from '../src/bottlenecks/design.js';
import { cacheFeatures } from '../src/bottlenecks/features.js';
import { trainBottleneck } from '../src/bottlenecks/pipeline.js';
import { bottleneckedTail, CUT_INPUT, trainingModel } from '../src/bottlenecks/train.js';
import { findCuts, resolveCut } from '../src/cuts/cuts.js';
import { openDataset, subsetDataset } from '../src/data/dataset.js';
import { splitModel } from '../src/export/split.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { tensorLayout } from '../src/graph/layout.js';
import { tensor } from '../src/graph/graph.js';
import { DataType } from '../src/onnx/dtype.js';
import { loadModel, saveModel } from '../src/onnx/io.js';
import type { Tensor } from '../src/onnx/tensor.js';
import { createSession, run } from '../src/ort/session.js';
import { runSaliency } from '../src/saliency/dataset-saliency.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { median, spearman } from '../src/util/stats.js';
import { arg, machine, pad, ZOO } from './common.js';

const PYTHON = '/usr/bin/python3';
const TRUTH = join(PACKAGE_ROOT, 'bench', 'data', 'bottleneck-truth.json');

interface Truth {
  depth: number;
  acc: number[];
  bytes: number;
  elementsRatio: number;
  fullAcc: number;
  epochs: number[];
}

const models = arg('models', 'mobilenet_v2,resnet50').split(',');
const trainCount = Number(arg('train', '600'));
const testCount = Number(arg('test', '500'));
const epochs = Number(arg('epochs', '4'));
const seeds = arg('seeds', '1,2').split(',').map(Number);
const threads = Number(arg('threads', '2'));
const only = arg('only', '') ? arg('only', '').split(',').map(Number) : undefined;
const cuiSamples = Number(arg('cui-samples', '200'));
const learningRate = Number(arg('lr', '5e-3'));
const batchSize = Number(arg('batch', '16'));

/** The I-SPLIT candidates of a zoo model: its block outputs, in depth order. */
function candidates(model: string): string[] {
  const timings = JSON.parse(readFileSync(join(ZOO, 'timings_h100_cpu16.json'), 'utf8')) as { models: Record<string, { points: { onnx_tensor: string }[] }> };
  return timings.models[model]!.points.map((p) => p.onnx_tensor);
}

function readTruth(): Record<string, Record<string, Truth>> {
  return existsSync(TRUTH) ? JSON.parse(readFileSync(TRUTH, 'utf8')) : {};
}

/** bytes_ratio as bench:bottleneck-bytes last measured it (bench/data/bottleneck-bytes.json), or null. */
function bytesRatio(): number | null {
  const file = join(PACKAGE_ROOT, 'bench', 'data', 'bottleneck-bytes.json');
  return existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { bytes_ratio: number | null }).bytes_ratio ?? null) : null;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

async function groundTruth(model: string): Promise<{ cui: number; depth: number; ceiling: number }> {
  const g = await analyzeModel(loadModel(join(ZOO, `${model}.onnx`)));
  const numbered = findCuts(g);
  const train = subsetDataset(openDataset('fashion-mnist:train'), [...Array(trainCount).keys()], `fashion-mnist train (first ${trainCount})`);
  const test = subsetDataset(openDataset('fashion-mnist'), [...Array(testCount).keys()], `fashion-mnist test (first ${testCount})`);
  const names = candidates(model);
  const truth = readTruth();
  truth[model] ??= {};
  console.log(`\n${model}: ${names.length} candidates, ${trainCount} training images (10 % validate), ${testCount} test images, ${epochs} epochs max, batch ${batchSize}, Adam ${learningRate}, seeds ${seeds.join(',')}, ${threads} threads`);
  console.log(`${pad('#', 3)} ${pad('tensor', 52)} ${pad('shape', 14)} ${seeds.map((s) => pad(`acc s${s}`, 8)).join(' ')} ${pad('bytes', 7)} ${pad('s', 6)}`);
  // --only gives the candidates and their order (e.g. the cheap deep ones first, so a cut-off run keeps the most)
  for (const depth of only ?? [...names.keys()]) {
    const name = names[depth]!;
    const t0 = performance.now();
    const cut = resolveCut(g, numbered, name);
    const runs = [];
    for (const seed of seeds) runs.push(await trainBottleneck(g, cut, { train, test }, { seed, epochs, threads, patience: 2, calibrationSamples: 64, learningRate, batchSize }));
    truth[model]![name] = { depth, acc: runs.map((r) => r.quality.value), bytes: runs[0]!.bytesPerSample, elementsRatio: runs[0]!.elementsRatio, fullAcc: runs[0]!.fullQuality.value, epochs: runs.map((r) => r.epochs) };
    mkdirSync(join(PACKAGE_ROOT, 'bench', 'data'), { recursive: true });
    writeFileSync(TRUTH, `${JSON.stringify(truth, null, 1)}\n`);
    console.log(`${pad(depth, 3)} ${pad(name.slice(-52), 52)} ${pad(tensor(g, name).shape.slice(1).join('x'), 14)} ${runs.map((r) => pad((100 * r.quality.value).toFixed(1), 8)).join(' ')} ${pad(runs[0]!.bytesPerSample.toFixed(0), 7)} ${pad(((performance.now() - t0) / 1000).toFixed(0), 6)}`);
  }
  const done = names.filter((n) => truth[model]![n]);
  const accs = done.map((n) => truth[model]![n]!.acc);
  const meanAcc = accs.map((a) => a.reduce((x, y) => x + y, 0) / a.length);
  const saliency = await runSaliency(g, test, { layers: done, samples: cuiSamples, threads });
  const cui = done.map((n) => saliency.curve.find((p) => p.layer === n)!.cui);
  const result = { cui: spearman(cui, meanAcc), depth: spearman(done.map((n) => truth[model]![n]!.depth), meanAcc), ceiling: accs[0]!.length > 1 ? spearman(accs.map((a) => a[0]!), accs.map((a) => a[1]!)) : NaN };
  console.log(`${model}: Spearman with the trained accuracy over ${done.length} candidates — CUI ${fmt(result.cui)}, depth ${fmt(result.depth)}, seed-to-seed ceiling ${fmt(result.ceiling)}`);
  return result;
}

/** Median seconds of one training step, ours and PyTorch's, at the given cut of a model. */
async function stepRatio(model: string, name: string, batch: number): Promise<{ ours: number; torch: number | null; losses: number[][] }> {
  const g = await analyzeModel(loadModel(join(ZOO, `${model}.onnx`)));
  const cut = resolveCut(g, findCuts(g), name);
  const d = designBottleneck(tensor(g, name).shape, tensorLayout(g, name));
  const tail = splitModel(g, [cut]).parts[1]!.proto;
  const data = subsetDataset(openDataset('fashion-mnist:train'), [...Array(batch).keys()]);
  const f = await cacheFeatures(g, name, data, [...Array(batch).keys()]);
  const m = await trainingModel(d, tail, name, 'ce', batch, g.model.dir);
  const session = await createSession(m.proto, g.model.dir, { threads });
  const values = initParams(d, 1);
  const moments = new Map(d.params.map((p) => [p.name, [new Float32Array(values.get(p.name)!.length), new Float32Array(values.get(p.name)!.length)] as const]));
  const feeds: Record<string, Tensor> = {
    'train::inputs': { dtype: DataType.FLOAT, dims: [batch, ...d.shape.slice(1)], data: f.x },
    'train::targets': { dtype: DataType.INT64, dims: [batch], data: BigInt64Array.from(f.labels!, (y) => BigInt(y)) },
    [BATCH_ROWS]: { dtype: DataType.INT32, dims: [batch], data: Int32Array.from({ length: batch }, (_, i) => i) },
  };
  const times: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i <= 5; i++) {
    const t0 = performance.now();
    for (const p of d.params) feeds[p.name] = { dtype: DataType.FLOAT, dims: p.shape, data: values.get(p.name)! };
    const out = await run(session, feeds);
    losses.push((out[LOSS_OUTPUT]!.data as Float32Array)[0]!);
    for (const p of d.params) adamStep(values.get(p.name)!, out[gradientName(p.name)]!.data as Float32Array, moments.get(p.name)![0], moments.get(p.name)![1], 1e-3, i + 1);
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  await session.release();
  if (process.argv.includes('--skip-torch') || spawnSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status !== 0) return { ours: median(times), torch: null, losses: [losses] };
  // the same graph PyTorch runs: bottleneck (batch-statistics BatchNorm) + frozen tail, weights as inputs
  const dir = mkdtempSync(join(tmpdir(), 'bench-bottleneck-'));
  saveModel({ proto: bottleneckedTail(d, tail, name, 'train', false, batch).proto, dir: g.model.dir }, join(dir, 'model.onnx'));
  writeFileSync(join(dir, 'x.f32'), f.x);
  writeFileSync(join(dir, 'params.json'), JSON.stringify(Object.fromEntries(d.params.map((p) => [p.name, { shape: p.shape, values: [...initParams(d, 1).get(p.name)!] }]))));
  const out = execFileSync(PYTHON, [join(PACKAGE_ROOT, 'bench', 'torch_bottleneck_step.py'), join(dir, 'model.onnx'), '--inputs', join(dir, 'x.f32'), '--input-name', CUT_INPUT, '--shape', [batch, ...d.shape.slice(1)].join(','), '--labels', [...f.labels!].join(','), '--params', join(dir, 'params.json'), '--threads', String(threads), '--repeats', '5'], { maxBuffer: 1 << 24 }).toString().trim().split('\n').pop()!;
  const torch = JSON.parse(out) as { median_s: number; losses: number[] };
  return { ours: median(times), torch: torch.median_s, losses: [losses, torch.losses] };
}

async function main(): Promise<void> {
  console.log(`bench:bottleneck  ${new Date().toISOString()}  ${machine()}  node ${process.version}`);
  const spearmans: Record<string, { cui: number; depth: number; ceiling: number }> = {};
  if (!process.argv.includes('--step-only')) for (const m of models) spearmans[m] = await groundTruth(m);
  const stepCut = arg('step-cut', candidates('mobilenet_v2')[10]!);
  const step = await stepRatio('mobilenet_v2', stepCut, Number(arg('step-batch', '32')));
  console.log(`loss per step (the same step on both sides): ${step.losses.map((l) => l.map((x) => x.toFixed(4)).join(' ')).join('  |  PyTorch ')}`);
  console.log(`\none training step at ${stepCut} of mobilenet_v2, batch ${arg('step-batch', '32')}, ${threads} threads: impera ${(1000 * step.ours).toFixed(0)} ms, PyTorch ${step.torch === null ? 'n/a' : (1000 * step.torch).toFixed(0) + ' ms'}`);
  const round = (x: number) => (Number.isFinite(x) ? +x.toFixed(3) : null);
  console.log(JSON.stringify({ bench: 'bottleneck', spearman: Object.fromEntries(Object.entries(spearmans).map(([m, s]) => [m, { cui: round(s.cui), depth: round(s.depth), ceiling: round(s.ceiling) }])), bytes_ratio: bytesRatio(), step_ratio: step.torch === null ? null : round(step.ours / step.torch) }));
}

await main();
