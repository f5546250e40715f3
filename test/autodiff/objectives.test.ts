/**
 * The objectives beyond the target logit (l2 of an output or part of it, fidelity against the model's own decision,
 * fed output gradients), each checked against central finite differences of the objective computed here in JS from
 * the forward model's outputs (ONNX Runtime), and its value against the same JS formula.
 */
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph, OUTPUT_GRAD_INPUT, type BackwardSpec } from '../../src/autodiff/backward.js';
import { computeGradients } from '../../src/autodiff/gradients.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType, numel } from '../../src/onnx/dtype.js';
import { inMemoryModel, type OnnxModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { randomValues } from './gradcheck.js';
import { weights } from '../helpers/models.js';

/** x [N, 2, 4, 5] -> 1x1 conv to 3 channels -> Sigmoid: a probability map. */
function mapModel(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 2, 4, 5]);
  b.op('Conv', ['x', weights(b, 'w', [3, 2, 1, 1], 1), weights(b, 'b', [3], 2)], { kernel_shape: [1, 1] }, { output: 'z' });
  b.op('Sigmoid', ['z'], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 3, 4, 5]);
  return inMemoryModel(b.build(), 'map');
}

/** x [N, 3, 4] -> MatMul to 6 token scores per step, optionally Softmax: sequence logits or probabilities [N, T, K] (opset 11). */
function sequenceModel(softmax: boolean): OnnxModel {
  const b = new ModelBuilder({ opset: 11 });
  b.input('x', 'float32', ['batch', 3, 4]);
  const z = b.op('MatMul', ['x', weights(b, 'w', [4, 6], 3)], {}, { output: softmax ? 'z' : 'y' });
  if (softmax) b.op('Softmax', [z], { axis: 2 }, { output: 'y' });
  b.output('y', 'float32', ['batch', 3, 6]);
  return inMemoryModel(b.build(), 'sequence');
}

/** x [N, 4] -> Gemm -> class logits [N, 5], and a second output tanh(x) [N, 4]. */
function classModel(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 4]);
  b.op('Gemm', ['x', weights(b, 'w', [4, 5], 4), weights(b, 'b', [5], 5)], {}, { output: 'y' });
  b.op('Tanh', ['x'], {}, { output: 't' });
  b.output('y', 'float32', ['batch', 5]);
  b.output('t', 'float32', ['batch', 4]);
  return inMemoryModel(b.build(), 'classes');
}

/** x [N, 3] -> MatMul -> Sigmoid -> Flatten: one probability per sample [N, 1] (a voice activity score). */
function scoreModel(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3]);
  b.op('MatMul', ['x', weights(b, 'w', [3, 1], 6)], {}, { output: 'z' });
  b.op('Sigmoid', ['z'], {}, { output: 'p' });
  b.op('Flatten', ['p'], { axis: 1 }, { output: 'y' });
  b.output('y', 'float32', ['batch', 1]);
  return inMemoryModel(b.build(), 'score');
}

type Outputs = Record<string, Float32Array>;

