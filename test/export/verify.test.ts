import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import type { ExportedPart } from '../../src/export/extract.js';
import { splitModel } from '../../src/export/split.js';
import { defaultVerifyShapes, mismatchText, referenceOutputs, verifyParts, verifyShapesAt } from '../../src/export/verify.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { batchAxis } from '../../src/graph/graph.js';
import { syntheticFeeds } from '../../src/graph/probe.js';
import { sampleFeeds } from '../../src/data/samples.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel, loadModel } from '../../src/onnx/io.js';
import { onnx } from '../../src/onnx/proto.js';
import { makeTensorProto, readTensor } from '../../src/onnx/tensor.js';
import { chain, dataDependentIf, fcn, PADDLE_OCR, pooledShape } from '../helpers/models.js';

/** The head with its first conv's weights and bias doubled: its output relu(conv(x)) is exactly twice the true one. */
function doubledHead(head: ExportedPart): ExportedPart {
  const g = head.proto.graph!;
  const initializer = g.initializer!.map((t) => {
    const r = readTensor(t, '.');
    return makeTensorProto(t.name!, r.dtype, r.dims, Float32Array.from(r.data as Float32Array, (v) => 2 * v));
  });
  return { ...head, proto: onnx.ModelProto.create({ ...head.proto, graph: { ...g, initializer } }) };
}

describe('verifyParts', () => {
  it('names the first tensor that differs in topological order (the cut tensor before the output), with max abs and relative L2', async () => {
    const g = await analyzeModel(chain());
    const [head, tail] = splitModel(g, [resolveCut(g, findCuts(g), 'r1')]).parts as [ExportedPart, ExportedPart];
    const feeds = syntheticFeeds(new Map([['x', { dtype: 1, shape: [4, 3, 8, 8] }]]), 3);
    const report = await verifyParts(g, [doubledHead(head), tail], feeds);
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => [c.name, c.kind, c.part])).toEqual([
      ['r1', 'cut', 'head'],
      ['y', 'output', 'tail'],
    ]);
    // 2r - r = r: the difference is as large as the tensor, in max and in L2
    expect(report.firstMismatch).toMatchObject({ name: 'r1', relative: 1, relativeL2: 1 });
    expect(report.firstMismatch!.maxAbsDiff).toBe(report.firstMismatch!.maxAbs);
    expect(mismatchText(report)).toMatch(/^the first tensor that differs from the full model is cut tensor 'r1' \(output of head\): max \|diff\| \S+ = 1\.00e\+0 of its largest \|value\|, relative L2 1\.00e\+0, over the tolerance 0\.00001 \(ONNX Runtime optimisations disabled\)$/);
    // given the full model's graph outputs only, it still finds the cut tensor
    const expected = await referenceOutputs(g, feeds);
    expect(Object.keys(expected[0]!)).toEqual(['y']);
    expect((await verifyParts(g, [doubledHead(head), tail], feeds, { expected })).firstMismatch?.name).toBe('r1');
  });

  it('compares outputs of data-dependent length and no batch axis sample by sample (a fixed-batch detector with its NMS in the graph)', async () => {
    const g = await analyzeModel(dataDependentIf());
    const parts = splitModel(g, [resolveCut(g, findCuts(g), 's')]).parts;
    // 2, 0 and 4 values above 0.5: y is [2], [1] (the then branch's -1) and [4]
    const x = { dtype: 1, dims: [3, 6], data: Float32Array.from([0.9, 0, 0.7, 0, 0, 0, ...new Array(6).fill(0.1), 0.6, 0.6, 0.6, 0.6, 0, 0]) };
    const report = await verifyParts(g, parts, { x });
    expect(report.samples).toBe(3);
    expect(report.ok).toBe(true);
    expect(report.outputs[0]).toMatchObject({ name: 'y', maxAbsDiff: 0, maxAbs: 3 });
    // the tail declares y of open length, as the model does
    expect(parts[1]!.proto.graph!.output![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam)).toEqual(['y_dim0']);
  });

  it('reproduces the PaddleOCR recognizer failure of issue 16: parts differ from the full model at ONNX Runtime level all, and compose exactly with optimisations off', async () => {
    const g = await analyzeModel(loadModel(join(PADDLE_OCR, 'ch_PP-OCRv4_rec_infer.onnx')), { inputShapes: { x: [1, 3, 48, 320] } });
    const parts = splitModel(g, [resolveCut(g, findCuts(g, { maxWidth: 2 }), 'p2o.Add.167')]).parts;
    const { feeds } = sampleFeeds(g.inputShapes, 8);
    // the old check: optimisations all, tolerance 1e-5; the attention's fused kernels reorder float sums in the full model only
    const fused = await verifyParts(g, parts, feeds, { optimization: 'all', tolerance: 1e-5 });
    expect(fused.ok).toBe(false);
    expect(fused.checks.find((c) => c.kind === 'cut')!.maxAbsDiff).toBe(0);
    expect(fused.firstMismatch).toMatchObject({ name: 'softmax_11.tmp_0', kind: 'output' });
    expect(fused.firstMismatch!.relative).toBeGreaterThan(1e-5);
    const exact = await verifyParts(g, parts, feeds);
    expect(exact.optimization).toBe('disabled');
    expect(exact.ok).toBe(true);
    for (const c of exact.checks) expect(c.maxAbsDiff, c.name).toBe(0);
  });
});

