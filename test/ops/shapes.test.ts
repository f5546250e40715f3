/**
 * Each op rule's inferred output types and shapes, checked against what ONNX Runtime produces when it runs a
 * one-node model, over the attribute variants that change the shape.
 */
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { tensor } from '../../src/graph/graph.js';
import { syntheticFeeds } from '../../src/graph/probe.js';
import type { AttrValue } from '../../src/onnx/attributes.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { dtypeName } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { onnx } from '../../src/onnx/proto.js';
import { createSession, run } from '../../src/ort/session.js';

interface Input {
  shape: number[];
  dtype?: string;
  /** Values make the input an initializer (constant), as shape arguments usually are. */
  value?: number[];
}

interface Case {
  op: string;
  inputs: (Input | null)[];
  attrs?: Record<string, AttrValue>;
  outputs?: number;
  opset?: number;
  label?: string;
}

const f = (...shape: number[]): Input => ({ shape });
const ints = (...value: number[]): Input => ({ shape: [value.length], dtype: 'int64', value });
const scalarInt = (v: number): Input => ({ shape: [], dtype: 'int64', value: [v] });
const floats = (...value: number[]): Input => ({ shape: [value.length], dtype: 'float32', value });

const CASES: Case[] = [
  { op: 'Conv', inputs: [f(1, 4, 11, 9), f(6, 2, 3, 3)], attrs: { group: 2, strides: [2, 1], dilations: [2, 1], pads: [1, 0, 2, 1] }, label: 'grouped, strided, dilated' },
  { op: 'Conv', inputs: [f(1, 8, 10, 10), f(8, 1, 3, 3), f(8)], attrs: { group: 8, auto_pad: 'SAME_UPPER', strides: [2, 2] }, label: 'depthwise SAME_UPPER' },
  { op: 'Conv', inputs: [f(2, 3, 7), f(5, 3, 2)], attrs: { auto_pad: 'VALID', strides: [2] }, label: '1-D VALID' },
  { op: 'ConvTranspose', inputs: [f(1, 4, 5, 5), f(4, 3, 3, 3)], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] } },
  { op: 'ConvTranspose', inputs: [f(1, 4, 5, 5), f(4, 2, 2, 2)], attrs: { group: 2, strides: [2, 2], output_shape: [10, 10] }, label: 'output_shape, grouped' },
  { op: 'MaxPool', inputs: [f(1, 2, 7, 6)], attrs: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, label: 'ceil_mode' },
  { op: 'MaxPool', inputs: [f(1, 2, 8, 8)], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }, outputs: 2, label: 'indices output' },
  { op: 'AveragePool', inputs: [f(1, 2, 9, 9)], attrs: { kernel_shape: [3, 3], auto_pad: 'SAME_LOWER', strides: [2, 2] } },
  { op: 'GlobalAveragePool', inputs: [f(2, 5, 7, 3)] },
  { op: 'GlobalMaxPool', inputs: [f(2, 5, 7)] },
  { op: 'Gemm', inputs: [f(4, 3), f(5, 4), f(5)], attrs: { transA: 1, transB: 1, alpha: 0.5 } },
  { op: 'MatMul', inputs: [f(2, 1, 3, 4), f(5, 4, 6)], label: 'broadcast batch' },
  { op: 'MatMul', inputs: [f(4), f(3, 4, 2)], label: '1-D left operand' },
  { op: 'MatMul', inputs: [f(2, 3, 4), f(4)], label: '1-D right operand' },
  { op: 'Einsum', inputs: [f(2, 3, 4), f(2, 4, 5)], attrs: { equation: 'bij,bjk->bik' } },
  { op: 'Einsum', inputs: [f(3, 4)], attrs: { equation: 'ij' }, label: 'implicit output (sorted letters)' },
  { op: 'Einsum', inputs: [f(2, 7, 3, 4)], attrs: { equation: '...ij->...ji' }, label: 'ellipsis' },
  { op: 'GRU', inputs: [f(5, 2, 3), f(1, 12, 3), f(1, 12, 4), f(1, 24), null, f(1, 2, 4)], attrs: { hidden_size: 4, linear_before_reset: 1 }, outputs: 2, label: 'as PyTorch exports it, Y and Y_h' },
  { op: 'GRU', inputs: [f(5, 2, 3), f(2, 12, 3), f(2, 12, 4)], attrs: { hidden_size: 4, direction: 'bidirectional' }, outputs: 2, label: 'bidirectional' },
  { op: 'LSTM', inputs: [f(5, 2, 3), f(1, 16, 3), f(1, 16, 4)], attrs: { hidden_size: 4 }, outputs: 3, label: 'Y, Y_h and Y_c' },
  { op: 'RNN', inputs: [f(5, 2, 3), f(2, 4, 3), f(2, 4, 4)], attrs: { hidden_size: 4, direction: 'bidirectional' }, outputs: 2 },
  { op: 'BatchNormalization', inputs: [f(2, 3, 4, 4), f(3), f(3), f(3), f(3)] },
  { op: 'LayerNormalization', inputs: [f(2, 5, 8), f(8), f(8)], attrs: { axis: -1 }, outputs: 3, label: 'with mean and inv std outputs' },
  { op: 'InstanceNormalization', inputs: [f(2, 3, 5), f(3), f(3)] },
  { op: 'Softmax', inputs: [f(2, 3, 4)], attrs: { axis: 1 } },
  { op: 'LogSoftmax', inputs: [f(2, 3)] },
  { op: 'ReduceMean', inputs: [f(2, 3, 4, 5)], attrs: { axes: [1, -1], keepdims: 0 }, label: 'axes attribute' },
  { op: 'ReduceSum', inputs: [f(2, 3, 4), ints(1)], label: 'axes input, keepdims' },
  { op: 'ReduceMax', inputs: [f(2, 3, 4), ints(0, 2)], attrs: { keepdims: 0 }, opset: 18, label: 'opset 18 axes input' },
  { op: 'ReduceProd', inputs: [f(2, 3)], attrs: { keepdims: 0 }, label: 'all axes' },
  { op: 'ArgMax', inputs: [f(2, 3, 4)], attrs: { axis: 1, keepdims: 0 } },
  { op: 'Reshape', inputs: [f(2, 3, 4), ints(0, -1, 2)], label: '0 and -1' },
  { op: 'Flatten', inputs: [f(2, 3, 4, 5)], attrs: { axis: 2 } },
  { op: 'Flatten', inputs: [f(2, 3, 4)], attrs: { axis: 0 } },
  { op: 'Squeeze', inputs: [f(1, 3, 1, 2), ints(2)] },
  { op: 'Squeeze', inputs: [f(1, 3, 1, 2)], label: 'all unit dims' },
  { op: 'Unsqueeze', inputs: [f(3, 4), ints(-1, 0)] },
  { op: 'Transpose', inputs: [f(2, 3, 4, 5)], attrs: { perm: [2, 0, 3, 1] } },
  { op: 'Transpose', inputs: [f(2, 3, 4)], label: 'default perm reverses' },
  { op: 'Concat', inputs: [f(2, 3, 4), f(2, 5, 4), f(2, 1, 4)], attrs: { axis: -2 } },
  { op: 'Split', inputs: [f(2, 6, 4)], attrs: { axis: 1 }, outputs: 3, label: 'equal split' },
  { op: 'Split', inputs: [f(2, 7, 4), ints(2, 5)], attrs: { axis: 1 }, outputs: 2, label: 'given sizes' },
  { op: 'Split', inputs: [f(10, 2)], attrs: { num_outputs: 4 }, outputs: 4, opset: 18, label: 'num_outputs, uneven' },
  { op: 'Slice', inputs: [f(10, 8, 6), ints(1, -1), ints(9, -7), ints(0, 1), ints(3, -2)], label: 'steps, negative' },
  { op: 'Slice', inputs: [f(5, 6), ints(-100), ints(100)], label: 'clamped' },
  { op: 'Gather', inputs: [f(5, 4, 3), { shape: [2, 2], dtype: 'int64', value: [0, -1, 2, 3] }], attrs: { axis: 1 } },
  { op: 'GatherElements', inputs: [f(3, 4), { shape: [3, 2], dtype: 'int64', value: [0, 1, 2, 3, 0, 1] }], attrs: { axis: 1 } },
  { op: 'Expand', inputs: [f(3, 1), ints(2, 1, 4)] },
  { op: 'Tile', inputs: [f(2, 3), ints(3, 2)] },
  { op: 'Pad', inputs: [f(2, 3, 4), ints(0, 1, 2, 0, 3, 0)] },
  { op: 'DepthToSpace', inputs: [f(1, 8, 3, 3)], attrs: { blocksize: 2 } },
  { op: 'SpaceToDepth', inputs: [f(1, 2, 6, 4)], attrs: { blocksize: 2 } },
  { op: 'Resize', inputs: [f(1, 2, 5, 7), null, floats(1, 1, 2, 1.5)], attrs: { mode: 'linear' }, label: 'scales' },
  { op: 'Resize', inputs: [f(1, 2, 5, 7), null, null, ints(1, 2, 9, 4)], attrs: { mode: 'nearest' }, label: 'sizes' },
  { op: 'TopK', inputs: [f(3, 10), ints(4)], outputs: 2 },
  { op: 'CumSum', inputs: [f(3, 4), scalarInt(1)] },
  { op: 'OneHot', inputs: [{ shape: [2, 3], dtype: 'int64', value: [0, 1, 2, 3, 4, 0] }, scalarInt(5), floats(0, 1)], attrs: { axis: 1 } },
  { op: 'Where', inputs: [{ shape: [3, 1], dtype: 'bool', value: [1, 0, 1] }, f(1, 4), f(3, 4)] },
  { op: 'Clip', inputs: [f(2, 3), { shape: [], dtype: 'float32', value: [0] }, { shape: [], dtype: 'float32', value: [6] }] },
  { op: 'Cast', inputs: [f(2, 3)], attrs: { to: 7 } },
  { op: 'Range', inputs: [{ shape: [], dtype: 'int64', value: [2] }, { shape: [], dtype: 'int64', value: [11] }, { shape: [], dtype: 'int64', value: [3] }] },
  { op: 'ConstantOfShape', inputs: [ints(2, 3)] },
  { op: 'Shape', inputs: [f(2, 3, 4, 5)], attrs: { start: 1, end: -1 } },
  { op: 'Size', inputs: [f(2, 3, 4)] },
  { op: 'Add', inputs: [f(3, 1, 5), f(4, 1)], label: 'broadcast' },
  { op: 'Equal', inputs: [f(2, 3), f(3)] },
  { op: 'Max', inputs: [f(2, 1), f(1, 3), f(3)], label: 'variadic' },
  { op: 'PRelu', inputs: [f(2, 3, 4), f(3, 1)] },
  { op: 'Erf', inputs: [f(2, 3)] },
  { op: 'HardSwish', inputs: [f(4)] },
  { op: 'Dropout', inputs: [f(2, 3)], outputs: 2, label: 'mask output' },
  // opsets 18 to 21, as PyTorch's dynamo exporter writes them
  { op: 'Resize', inputs: [f(1, 2, 5, 7), null, null, ints(4, 4)], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }, opset: 18, label: 'opset 18, sizes of H and W, not_larger' },
  { op: 'Resize', inputs: [f(1, 2, 5, 7), null, null, ints(4, 4)], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_smaller' }, opset: 18, label: 'opset 18, sizes of H and W, not_smaller' },
  { op: 'Resize', inputs: [f(1, 1, 4, 10), null, null, ints(10, 3)], attrs: { axes: [3, 2], keep_aspect_ratio_policy: 'not_larger' }, opset: 18, label: 'opset 18, axes W then H, not_larger, 7.5 rounded' },
  { op: 'Split', inputs: [f(2, 7, 3)], attrs: { axis: 1, num_outputs: 3 }, outputs: 3, opset: 18, label: 'opset 18, num_outputs, a shorter last chunk' },
  { op: 'Pad', inputs: [f(2, 3, 4), ints(1, 2, 0, 3), null, ints(0, -1)], opset: 18, label: 'opset 18, an axes input' },
  { op: 'ReduceMean', inputs: [f(2, 3, 4), ints(-1)], attrs: { keepdims: 0 }, opset: 18, label: 'opset 18, axes as an input' },
  { op: 'GroupNormalization', inputs: [f(2, 6, 3), f(6), f(6)], attrs: { num_groups: 3 }, opset: 21 },
  { op: 'Gelu', inputs: [f(2, 3)], attrs: { approximate: 'tanh' }, opset: 20 },
];

