/** Ops that create tensors: Constant, ConstantOfShape, Range, EyeLike; random generators (never folded). */
import { attrFloat, attrFloats, attrInt, attrInts, attrTensor } from '../onnx/attributes.js';
import { DataType, numel } from '../onnx/dtype.js';
import { knownValues } from './elementwise.js';
import type { RuleList } from '../onnx/op-table.js';
import { badNode, type ConstValue, type OpContext, type OpRule, type TensorInfo } from './types.js';

const free = () => ({ macs: 0, flops: 0 });

/** Constant's value from whichever of its attributes is set. */
function constantValue(ctx: OpContext): ConstValue {
  const p = ctx.node.proto;
  const t = attrTensor(p, 'value');
  if (t) return ctx.attributeTensor(t);
  const f = attrFloat(p, 'value_float');
  if (f !== undefined) return { dtype: DataType.FLOAT, dims: [], data: [f] };
  const fs = attrFloats(p, 'value_floats');
  if (fs) return { dtype: DataType.FLOAT, dims: [fs.length], data: fs };
  const i = attrInt(p, 'value_int');
  if (i !== undefined) return { dtype: DataType.INT64, dims: [], data: [i] };
  const is = attrInts(p, 'value_ints');
  if (is) return { dtype: DataType.INT64, dims: [is.length], data: is };
  throw badNode(ctx, 'Constant has no value impera can read (string and sparse constants are not supported)');
}

function constantInfo(ctx: OpContext): TensorInfo {
  const t = attrTensor(ctx.node.proto, 'value');
  if (t) return { dtype: (t.dataType ?? 0) as DataType, shape: (t.dims ?? []).map(Number) };
  const v = constantValue(ctx);
  return { dtype: v.dtype, shape: v.dims };
}

function fillValue(ctx: OpContext): ConstValue {
  const t = attrTensor(ctx.node.proto, 'value');
  return t ? ctx.attributeTensor(t) : { dtype: DataType.FLOAT, dims: [1], data: [0] };
}

function rangeCount(ctx: OpContext): { start: number; delta: number; n: number } {
  const [start, limit, delta] = [0, 1, 2].map((i) => ctx.requireValue(i, ['start', 'limit', 'delta'][i]!)[0]!) as [number, number, number];
  if (delta === 0) throw badNode(ctx, 'Range delta is 0');
  return { start, delta, n: Math.max(0, Math.ceil((limit - start) / delta)) };
}
export const RANDOM_OPS: ReadonlySet<string> = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Multinomial']);

/** The rules of this family, listed in registry.ts. */
export const constantRules: RuleList<OpRule> = [
  ['Constant', { infer: (ctx) => [constantInfo(ctx)], evaluate: (ctx) => [constantValue(ctx)], cost: free }],
  ['ConstantOfShape', {
    infer: (ctx) => [{ dtype: fillValue(ctx).dtype, shape: ctx.requireValue(0, 'shape') }],
    evaluate: (ctx) => {
      const dims = ctx.requireValue(0, 'shape');
      const v = fillValue(ctx);
      return [{ dtype: v.dtype, dims, data: new Array<number>(numel(dims)).fill(v.data[0] ?? 0) }];
    },
    cost: free,
  }],
  ['Range', {
    infer: (ctx) => [{ dtype: ctx.input(0).dtype, shape: [rangeCount(ctx).n] }],
    evaluate: (ctx) => {
      knownValues(ctx);
      const { start, delta, n } = rangeCount(ctx);
      return [{ dtype: ctx.input(0).dtype, dims: [n], data: [...Array(n).keys()].map((i) => start + i * delta) }];
    },
    cost: free,
  }],
  ['EyeLike', {
    infer: (ctx) => [{ dtype: (attrInt(ctx.node.proto, 'dtype') ?? ctx.input(0).dtype) as DataType, shape: [...ctx.input(0).shape] }],
    cost: free,
  }],
  // Random generators are data, not constants: they have rules but no evaluate, and analyze.ts never marks them static.
  [['RandomNormal', 'RandomUniform'], {
    infer: (ctx) => [{ dtype: attrInt(ctx.node.proto, 'dtype', DataType.FLOAT) as DataType, shape: attrInts(ctx.node.proto, 'shape') ?? [] }],
    cost: free,
  }],
  [['RandomNormalLike', 'RandomUniformLike', 'Bernoulli'], {
    infer: (ctx) => [{ dtype: (attrInt(ctx.node.proto, 'dtype') ?? ctx.input(0).dtype) as DataType, shape: [...ctx.input(0).shape] }],
    cost: free,
  }],
];
