/** Every gradient rule against central finite differences, on small random cases, run at batch 2 (analysed at 1). */
import { describe, expect, it } from 'vitest';
import type { AttrValue } from '../../src/onnx/attributes.js';
import { ModelBuilder, type Dim } from '../../src/onnx/builder.js';
import { numel } from '../../src/onnx/dtype.js';
import { buildBackwardGraph, OUTPUT_GRAD_INPUT } from '../../src/autodiff/backward.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';
import { gradCheck, randomValues, type FeedSpec } from './gradcheck.js';

interface Operand {
  shape: number[];
  /** The first dim is the symbolic batch. */
  batched?: boolean;
  /** A constant (initializer) instead of a differentiated input. */
  constant?: { dtype?: string; values: number[] };
  values?: number[];
}

interface Case {
  op: string;
  label?: string;
  inputs: (Operand | null)[];
  attrs?: Record<string, AttrValue>;
  opset?: number;
  /** Numbers of outputs (the first is checked). */
  outputs?: number;
  h?: number;
  tolerance?: number;
}

const f = (...shape: number[]): Operand => ({ shape, batched: true });
const w = (...shape: number[]): Operand => ({ shape });
const ints = (...values: number[]): Operand => ({ shape: [values.length], constant: { dtype: 'int64', values } });
const scales = (...values: number[]): Operand => ({ shape: [values.length], constant: { values } });
const floatConst = (v: number): Operand => ({ shape: [], constant: { values: [v] } });
const positive = (op: Operand): Operand => ({ ...op, values: randomValues(numel(op.shape), 3, 0.5, 2).map(Math.abs) });
/** Distinct values far apart, so max-pooling has no near-ties. */
const spread = (op: Operand): Operand => {
  const n = numel(op.shape);
  const perm = randomValues(n, 9).map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  return { ...op, values: perm.map((p) => (p - n / 2) * 0.1) };
};

const GELU_X: Operand = { shape: [2, 6], batched: true, values: [-3, -2.4, -1.8, -1.2, -0.6, 0.3, 0.9, 1.5, 2.1, 2.7, 3.3, -0.2] };