async function runCase(c: Case) {
  const b = new ModelBuilder({ opset: c.opset ?? 17 });
  const names = c.inputs.map((inp, i) => {
    if (!inp) return '';
    const name = `in${i}`;
    const dtype = inp.dtype ?? 'float32';
    return inp.value ? b.initializer(name, dtype, inp.shape, inp.value) : b.input(name, dtype, inp.shape);
  });
  const outs = b.node(c.op, names, c.attrs ?? {}, { outputs: Array.from({ length: c.outputs ?? 1 }, (_, i) => `out${i}`) });
  const proto = b.build();
  proto.graph!.output = outs.map((name) => onnx.ValueInfoProto.create({ name }));
  const g = await analyzeModel(inMemoryModel(proto), { probe: false });
  const session = await createSession(proto, '.', { optimization: 'disabled' });
  const actual = await run(session, syntheticFeeds(g.inputShapes));
  await session.release();
  return outs.map((o) => ({
    name: o,
    impera: `${dtypeName(tensor(g, o).dtype)}[${tensor(g, o).shape}]`,
    ort: `${dtypeName(actual[o]!.dtype)}[${actual[o]!.dims}]`,
  }));
}

describe('op shape rules agree with ONNX Runtime', () => {
  for (const c of CASES) {
    it(`${c.op}${c.label ? ` (${c.label})` : ''}`, async () => {
      for (const o of await runCase(c)) expect(o.impera, o.name).toBe(o.ort);
    });
  }
});