/** Forward outputs of `model` at x (float32 data of shape dims). */
async function forward(model: OnnxModel, dims: number[], x: Float32Array): Promise<Outputs> {
  const s = await createSession(model.proto, '.', { optimization: 'disabled' });
  try {
    const out = await run(s, { x: { dtype: DataType.FLOAT, dims, data: x } });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

/**
 * The backward graph's gradient w.r.t. x and its objective value, against central differences of `objective`
 * (JS, from forward outputs) at every element of x. `decide` fixes what the objective compares against (pseudo-labels)
 * at the unperturbed point, as the backward graph does.
 */
async function check<D>(model: OnnxModel, dims: number[], spec: Omit<BackwardSpec, 'wrt'>, decide: (y0: Outputs) => D, objective: (y: Outputs, d: D) => number, extra: Record<string, Tensor> = {}) {
  const g = await analyzeModel(model);
  const bwd = buildBackwardGraph(g, { wrt: ['x'], ...spec });
  const x = Float32Array.from(randomValues(numel(dims), 17, 0.1, 1.5));
  const s = await createSession(bwd.proto, '.', { optimization: 'disabled' });
  const out = await run(s, { x: { dtype: DataType.FLOAT, dims, data: x }, ...extra });
  await s.release();
  const grad = out['x::grad']!.data as Float32Array;
  const d = decide(await forward(model, dims, x));
  const h = 1e-2;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < x.length; i++) {
    const orig = x[i]!;
    x[i] = orig + h;
    const up = objective(await forward(model, dims, x), d);
    x[i] = orig - h;
    const down = objective(await forward(model, dims, x), d);
    x[i] = orig;
    const numeric = (up - down) / (2 * h);
    diff += (grad[i]! - numeric) ** 2;
    norm += numeric ** 2;
  }
  const value = bwd.lossOutput ? (out[bwd.lossOutput]!.data as Float32Array)[0]! : undefined;
  return { error: Math.sqrt(diff / norm), norm: Math.sqrt(norm), value, expected: objective(await forward(model, dims, x), d), out, bwd };
}

const argmaxRows = (y: Float32Array, k: number) => Array.from({ length: y.length / k }, (_, r) => {
  const row = Array.from(y.subarray(r * k, (r + 1) * k));
  return row.indexOf(Math.max(...row));
});

/** Sum over samples of the mean over rows (steps) of -log softmax(row)[label] (logits) or -log row[label] (probabilities). */
function crossEntropy(y: Float32Array, k: number, rowsPerSample: number, labels: number[], probabilities: boolean): number {
  let total = 0;
  labels.forEach((t, r) => {
    const row = Array.from(y.subarray(r * k, (r + 1) * k));
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    total += (probabilities ? -Math.log(row[t]!) : lse - row[t]!) / rowsPerSample;
  });
  return total;
}

describe('objective l2', () => {
  it('is the squared L2 norm of the whole output, summed over the batch', async () => {
    const r = await check(mapModel(), [2, 2, 4, 5], { objective: 'l2' }, () => null, (y) => y.y!.reduce((s, v) => s + v * v, 0));
    expect(r.norm).toBeGreaterThan(0.1);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 3);
  });

  it('of one channel and a region y0:y1,x0:x1 counts only those elements', async () => {
    const inside = (i: number) => {
      const [c, yy, xx] = [Math.floor(i / 20) % 3, Math.floor(i / 5) % 4, i % 5];
      return c === 1 && yy >= 1 && yy < 3 && xx >= 2 && xx < 5;
    };
    const r = await check(mapModel(), [2, 2, 4, 5], { objective: 'l2', select: { channel: 1, region: [[1, 3], [2, 5]] } }, () => null, (y) => y.y!.reduce((s, v, i) => s + (inside(i) ? v * v : 0), 0));
    expect(r.norm).toBeGreaterThan(0.1);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('of a token range and channel of a sequence output [N, T, C]', async () => {
    // steps 1..2 of channel 4 only
    const r = await check(sequenceModel(false), [2, 3, 4], { objective: 'l2', select: { channel: 4, region: [[1, 3]] } }, () => null, (y) => y.y!.reduce((s, v, i) => s + (i % 6 === 4 && Math.floor(i / 6) % 3 >= 1 ? v * v : 0), 0));
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('refuses channels and regions that do not fit the output, in one line each', async () => {
    const g = await analyzeModel(mapModel());
    expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'l2', select: { channel: 3 } })).toThrow(/channel 3 is out of range: 'y' has 3 channels \(0-2\)/);
    expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'l2', select: { region: [[0, 5], [0, 5]] } })).toThrow(/region range 0:5 does not fit axis 2 of 'y' \(size 4\)/);
    expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'l2', select: { region: [[0, 2]] } })).toThrow(/has 2 position axes; the region gives 1 ranges/);
    expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'fidelity', select: { channel: 0 } })).toThrow(/for objective l2, not 'fidelity'/);
  });
});

