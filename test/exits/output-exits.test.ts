/**
 * Exits that predict a model's output when it is not class scores: on tiny models built here — a detector-like
 * probability map whose feature map is half its size (the exit resizes), and CTC-like sequence probabilities whose
 * steps are half the feature's width (the exit resamples) — the branch distilled to the full model loses less as it
 * trains and ends closer to the full model (relative L2, task/fidelity.ts) than the same branch untrained; the exported
 * exit run in ONNX Runtime matches the training graph's own forward; the confidences and the tau calibration match
 * closed forms; and an output without an activation has no confidence, so asking for a tau policy is refused in one line.
 */
import { describe, expect, it } from 'vitest';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import type { Dataset } from '../../src/data/dataset.js';
import { initParams } from '../../src/exits/branch.js';
import { classScores, extractFeatures } from '../../src/exits/features.js';
import { distillationModel, hasClassScores, makeOutputBranch, outputBranchModel, priorBias, outputTarget, PREDICTION, ALL_TEACHER, type OutputTarget } from '../../src/exits/output-branch.js';
import { trainOutputExits } from '../../src/exits/output-pipeline.js';
import { applyTau, calibrateTau, confidences } from '../../src/exits/output-policy.js';
import { ALL_FEATURES, tensorOf } from '../../src/exits/train.js';
import { BATCH_ROWS } from '../../src/autodiff/training.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { tensorLayout } from '../../src/graph/layout.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel, loadModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';
import { relL2 } from '../../src/task/fidelity.js';
import { seededRandom } from '../../src/util/random.js';
import { weights } from '../helpers/models.js';

const conv = (b: ModelBuilder, x: string, cin: number, cout: number, seed: number, k: number, strides = [1, 1]) =>
  b.op('Conv', [x, weights(b, `w${seed}`, [cout, cin, k, k], seed), weights(b, `b${seed}`, [cout], seed + 1)], { kernel_shape: [k, k], strides, pads: new Array(4).fill((k - 1) / 2) });

/** x [N, 3, 16, 16] -> stride-2 conv, ReLU ('feat' [N, 6, 8, 8]) -> 3x3 conv -> 1x1 conv -> x2 Resize -> Sigmoid: 'map' [N, 1, 16, 16]. */
function detector(): ReturnType<typeof inMemoryModel> {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 16, 16]);
  const feat = b.op('Relu', [conv(b, 'x', 3, 6, 1, 3, [2, 2])], {}, { output: 'feat' });
  const h = b.op('Relu', [conv(b, feat, 6, 6, 3, 3)]);
  const up = b.op('Resize', [conv(b, h, 6, 1, 5, 1), '', b.initializer('scales', 'float32', [4], Float32Array.of(1, 1, 2, 2))], { mode: 'linear' });
  b.op('Sigmoid', [b.op('Mul', [up, b.initializer('gain', 'float32', [], Float32Array.of(4))])], {}, { output: 'map' });
  b.output('map', 'float32', ['batch', 1, 16, 16]);
  return inMemoryModel(b.build(), 'detector');
}

/** x [N, 3, 8, 16] -> conv, ReLU ('feat' [N, 6, 8, 16]) -> stride-2 conv -> mean over H -> 1x1 conv to 5 tokens -> [N, 8, 5] -> Softmax. */
function recognizer(): ReturnType<typeof inMemoryModel> {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 8, 16]);
  const feat = b.op('Relu', [conv(b, 'x', 3, 6, 1, 3)], {}, { output: 'feat' });
  const h = b.op('ReduceMean', [b.op('Relu', [conv(b, feat, 6, 6, 3, 3, [2, 2])])], { axes: [2], keepdims: 1 });
  const logits = b.op('Mul', [conv(b, h, 6, 5, 5, 1), b.initializer('gain', 'float32', [], Float32Array.of(6))]);
  const seq = b.op('Squeeze', [b.op('Transpose', [logits], { perm: [0, 2, 3, 1] }), b.initializer('axis', 'int64', [1], BigInt64Array.of(1n))]);
  b.op('Softmax', [seq], { axis: 2 }, { output: 'probs' });
  b.output('probs', 'float32', ['batch', 8, 5]);
  return inMemoryModel(b.build(), 'recognizer');
}

/** x [N, 3, 8, 8] -> conv, ReLU ('feat') -> GAP -> Flatten -> MatMul -> [N, 4, 1, 1]: an embedding with no activation after it. */
function embedder(): ReturnType<typeof inMemoryModel> {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 8, 8]);
  const feat = b.op('Relu', [conv(b, 'x', 3, 6, 1, 3)], {}, { output: 'feat' });
  const e = b.op('MatMul', [b.op('Flatten', [b.op('GlobalAveragePool', [feat])]), weights(b, 'proj', [6, 4], 7)]);
  b.op('Unsqueeze', [e, b.initializer('axes', 'int64', [2], BigInt64Array.of(2n, 3n))], {}, { output: 'embedding' });
  b.output('embedding', 'float32', ['batch', 4, 1, 1]);
  return inMemoryModel(b.build(), 'embedder');
}