const CASES: Case[] = [
  { op: 'Conv', inputs: [f(2, 3, 7, 6), w(4, 3, 3, 3), w(4)], attrs: { pads: [1, 0, 2, 1], strides: [2, 1] }, label: 'strided, asymmetric pads, bias' },
  { op: 'Conv', inputs: [f(2, 4, 7, 7), w(6, 2, 3, 3)], attrs: { group: 2, dilations: [2, 2], pads: [1, 1, 1, 1] }, label: 'grouped, dilated' },
  { op: 'Conv', inputs: [f(2, 3, 8, 8), w(3, 1, 3, 3), w(3)], attrs: { group: 3, strides: [2, 2], auto_pad: 'SAME_UPPER' }, label: 'depthwise, SAME_UPPER, stride 2' },
  { op: 'ConvTranspose', inputs: [f(2, 4, 3, 4), w(4, 3, 3, 3), w(3)], attrs: { strides: [2, 2], pads: [1, 0, 0, 1], output_padding: [1, 0] } },
  { op: 'ConvTranspose', inputs: [f(2, 4, 3, 3), w(4, 1, 2, 2)], attrs: { group: 2, strides: [2, 2] }, label: 'grouped' },
  { op: 'Gemm', inputs: [f(3, 4), w(5, 4), w(5)], attrs: { transB: 1, alpha: 0.5, beta: { float: 2 } } },
  { op: 'Gemm', inputs: [w(4, 3), w(4, 5), w(3, 1)], attrs: { transA: 1 }, label: 'transA, column bias' },
  { op: 'MatMul', inputs: [f(2, 3, 4), w(4, 5)], label: 'batched x shared weight' },
  { op: 'MatMul', inputs: [f(2, 1, 3, 4), w(3, 4, 2)], label: 'broadcast batch dims' },
  { op: 'MatMul', inputs: [w(4), w(2, 4, 3)], label: '1-D left' },
  { op: 'Add', inputs: [f(2, 3, 4), w(3, 1)], label: 'broadcast' },
  { op: 'Sub', inputs: [w(4), f(2, 3, 4)], label: 'broadcast, right operand' },
  { op: 'Mul', inputs: [f(2, 3, 1), w(1, 4)] },
  { op: 'Div', inputs: [f(2, 3), positive(w(3))] },
  { op: 'Pow', inputs: [positive(f(2, 3)), w(3)], label: 'both operands' },
  { op: 'Pow', inputs: [positive(f(2, 3)), floatConst(2)], label: 'constant exponent' },
  { op: 'Sum', inputs: [f(2, 3), w(3), f(2, 1)] },
  { op: 'Max', inputs: [f(2, 3, 4), w(3, 1)], label: 'broadcast', h: 1e-3 }, // a smaller step keeps clear of near-ties, where the max switches operand
  { op: 'Max', inputs: [f(2, 3), floatConst(0.1)], label: 'constant operand' },
  { op: 'Min', inputs: [f(2, 3), w(3), f(2, 1)], label: 'three operands' },
  { op: 'Relu', inputs: [f(2, 5)] },
  { op: 'LeakyRelu', inputs: [f(2, 5)], attrs: { alpha: 0.1 } },
  { op: 'Clip', inputs: [{ shape: [2, 6], batched: true, values: [-0.9, -0.6, -0.4, -0.1, 0.3, 0.5, 0.7, 0.95, -0.45, 0.55, 0.65, -0.2] }, floatConst(-0.5), floatConst(0.6)] },
  { op: 'Sigmoid', inputs: [f(2, 4)] },
  { op: 'HardSigmoid', inputs: [f(2, 6)], attrs: { alpha: 0.4, beta: 0.5 } },
  { op: 'HardSwish', inputs: [{ shape: [2, 6], batched: true, values: [-4, -2.5, -1, -0.3, 0.4, 1.1, 2, 2.8, 3.5, 5, -3.6, 0.9] }] },
  { op: 'Tanh', inputs: [f(2, 4)] },
  { op: 'Erf', inputs: [f(2, 4)] },
  { op: 'Exp', inputs: [f(2, 4)] },
  { op: 'Log', inputs: [positive(f(2, 4))] },
  { op: 'Sqrt', inputs: [positive(f(2, 4))] },
  { op: 'Reciprocal', inputs: [positive(f(2, 4))] },
  { op: 'Neg', inputs: [f(2, 4)] },
  { op: 'Abs', inputs: [f(2, 4)] },
  { op: 'Identity', inputs: [f(2, 4)] },
  { op: 'Dropout', inputs: [f(2, 4)] },
  { op: 'Where', inputs: [{ shape: [3, 1], constant: { dtype: 'bool', values: [1, 0, 1] } }, f(2, 3, 4), w(4)] },
  { op: 'BatchNormalization', inputs: [f(2, 3, 2, 2), w(3), w(3), w(3), positive(w(3))], attrs: { epsilon: 1e-3 } },
  { op: 'LayerNormalization', inputs: [f(2, 3, 5), w(5), w(5)], attrs: { axis: -1 } },
  { op: 'LayerNormalization', inputs: [f(2, 3, 4), w(3, 4), w(3, 4)], attrs: { axis: 1 }, label: 'over two axes' },
  { op: 'Softmax', inputs: [f(2, 3, 4)], attrs: { axis: 1 } },
  { op: 'Softmax', inputs: [f(2, 5)], attrs: { axis: 1 }, opset: 11, label: 'opset 11 (flattening)' },
  { op: 'LogSoftmax', inputs: [f(2, 5)], attrs: { axis: -1 } },
  { op: 'MaxPool', inputs: [spread(f(2, 2, 7, 7))], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, label: 'overlapping windows' },
  { op: 'MaxPool', inputs: [spread(f(2, 2, 7, 7))], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, opset: 11, label: 'overlapping windows, opset 11 (backward raised to 16)' },
  { op: 'MaxPool', inputs: [spread(f(2, 2, 6, 6))], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, opset: 7, label: 'opset 7 (no Indices output: backward raised to 9, MaxUnpool)' },
  { op: 'MaxPool', inputs: [spread(f(2, 2, 5, 5))], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, label: 'ceil_mode' },
  { op: 'AveragePool', inputs: [f(2, 2, 6, 5)], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, label: 'pads excluded from the count' },
  { op: 'AveragePool', inputs: [f(2, 2, 6, 6)], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }, label: 'pads counted' },
  { op: 'AveragePool', inputs: [f(2, 2, 7, 7)], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, label: 'ceil_mode' },
  { op: 'GlobalAveragePool', inputs: [f(2, 3, 4, 5)] },
  { op: 'ReduceMean', inputs: [f(2, 3, 4)], attrs: { axes: [1, 2], keepdims: 0 } },
  { op: 'ReduceSum', inputs: [f(2, 3, 4), ints(-1)], attrs: { keepdims: 1 } },
  { op: 'ReduceMax', inputs: [spread(f(2, 3, 4))], attrs: { axes: [1], keepdims: 0 }, label: 'one axis (a detector\'s best class score per anchor)' },
  { op: 'ReduceMin', inputs: [spread(f(2, 3, 4))], attrs: { axes: [1, 2], keepdims: 1 }, opset: 11, label: 'two axes, keepdims, opset 11' },
  { op: 'TopK', inputs: [spread(f(2, 3, 6)), ints(2)], attrs: { axis: -1 }, outputs: 2, label: 'values (a detector\'s pre-NMS ranking)' },
  { op: 'TopK', inputs: [spread(f(2, 5, 3)), ints(3)], attrs: { axis: 1, largest: 0 }, outputs: 2, opset: 11, label: 'smallest, opset 11' },
  { op: 'Flatten', inputs: [f(2, 3, 4)], attrs: { axis: 1 } },
  { op: 'Reshape', inputs: [f(2, 3, 4), ints(0, 4, 3)] },
  { op: 'Squeeze', inputs: [f(2, 1, 4), ints(1)] },
  { op: 'Unsqueeze', inputs: [f(2, 4), ints(1, -1)] },
  { op: 'Transpose', inputs: [f(2, 3, 4)], attrs: { perm: [0, 2, 1] } },
  { op: 'Concat', inputs: [f(2, 3, 2), f(2, 1, 2), f(2, 2, 2)], attrs: { axis: 1 } },
  { op: 'Split', inputs: [f(2, 6), ints(2, 4)], attrs: { axis: 1 }, outputs: 2, label: 'first output' },
  { op: 'Slice', inputs: [f(2, 7, 6), ints(1, -1), ints(6, 0), ints(1, 2), ints(1, -1)], label: 'forward and reversed' },
  { op: 'Slice', inputs: [f(2, 7, 6), ints(0, 1), ints(2 ** 62, 5), ints(0, 1)], label: 'the whole batch axis and a range (x[:, 1:5])' },
  { op: 'Gather', inputs: [f(2, 5, 3), { shape: [], constant: { dtype: 'int64', values: [0] } }], attrs: { axis: 1 }, label: 'scalar index (ViT cls token)' },
  { op: 'Gather', inputs: [f(2, 5, 3), { shape: [2, 2], constant: { dtype: 'int64', values: [1, 4, 1, -1] } }], attrs: { axis: 1 }, label: 'repeated and negative indices' },
  { op: 'Gather', inputs: [f(2, 5, 3), { shape: [3], constant: { dtype: 'int64', values: [1, 4, 1] } }], attrs: { axis: 1 }, opset: 13, label: 'repeated indices, opset 13 (a one-hot product: no scatter-add before 16)' },
  { op: 'GatherND', inputs: [w(4, 3, 2), { shape: [3, 2], constant: { dtype: 'int64', values: [1, 2, 3, 0, 1, 2] } }], label: 'repeated index pairs (ScatterND adding)' },
  { op: 'GatherND', inputs: [w(4, 3, 2), { shape: [2, 2, 1], constant: { dtype: 'int64', values: [1, -1, 3, 1] } }], opset: 13, label: 'repeated and negative indices, opset 13 (a one-hot product)' },
  { op: 'Resize', inputs: [f(2, 2, 3, 4), scales(), scales(1, 1, 2, 3)], attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, opset: 11, label: 'nearest x2 x3, asymmetric floor (Paddle2ONNX)' },
  { op: 'Resize', inputs: [f(2, 2, 3, 2), null, scales(1, 1, 3, 2)], attrs: { mode: 'nearest' }, label: 'nearest x3 x2, half_pixel' },
  { op: 'Upsample', inputs: [f(2, 2, 3, 3), scales(1, 1, 2, 2)], attrs: { mode: 'nearest' }, opset: 9 },
  { op: 'Resize', inputs: [f(2, 2, 3, 4), scales(), scales(1, 1, 2, 1.5)], attrs: { mode: 'linear' }, label: 'linear x2 x1.5, half_pixel (segmentation heads)' },
  { op: 'Resize', inputs: [f(2, 2, 3, 4), scales(), scales(1, 1, 2.5, 2)], attrs: { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, label: 'linear, align_corners' },
  { op: 'Resize', inputs: [f(2, 2, 6, 5), scales(), scales(1, 1, 0.5, 0.6)], attrs: { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }, label: 'linear downsampling, pytorch_half_pixel' },
  { op: 'Resize', inputs: [f(2, 2, 3, 4), scales(), scales(1, 1, 3, 2)], attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'round_prefer_ceil' }, label: 'nearest x3, asymmetric round_prefer_ceil (no blocks)' },
  { op: 'Resize', inputs: [f(2, 2, 6, 6), scales(), scales(), ints(4, 3)], attrs: { mode: 'nearest', axes: [2, 3] }, opset: 18, label: 'nearest to sizes of H and W, downsampling' },
  { op: 'Resize', inputs: [f(2, 2, 4, 5), scales(), scales(), ints(7, 7)], attrs: { mode: 'linear', axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }, opset: 18, label: 'linear to sizes kept to the aspect ratio (one scale, 1.4)' },
  { op: 'Resize', inputs: [f(2, 2, 4, 5), scales(), scales(3, 1.5)], attrs: { mode: 'linear', axes: [2, 3] }, opset: 18, label: 'linear, scales of the axes listed' },
  { op: 'Upsample', inputs: [f(2, 2, 3, 3), scales(1, 1, 2, 3)], attrs: { mode: 'linear' }, opset: 9, label: 'bilinear' },
  { op: 'Expand', inputs: [w(3, 1), ints(2, 3, 4)] },
  { op: 'Pad', inputs: [f(2, 3, 4), ints(0, 1, 2, 0, 0, 1)] },
  // opset 18 and later, as PyTorch's dynamo exporter writes them
  { op: 'Pad', inputs: [f(2, 3, 4, 5), ints(1, 2, 0, 1), null, ints(-1, 2)], opset: 18, label: 'opset 18, an axes input' },
  { op: 'ReduceMean', inputs: [f(2, 3, 4), ints(1, 2)], attrs: { keepdims: 0 }, opset: 18, label: 'opset 18, axes as an input' },
  { op: 'Split', inputs: [f(2, 7)], attrs: { axis: 1, num_outputs: 3 }, outputs: 3, opset: 18, label: 'opset 18, num_outputs, a shorter last chunk' },
  // the two forms' derivatives differ by 6e-4 (relative) on these values: a tight check tells them apart
  { op: 'Gelu', inputs: [GELU_X], opset: 20, label: 'opset 20, exact', h: 1e-3, tolerance: 2e-4 },
  { op: 'Gelu', inputs: [GELU_X], attrs: { approximate: 'tanh' }, opset: 20, label: 'opset 20, tanh approximation', h: 1e-3, tolerance: 2e-4 },
  { op: 'GroupNormalization', inputs: [f(2, 6, 3, 2), w(3), w(3)], attrs: { num_groups: 3, epsilon: 1e-3 }, opset: 18, label: 'opset 18, scale and bias per group' },
  { op: 'GroupNormalization', inputs: [f(2, 6, 3, 2), w(6), w(6)], attrs: { num_groups: 2 }, opset: 21, label: 'opset 21, scale and bias per channel' },
];

