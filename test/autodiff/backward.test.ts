import { describe, expect, it } from 'vitest';
import { buildBackwardGraph, OUTPUT_GRAD_INPUT, TARGETS_INPUT } from '../../src/autodiff/backward.js';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { syntheticFeeds } from '../../src/graph/probe.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { chain, residual, unknownOp, weights } from '../helpers/models.js';

const targets = (...t: number[]): Tensor => ({ dtype: DataType.INT64, dims: [t.length], data: BigInt64Array.from(t.map(BigInt)) });
const batchFeeds = async (model: Parameters<typeof analyzeModel>[0], n: number) => {
  const g = await analyzeModel(model);
  return syntheticFeeds(new Map([...g.inputShapes].map(([k, v]) => [k, { ...v, shape: [n, ...v.shape.slice(1)] }])), 3);
};
async function runModel(proto: Parameters<typeof createSession>[0], feeds: Record<string, Tensor>) {
  const s = await createSession(proto, '.');
  try {
    return await run(s, feeds);
  } finally {
    await s.release();
  }
}
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  expect(Math.sqrt(diff / Math.max(norm, 1e-30))).toBeLessThan(tol);
};

describe('buildBackwardGraph', () => {
  it('names the op and the node it cannot differentiate, before building anything', async () => {
    const g = await analyzeModel(unknownOp());
    expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'seed' })).toThrow(/cannot differentiate the model: no gradient rule for op Det \(node 'det'\)/);
    // tensors after the unsupported node differentiate fine
    expect(() => buildBackwardGraph(g, { wrt: ['det'], objective: 'seed' })).not.toThrow();
  });

  it('rejects unknown tensors, non-float tensors and objectives that need class logits', async () => {
    const g = await analyzeModel(chain());
    expect(() => buildBackwardGraph(g, { wrt: ['nope'] })).toThrow(/'nope' is not a tensor/);
    const u = await analyzeModel(unknownOp());
    expect(() => buildBackwardGraph(u, { wrt: ['x'] })).toThrow(/needs an output of shape \[batch, classes\]/);
  });

  it('gives the gradient of an intermediate tensor equal to the input gradient of the tail after it', async () => {
    const model = residual();
    const g = await analyzeModel(model);
    const feeds = await batchFeeds(model, 3);
    const r = (await runModel(g.proto, feeds)).y!;
    const full = buildBackwardGraph(g, { wrt: ['a', 'x'], objective: 'seed' });
    const got = await runModel(full.proto, { ...feeds, [OUTPUT_GRAD_INPUT]: r });
    // the tail of cut 'a' takes a as its input: its input gradient must be the same tensor
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g), 'a')]);
    const head = await runModel(parts[0]!.proto, feeds);
    const tailGraph = await analyzeModel(inMemoryModel(parts[1]!.proto));
    const tail = buildBackwardGraph(tailGraph, { wrt: ['a'], objective: 'seed' });
    const want = await runModel(tail.proto, { a: head.a!, [OUTPUT_GRAD_INPUT]: r });
    close(got['a::grad']!.data as Float32Array, want['a::grad']!.data as Float32Array);
    expect(got['x::grad']!.dims).toEqual([3, 2, 6, 6]);
  });

  it("holds Clip's bounds constant: a bound computed from x (ReduceMax) passes no gradient back to x", async () => {
    // y = Clip(x, max(x) - 1): a log-mel front end's top-dB floor; dy/dx is 1 above the floor, 0 where clipped
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 4]);
    b.op('ReduceMax', ['x'], { keepdims: 0 }, { output: 'top' });
    b.op('Sub', ['top', b.constant('float32', [], [1])], {}, { output: 'floor' });
    b.op('Clip', ['x', 'floor'], {}, { output: 'y' });
    b.output('y');
    const g = await analyzeModel(inMemoryModel(b.build()));
    const x: Tensor = { dtype: DataType.FLOAT, dims: [2, 4], data: Float32Array.from([3, 2.5, 1.2, 0.5, 2.9, 2.2, 1.9, -1]) };
    const seed: Tensor = { dtype: DataType.FLOAT, dims: [2, 4], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) };
    const out = await runModel(buildBackwardGraph(g, { wrt: ['x'], objective: 'seed' }).proto, { x, [OUTPUT_GRAD_INPUT]: seed });
    // the floor is 3 - 1 = 2: x above it passes its seed, the rest 0 (through the floor, x[0] would also get 3 + 4)
    expect(Array.from(out['x::grad']!.data as Float32Array)).toEqual([1, 2, 0, 0, 5, 6, 0, 0]);
  });

  it('differentiates initializers (weights) like inputs', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 4]);
    b.input('w', 'float32', [4, 3]);
    b.op('MatMul', ['x', 'w'], {}, { output: 'y' });
    b.output('y');
    const asInput = await analyzeModel(inMemoryModel(b.build()));
    const c = new ModelBuilder();
    c.input('x', 'float32', ['batch', 4]);
    const w = weights(c, 'w', [4, 3], 1);
    c.op('MatMul', ['x', w], {}, { output: 'y' });
    c.output('y');
    const asWeight = await analyzeModel(inMemoryModel(c.build()));
    const x: Tensor = { dtype: DataType.FLOAT, dims: [2, 4], data: Float32Array.from([1, 2, 3, 4, -1, 0, 2, 1]) };
    const wValue = (asWeight.initializers.get('w')!);
    const wTensor: Tensor = { dtype: DataType.FLOAT, dims: [4, 3], data: new Float32Array(wValue.rawData!.buffer.slice(wValue.rawData!.byteOffset, wValue.rawData!.byteOffset + 48)) };
    const seed: Tensor = { dtype: DataType.FLOAT, dims: [2, 3], data: Float32Array.from([1, -1, 2, 0.5, 0, 1]) };
    const a = await runModel(buildBackwardGraph(asInput, { wrt: ['w'], objective: 'seed' }).proto, { x, w: wTensor, [OUTPUT_GRAD_INPUT]: seed });
    const bw = await runModel(buildBackwardGraph(asWeight, { wrt: ['w'], objective: 'seed' }).proto, { x, [OUTPUT_GRAD_INPUT]: seed });
    close(bw['w::grad']!.data as Float32Array, a['w::grad']!.data as Float32Array);
    // x^T seed, by hand for one entry: dW[0][0] = 1*1 + (-1)*0.5
    expect((bw['w::grad']!.data as Float32Array)[0]).toBeCloseTo(0.5, 5);
  });

  it('cross-entropy: outputs the mean loss and its gradient (softmax - onehot) / N', async () => {
    const model = chain();
    const g = await analyzeModel(model);
    const feeds = await batchFeeds(model, 2);
    const bwd = buildBackwardGraph(g, { wrt: ['y'], objective: 'cross-entropy' });
    const out = await runModel(bwd.proto, { ...feeds, [TARGETS_INPUT]: targets(1, 4) });
    const logits = out.y!.data as Float32Array;
    const grad = out['y::grad']!.data as Float32Array;
    let loss = 0;
    [1, 4].forEach((t, n) => {
      const row = Array.from(logits.subarray(n * 5, n * 5 + 5));
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      loss += (Math.log(z) - row[t]!) / 2;
      row.forEach((v, k) => expect(grad[n * 5 + k]).toBeCloseTo((Math.exp(v) / z - (k === t ? 1 : 0)) / 2, 5));
    });
    expect((out[bwd.lossOutput!]!.data as Float32Array)[0]).toBeCloseTo(loss, 5);
  });

  it('explains the predicted class when asked, and reports it', async () => {
    const model = chain();
    const g = await analyzeModel(model);
    const feeds = await batchFeeds(model, 3);
    const bwd = buildBackwardGraph(g, { wrt: ['y'], targets: 'predicted' });
    const out = await runModel(bwd.proto, feeds);
    const logits = out.y!.data as Float32Array;
    const used = Array.from(out[bwd.targetsOutput!]!.data as BigInt64Array, Number);
    used.forEach((t, n) => {
      const row = Array.from(logits.subarray(n * 5, n * 5 + 5));
      expect(t).toBe(row.indexOf(Math.max(...row)));
      expect(Array.from((out['y::grad']!.data as Float32Array).subarray(n * 5, n * 5 + 5))).toEqual(row.map((_, k) => (k === t ? 1 : 0)));
    });
  });

  it('gives zeros and reports tensors the objective does not depend on', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 3]);
    b.op('Relu', ['x'], {}, { output: 'y' });
    b.op('Neg', ['x'], {}, { output: 'side' });
    b.output('y');
    b.output('side');
    const g = await analyzeModel(inMemoryModel(b.build()));
    const bwd = buildBackwardGraph(g, { wrt: ['x', 'side'], objective: 'seed' });
    expect(bwd.unreachable).toEqual(['side']);
    const out = await runModel(bwd.proto, { x: { dtype: DataType.FLOAT, dims: [1, 3], data: Float32Array.from([1, -1, 2]) }, [OUTPUT_GRAD_INPUT]: { dtype: DataType.FLOAT, dims: [1, 3], data: Float32Array.from([5, 5, 5]) } });
    expect(Array.from(out['side::grad']!.data as Float32Array)).toEqual([0, 0, 0]);
    expect(Array.from(out['x::grad']!.data as Float32Array)).toEqual([5, 0, 5]);
  });
});