describe('objective fidelity', () => {
  it('on a probability map: binary cross-entropy against the model’s own map thresholded at 0.5, mean per sample', async () => {
    const bce = (y: Outputs, t: number[]) => y.y!.reduce((s, p, i) => s - (t[i] ? Math.log(p) : Math.log(1 - p)) / 60, 0);
    const r = await check(mapModel(), [2, 2, 4, 5], { objective: 'fidelity' }, (y0) => Array.from(y0.y!, (p) => (p > 0.5 ? 1 : 0)), bce);
    expect(r.norm).toBeGreaterThan(0.01);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('on one Sigmoid score per sample [N, 1]: binary cross-entropy against the score thresholded (not 1-class cross-entropy, always 0)', async () => {
    const bce = (y: Outputs, t: number[]) => y.y!.reduce((s, p, i) => s - (t[i] ? Math.log(p) : Math.log(1 - p)), 0);
    const r = await check(scoreModel(), [4, 3], { objective: 'fidelity' }, (y0) => Array.from(y0.y!, (p) => (p > 0.5 ? 1 : 0)), bce);
    expect(r.norm).toBeGreaterThan(0.01);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('on class scores per pixel [N, C, H, W] (a segmenter\'s conv logits, opset 11): cross-entropy over the channels against each pixel\'s argmax, mean over pixels', async () => {
    const b = new ModelBuilder({ opset: 11 });
    b.input('x', 'float32', ['batch', 2, 4, 5]);
    b.op('Conv', ['x', weights(b, 'w', [3, 2, 1, 1], 1), weights(b, 'b', [3], 2)], { kernel_shape: [1, 1] }, { output: 'y' });
    b.output('y', 'float32', ['batch', 3, 4, 5]);
    const pixels = 20;
    // pixel p of sample n: channel c at n * 60 + c * 20 + p
    const classes = (y: Float32Array) => Array.from({ length: y.length / 3 }, (_, i) => {
      const [n, p] = [Math.floor(i / pixels), i % pixels];
      const row = [0, 1, 2].map((c) => y[n * 60 + c * pixels + p]!);
      return row.indexOf(Math.max(...row));
    });
    const ce = (y: Outputs, t: number[]) => t.reduce((sum, label, i) => {
      const [n, p] = [Math.floor(i / pixels), i % pixels];
      const row = [0, 1, 2].map((c) => y.y![n * 60 + c * pixels + p]!);
      return sum + (Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[label]!) / pixels;
    }, 0);
    const r = await check(inMemoryModel(b.build(), 'segmenter'), [2, 2, 4, 5], { objective: 'fidelity' }, (y0) => classes(y0.y!), ce);
    expect(r.norm).toBeGreaterThan(0.01);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('on a map at another threshold compares against that threshold', async () => {
    const bce = (y: Outputs, t: number[]) => y.y!.reduce((s, p, i) => s - (t[i] ? Math.log(p) : Math.log(1 - p)) / 60, 0);
    const r = await check(mapModel(), [1, 2, 4, 5], { objective: 'fidelity', threshold: 0.7 }, (y0) => Array.from(y0.y!, (p) => (p > 0.7 ? 1 : 0)), bce);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('on sequence logits [N, T, K]: per-step cross-entropy against the greedy decode (opset 11)', async () => {
    const r = await check(sequenceModel(false), [2, 3, 4], { objective: 'fidelity' }, (y0) => argmaxRows(y0.y!, 6), (y, t) => crossEntropy(y.y!, 6, 3, t, false));
    expect(r.norm).toBeGreaterThan(0.01);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('on a Softmax output reads probabilities: -log p[greedy token] per step', async () => {
    const r = await check(sequenceModel(true), [2, 3, 4], { objective: 'fidelity' }, (y0) => argmaxRows(y0.y!, 6), (y, t) => crossEntropy(y.y!, 6, 3, t, true));
    expect(r.norm).toBeGreaterThan(0.01);
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
  });

  it('on class logits [N, K]: cross-entropy against the argmax (pseudo-labels), which it reports', async () => {
    const r = await check(classModel(), [3, 4], { objective: 'fidelity' }, (y0) => argmaxRows(y0.y!, 5), (y, t) => crossEntropy(y.y!, 5, 1, t, false));
    expect(r.error).toBeLessThan(1e-3);
    expect(r.value!).toBeCloseTo(r.expected, 4);
    expect(Array.from(r.out[r.bwd.targetsOutput!]!.data as BigInt64Array, Number)).toEqual(argmaxRows(r.out.y!.data as Float32Array, 5));
  });

  it('refuses outputs that are neither classes, sequences nor maps', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 2, 3, 4, 5]);
    b.op('Sigmoid', ['x'], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 2, 3, 4, 5]);
    const g = await analyzeModel(inMemoryModel(b.build()));
    expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'fidelity' })).toThrow(/objective fidelity needs classes \[N, K\], sequence logits \[N, T, K\] or a map \[N, C, H, W\]; 'y' is \[1,2,3,4,5\]/);
    expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'target-logit' })).toThrow(expect.objectContaining({ hint: 'use objective l2 or fidelity, or feed the output gradient (seed)' }));
  });
});