function buildCase(c: Case) {
  const b = new ModelBuilder({ opset: c.opset ?? 17 });
  const feeds: Record<string, FeedSpec> = {};
  const wrt: string[] = [];
  const names = c.inputs.map((o, i) => {
    if (!o) return '';
    const name = `in${i}`;
    if (o.constant) return b.initializer(name, o.constant.dtype ?? 'float32', o.shape, o.constant.values);
    const declared: Dim[] = o.batched ? ['batch', ...o.shape.slice(1)] : o.shape;
    b.input(name, 'float32', declared);
    feeds[name] = { shape: o.shape, ...(o.values ? { values: o.values } : {}) };
    wrt.push(name);
    return name;
  });
  const outs = b.node(c.op, names, c.attrs ?? {}, { outputs: Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`) });
  b.output(outs[0]!);
  return { proto: b.build(), feeds, wrt };
}

describe('gradient rules match finite differences', () => {
  for (const c of CASES) {
    it(`${c.op}${c.label ? ` (${c.label})` : ''}`, async () => {
      const { proto, feeds, wrt } = buildCase(c);
      const { errors, norms } = await gradCheck(proto, feeds, wrt, { h: c.h ?? 1e-2 });
      for (const t of wrt) {
        expect(norms[t], `${t}: numeric gradient is zero, the check would be vacuous`).toBeGreaterThan(1e-3);
        expect(errors[t], `${t}: relative error`).toBeLessThan(c.tolerance ?? 2e-3);
      }
    });
  }
});

describe('ReduceMax with ties', () => {
  it("shares dy evenly among the maxima, as PyTorch's amax", async () => {
    const b = new ModelBuilder({ opset: 17 });
    b.input('x', 'float32', ['batch', 4]);
    b.op('ReduceMax', ['x'], { axes: [1], keepdims: 0 }, { output: 'y' });
    b.output('y');
    const g = await analyzeModel(inMemoryModel(b.build()));
    const bwd = buildBackwardGraph(g, { wrt: ['x'], objective: 'seed' });
    const session = await createSession(bwd.proto, '.');
    const out = await run(session, { x: { dtype: DataType.FLOAT, dims: [2, 4], data: Float32Array.from([1, 3, 3, 2, 5, 5, 5, 0]) }, [OUTPUT_GRAD_INPUT]: { dtype: DataType.FLOAT, dims: [2], data: Float32Array.from([6, 3]) } });
    expect([...(out[bwd.gradients.get('x')!]!.data as Float32Array)]).toEqual([0, 3, 3, 0, 1, 1, 1, 0]);
  });
});

describe('Gather by indices computed at run time', () => {
  // a detector's post-processing at opset 11: boxes gathered by TopK indices (here each twice), then an Unsqueeze,
  // which changes meaning at 13, so the backward model cannot be raised to 16 for a scatter-add
  it('adds up the rows of repeated indices with a one-hot product at opset 11, matching finite differences', async () => {
    const b = new ModelBuilder({ opset: 11 });
    b.input('x', 'float32', [6, 4]);
    const scores = b.op('ReduceSum', ['x'], { axes: [1], keepdims: 0 });
    const [, indices] = b.node('TopK', [scores, b.constant(DataType.INT64, [1], [3])], { axis: 0 }, { outputs: ['top', 'indices'] });
    const twice = b.op('Concat', [indices!, indices!], { axis: 0 });
    b.op('Unsqueeze', [b.op('Gather', ['x', twice], { axis: 0 })], { axes: [0] }, { output: 'y' });
    b.output('y');
    // distinct row sums far apart, so no finite-difference step reorders the top 3
    const values = Array.from({ length: 24 }, (_, i) => (Math.floor(i / 4) * 7) % 6 - 2.5 + (i % 4) * 0.05);
    const { errors, norms } = await gradCheck(b.build(), { x: { shape: [6, 4], values } }, ['x'], { h: 1e-2 });
    expect(norms.x).toBeGreaterThan(1e-3);
    expect(errors.x).toBeLessThan(2e-3);
  });

  it('passes the rows a boolean mask keeps (NonZero + GatherND, boxes[scores > 0]) back at opset 11, matching finite differences', async () => {
    const b = new ModelBuilder({ opset: 11 });
    b.input('x', 'float32', [6, 4]);
    const keep = b.op('Greater', [b.op('ReduceSum', ['x'], { axes: [1], keepdims: 0 }), b.constant(DataType.FLOAT, [], [0])]);
    const indices = b.op('Transpose', [b.op('NonZero', [keep])], { perm: [1, 0] });
    b.op('Unsqueeze', [b.op('GatherND', ['x', indices])], { axes: [0] }, { output: 'y' });
    b.output('y');
    const values = Array.from({ length: 24 }, (_, i) => (Math.floor(i / 4) % 3 === 1 ? -1 : 1) * (0.5 + 0.1 * (i % 4)));
    const { errors, norms } = await gradCheck(b.build(), { x: { shape: [6, 4], values } }, ['x'], { h: 1e-2 });
    expect(norms.x).toBeGreaterThan(1e-3);
    expect(errors.x).toBeLessThan(2e-3);
  });
});

/**
 * Kinks, subnormals and extremes, where finite differences say nothing: dx must be dy where PyTorch's rule passes
 * (ReLU: x > 0; Clip: min < x < max) and 0 elsewhere, bit for bit, with ONNX Runtime's optimisations on (the masks
 * are HardSigmoid indicators there, emitter.indicator).
 */
describe('ReLU and Clip masks follow PyTorch exactly at the kinks', () => {
  const f32 = (v: number) => Math.fround(v);
  const below6 = f32(6 - 2 ** -21); // the float before 6
  const xs = [-3e38, -1e30, -1, -0.5, f32(-0.5 + 2 ** -25), -1e-45, -0, 0, 1e-45, 1e-40, 1.2e-38, 0.25, 0.6, f32(0.6 - 2 ** -24), below6, 6, f32(6 + 2 ** -21), 1e30, 3e38];
  const cases: { label: string; op: string; bounds: (number | undefined)[]; opset?: number; passes: (x: number) => boolean }[] = [
    { label: 'Relu', op: 'Relu', bounds: [], passes: (x) => x > 0 },
    { label: 'Clip 0..6 (ReLU6)', op: 'Clip', bounds: [0, 6], passes: (x) => x > 0 && x < 6 },
    { label: 'Clip -0.5..0.6', op: 'Clip', bounds: [-0.5, 0.6], passes: (x) => x > -0.5 && x < f32(0.6) },
    { label: 'Clip max only', op: 'Clip', bounds: [undefined, 6], passes: (x) => x < 6 },
    { label: 'Clip min only, attribute (opset 10)', op: 'Clip', bounds: [0, undefined], opset: 10, passes: (x) => x > 0 },
    { label: 'Clip -2^41..2^41 (beyond the indicator form: compare + Cast)', op: 'Clip', bounds: [-(2 ** 41), 2 ** 41], passes: (x) => Math.abs(x) < 2 ** 41 },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const b = new ModelBuilder({ opset: c.opset ?? 17 });
      b.input('x', 'float32', ['batch', xs.length]);
      const [min, max] = c.bounds;
      const attrs = c.opset && c.opset < 11 ? { ...(min !== undefined ? { min: { float: min } } : {}), ...(max !== undefined ? { max: { float: max } } : {}) } : {};
      const inputs = c.op === 'Clip' && !(c.opset && c.opset < 11) ? ['x', min === undefined ? '' : b.scalar(min), ...(max === undefined ? [] : [b.scalar(max)])] : ['x'];
      b.op(c.op, inputs, attrs, { output: 'y' });
      b.output('y');
      const g = await analyzeModel(inMemoryModel(b.build()));
      const bwd = buildBackwardGraph(g, { wrt: ['x'], objective: 'seed' });
      const dy = Float32Array.from(xs, (_, i) => 1 + i);
      const session = await createSession(bwd.proto, '.');
      const out = await run(session, { x: { dtype: DataType.FLOAT, dims: [1, xs.length], data: Float32Array.from(xs) }, [OUTPUT_GRAD_INPUT]: { dtype: DataType.FLOAT, dims: [1, xs.length], data: dy } });
      expect([...(out[bwd.gradients.get('x')!]!.data as Float32Array)]).toEqual(xs.map((x, i) => (c.passes(f32(x)) ? dy[i]! : 0)));
    });
  }
});