/** `size` seeded inputs of `dims` (per sample), unlabelled. */
function noise(size: number, dims: number[], seed: number): Dataset {
  const per = dims.reduce((a, c) => a * c, 1);
  const rand = seededRandom(seed);
  const x = Float32Array.from({ length: size * per }, () => rand() * 2 - 1);
  return {
    name: 'noise',
    size,
    classes: [],
    labelled: false,
    label: () => {
      throw new Error('no labels');
    },
    load: () => new Float32Array(0),
    feeds: (idx) => ({ x: { dtype: DataType.FLOAT, dims: [idx.length, ...dims], data: Float32Array.from(idx.flatMap((i) => [...x.subarray(i * per, (i + 1) * per)])) } }),
  };
}

/** Mean relative L2 error of the exit (weights `values`) against the full model on `count` test samples. */
async function meanRelL2(g: Graph, target: OutputTarget, b: Parameters<typeof outputBranchModel>[0], values: Map<string, Float32Array>, test: Dataset): Promise<number> {
  const idx = [...Array(test.size).keys()];
  const f = await extractFeatures(g, ['feat'], test, idx, { maps: [target.kind !== 'vector'], anyOutput: true });
  const s = await createSession(outputBranchModel(b, values), '.');
  const out = (await run(s, { [b.input.name]: tensorOf(f.features[0]!, [f.count, ...(b.input.dims.slice(1) as number[])]) }))[PREDICTION]!.data as Float32Array;
  await s.release();
  let sum = 0;
  for (let n = 0; n < f.count; n++) sum += relL2(out.subarray(n * f.classes, (n + 1) * f.classes), f.logits.subarray(n * f.classes, (n + 1) * f.classes));
  return sum / f.count;
}

describe.each([
  { name: 'probability map', model: detector, dims: [3, 16, 16], kind: 'map', activation: 'sigmoid', metric: 'map-iou' },
  { name: 'sequence probabilities', model: recognizer, dims: [3, 8, 16], kind: 'sequence', activation: 'softmax', metric: 'sequence-agreement' },
])('an exit predicting a $name', ({ model, dims, kind, activation, metric }) => {
  it('reads the output and its activation from the graph', async () => {
    const t = outputTarget(await analyzeModel(model()));
    expect([t.kind, t.activation]).toEqual([kind, activation]);
  });

  it('trains by distillation: the loss falls and it ends closer to the full model than untrained; the report names the metric', async () => {
    const g = await analyzeModel(model());
    const cut = resolveCut(g, findCuts(g), 'feat');
    const { result, branches, values } = await trainOutputExits(g, [cut], { train: noise(240, dims, 1), test: noise(40, dims, 2) }, { maxEpochs: 12, batchSize: 16, learningRate: 1e-2, patience: 12 });
    const h = result.exits[0]!.training.history;
    expect(h[h.length - 1]!.loss).toBeLessThan(0.95 * h[0]!.loss);
    expect(result.metric.name).toBe(metric);
    expect(result.exits[0]!.test.metric).toBe(metric);
    const target = outputTarget(g);
    const [trained, untrained] = [await meanRelL2(g, target, branches[0]!, values[0]!, noise(40, dims, 2)), await meanRelL2(g, target, branches[0]!, initParams(branches[0]!, 1), noise(40, dims, 2))];
    expect(trained).toBeLessThan(0.85 * untrained);
    // a tau policy: per tau the share leaving early, the metric on exited samples and overall
    expect('sweep' in result.policy && result.policy.sweep.length).toBeGreaterThan(0);
  });

  it('exported as ONNX, runs in ONNX Runtime and matches the training graph\'s forward', async () => {
    const g = await analyzeModel(model());
    const cut = resolveCut(g, findCuts(g), 'feat');
    const target = outputTarget(g);
    const data = noise(8, dims, 3);
    const f = await extractFeatures(g, ['feat'], data, [...Array(8).keys()], { maps: [true], anyOutput: true });
    const b = makeOutputBranch(target, 'exit0', g.tensors.get('feat')!.shape, tensorLayout(g, 'feat'));
    expect(cut.tensors).toEqual(['feat']);
    const values = initParams(b, 4);
    const trainer = await createSession(await distillationModel(b), '.');
    const feeds = {
      [ALL_FEATURES]: tensorOf(f.features[0]!, [8, ...(b.input.dims.slice(1) as number[])]),
      [ALL_TEACHER]: tensorOf(f.logits, [8, ...target.shape.slice(1)]),
      [BATCH_ROWS]: { dtype: DataType.INT32, dims: [8], data: Int32Array.from([...Array(8).keys()]) },
      ...Object.fromEntries(b.params.map((p) => [p.name, tensorOf(values.get(p.name)!, p.shape)])),
    };
    const z = (await run(trainer, feeds))[PREDICTION]!.data as Float32Array;
    await trainer.release();
    const exported = await createSession(outputBranchModel(b, values), '.');
    const y = (await run(exported, { [b.input.name]: feeds[ALL_FEATURES]! }))[PREDICTION]!.data as Float32Array;
    await exported.release();
    const expected = activation === 'sigmoid' ? Array.from(z, (v) => 1 / (1 + Math.exp(-v))) : softmaxRows(z, target.shape[2]!);
    expect(y.length).toBe(8 * f.classes);
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(expected[i]!, 5);
  });
});