describe('objective seed (a fed output gradient)', () => {
  it('on several outputs: the gradient of <y, r> + <t, s>, each fed as its own input', async () => {
    const dims = [2, 4];
    const r = Float32Array.from(randomValues(10, 3));
    const s = Float32Array.from(randomValues(8, 4));
    const g = await analyzeModel(classModel());
    const names = buildBackwardGraph(g, { wrt: ['x'], objective: 'seed', outputs: ['y', 't'] }).outputGradInputs!;
    expect([...names]).toEqual([['y', `${OUTPUT_GRAD_INPUT}::y`], ['t', `${OUTPUT_GRAD_INPUT}::t`]]);
    const feeds = { [names.get('y')!]: { dtype: DataType.FLOAT, dims: [2, 5], data: r }, [names.get('t')!]: { dtype: DataType.FLOAT, dims, data: s } };
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((acc, v, i) => acc + v * b[i]!, 0);
    const res = await check(classModel(), dims, { objective: 'seed', outputs: ['y', 't'] }, () => null, (y) => dot(y.y!, r) + dot(y.t!, s), feeds);
    expect(res.error).toBeLessThan(1e-3);
  });

  it('computeGradients feeds outputGrads and reports the objective value of l2', async () => {
    const g = await analyzeModel(classModel());
    const x: Tensor = { dtype: DataType.FLOAT, dims: [1, 4], data: Float32Array.from([0.5, -1, 2, 0.1]) };
    const seeded = await computeGradients(g, { x }, { wrt: ['x'], objective: 'seed', outputGrads: { t: { dtype: DataType.FLOAT, dims: [1, 4], data: Float32Array.from([1, 1, 1, 1]) } } });
    // d/dx sum(tanh(x)) = 1 - tanh(x)^2
    Array.from(seeded.gradients.get('x')!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(1 - Math.tanh((x.data as Float32Array)[i]!) ** 2, 5));
    expect(seeded.targets).toEqual([]);
    const l2 = await computeGradients(g, { x }, { wrt: ['x'], objective: 'l2', output: 't' });
    expect(l2.loss!).toBeCloseTo(Array.from(x.data as Float32Array).reduce((s, v) => s + Math.tanh(v) ** 2, 0), 5);
    await expect(computeGradients(g, { x }, { wrt: ['x'], objective: 'seed' })).rejects.toThrow(/needs the gradient of each output/);
  });
});