/** x [batch, 3] and a recurrent state h [2, batch, 3] (the batch on dim 1, as Silero VAD's): y = relu(h + x). */
function stateOnDim1() {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3]);
  b.input('h', 'float32', [2, 'batch', 3]);
  b.op('Relu', [b.op('Add', [b.op('Neg', ['h'], {}, { output: 'n' }), 'x'], {}, { output: 's' })], {}, { output: 'y' });
  b.output('y', 'float32', [2, 'batch', 3]);
  return inMemoryModel(b.build(), 'state-on-dim-1');
}

describe('sample inputs', () => {
  it("stack the samples along each input's batch axis (an RNN state's dim 1), and the parts verify on them", async () => {
    const g = await analyzeModel(stateOnDim1(), { inputShapes: { x: [1, 3], h: [2, 1, 3] } });
    const { feeds } = sampleFeeds(g.inputShapes, 4, (name) => batchAxis(g, name));
    expect(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.dims]))).toEqual({ x: [4, 3], h: [2, 4, 3] });
    const parts = splitModel(g, [resolveCut(g, findCuts(g), 's')]).parts;
    const report = await verifyParts(g, parts, feeds);
    expect(report.ok).toBe(true);
    expect(report.samples).toBe(4);
    expect(report.shapes).toEqual({ x: [4, 3], h: [2, 4, 3] });
  });
});

describe('shapes to verify at', () => {
  it('are the analysed shape and one with every dynamic dim the parts keep (other than the batch) at its second-pass size', async () => {
    const g = await analyzeModel(fcn(), { inputShapes: { x: [1, 2, 8, 12] } });
    const parts = splitModel(g, [resolveCut(g, findCuts(g), 'r2+r1')]).parts;
    expect(defaultVerifyShapes(g, parts).map((m) => m.get('x')!.shape)).toEqual([
      [1, 2, 8, 12],
      [1, 2, 16, 16],
    ]);
    expect(verifyShapesAt(g, parts, { x: [1, 2, 32, 48] }).get('x')!.shape).toEqual([1, 2, 32, 48]);
    const c = await analyzeModel(chain());
    expect(defaultVerifyShapes(c, splitModel(c, [resolveCut(c, findCuts(c), 'r1')]).parts)).toHaveLength(1);
  });

  it('refuse a size for a dim the parts keep fixed', async () => {
    const g = await analyzeModel(pooledShape(), { inputShapes: { x: [1, 2, 8, 8] } });
    const parts = splitModel(g, [resolveCut(g, findCuts(g), 'pooled')]).parts;
    expect(defaultVerifyShapes(g, parts)).toHaveLength(1);
    expect(() => verifyShapesAt(g, parts, { x: [4, 2, 16, 8] })).toThrow(/^dim 2 of input 'x' is fixed at 8 in the exported parts, but the shape to verify at gives 16$/);
    expect(() => verifyShapesAt(g, parts, { x: [4, 2, 8] })).toThrow(/has rank 4/);
    expect(verifyShapesAt(g, parts, { x: [4, 2, 8, 8] }).get('x')!.shape).toEqual([4, 2, 8, 8]);
  });
});