function softmaxRows(z: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < z.length / k; r++) {
    const row = [...z.subarray(r * k, (r + 1) * k)];
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((v) => v / s));
  }
  return out;
}

describe('confidence and tau of exits without class scores', () => {
  const map: OutputTarget = { name: 'map', shape: [1, 1, 1, 4], kind: 'map', activation: 'sigmoid', axis: 1 };
  const seq: OutputTarget = { name: 'probs', shape: [1, 2, 3], kind: 'sequence', activation: 'softmax', axis: 2 };

  it("are a map's mean |2p - 1| and a sequence's mean largest probability per step", () => {
    expect([...confidences(map, Float32Array.of(0.5, 1, 0, 0.75, 0.5, 0.5, 0.5, 0.5), 2)]).toEqual([0.625, 0]);
    const c = confidences(seq, Float32Array.of(0.2, 0.7, 0.1, 0.5, 0.25, 0.25), 1);
    expect(c[0]).toBeCloseTo(0.6, 6); // float32 probabilities
  });

  it("start the output bias at the teacher's mean: log of a Softmax's mean per token, logit of a map's mean per channel", () => {
    // two samples x two steps of three tokens: token means 0.5, 0.3, 0.2
    const probs = Float32Array.of(0.6, 0.3, 0.1, 0.4, 0.3, 0.3, 0.5, 0.2, 0.3, 0.5, 0.4, 0.1);
    expect([...priorBias({ ...seq, shape: [1, 2, 3] }, probs, 2)].map((v) => +v.toFixed(5))).toEqual([0.5, 0.3, 0.2].map((m) => +Math.log(m).toFixed(5)));
    // one sample of two channels x two pixels: channel means 0.5 and 0.8
    const map2: OutputTarget = { ...map, shape: [1, 2, 1, 2] };
    expect([...priorBias(map2, Float32Array.of(0.4, 0.6, 0.9, 0.7), 1)].map((v) => +v.toFixed(5))).toEqual([0, +Math.log(0.8 / 0.2).toFixed(5)]);
  });

  it('calibrate tau to the smallest that keeps the exited samples on target, and count shares and metrics per tau', () => {
    // four samples: confidences 0.9, 0.8, 0.6, 0.3 at one exit, IoU 1, 0.9, 0.5, 0.2 there; the full model scores 1
    const s = { confidence: [Float64Array.of(0.9, 0.8, 0.6, 0.3)], scores: [[1, 0.9, 0.5, 0.2]], fullScores: [1, 1, 1, 1] };
    expect(calibrateTau(s, [0.5, 0.7, 0.85], 0.9, 'higher')).toBe(0.7);
    expect(applyTau(s, 0.7)).toEqual({ tau: 0.7, rates: [0.5], earlyShare: 0.5, exited: 0.95, overall: (1 + 0.9 + 1 + 1) / 4 });
    expect(applyTau(s, 0.95).exited).toBeNull();
    expect(calibrateTau(s, [0.5], 0.99, 'higher')).toBeNull();
  });

  it('do not exist for an embedding: a tau policy is refused in one line, the fidelity still reported', async () => {
    const g = await analyzeModel(embedder());
    const cut = resolveCut(g, findCuts(g), 'feat');
    const data = { train: noise(60, [3, 8, 8], 1), test: noise(10, [3, 8, 8], 2) };
    await expect(trainOutputExits(g, [cut], data, { target: 0.9, maxEpochs: 1 })).rejects.toThrow(/^output 'embedding' \[1, 4, 1, 1\] ends in no Sigmoid or Softmax, so an exit has no confidence of its own to decide when a sample leaves early$/);
    const { result } = await trainOutputExits(g, [cut], data, { maxEpochs: 2, batchSize: 8 });
    expect(result.metric.name).toBe('rel-l2');
    expect('refused' in result.policy).toBe(true);
    expect(result.exits[0]!.test.samples).toBe(10);
  });
});

describe('exits of a model whose output has a data-dependent length', () => {
  it("are refused in one line: a detector's kept boxes [K, 4] are neither class scores of K samples nor an output a branch can predict", async () => {
    const g = await analyzeModel(loadModel(new URL('../fixtures/pytorch-models/detector.onnx', import.meta.url).pathname));
    // rank 2 with 4 columns, as class scores would be
    expect(g.tensors.get('boxes')!.shape).toHaveLength(2);
    expect(hasClassScores(g)).toBe(false);
    expect(() => outputTarget(g)).toThrow(/^an exit predicts the model's output of each sample, and output 'boxes' has a data-dependent length \(as a detector's boxes after NMS\), which no branch of fixed size can predict$/);
    expect(() => classScores(g)).toThrow(/output 'boxes' \[\d+, 4\] is not class scores/);
  });
});
