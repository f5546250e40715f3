/** Reductions (Reduce*, ArgMax/ArgMin). One FLOP per input element (two for squared/exponential forms). */
import { attrInt, attrInts } from '../onnx/attributes.js';
import { DataType, numel } from '../onnx/dtype.js';
import { knownValues } from './elementwise.js';
import type { RuleList } from '../onnx/op-table.js';
import { normAxis, type ConstValue, type OpContext, type OpRule } from './types.js';

/** Reduced axes (sorted, non-negative), or 'none' when the op is the identity (noop_with_empty_axes). */
function reducedAxes(ctx: OpContext): number[] | 'none' {
  const rank = ctx.input(0).shape.length;
  const fromInput = ctx.node.inputs.length > 1 && ctx.node.inputs[1] !== '';
  const axes = fromInput ? ctx.requireValue(1, 'axes') : (attrInts(ctx.node.proto, 'axes') ?? []);
  if (axes.length === 0) return attrInt(ctx.node.proto, 'noop_with_empty_axes', 0) ? 'none' : [...Array(rank).keys()];
  return [...new Set(axes.map((a) => normAxis(a, rank, ctx)))].sort((a, b) => a - b);
}

function reducedShape(shape: readonly number[], axes: readonly number[], keep: boolean): number[] {
  return shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
}

type Reducer = (xs: number[]) => number;

function reduceRule(fold: Reducer | undefined, flopsPerElement: number): OpRule {
  return {
    infer: (ctx) => {
      const x = ctx.input(0);
      const axes = reducedAxes(ctx);
      if (axes === 'none') return [{ ...x, shape: [...x.shape] }];
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, attrInt(ctx.node.proto, 'keepdims', 1) === 1) }];
    },
    ...(fold && { evaluate: (ctx: OpContext) => [reduceValue(knownValues(ctx)[0]!, reducedAxes(ctx), attrInt(ctx.node.proto, 'keepdims', 1) === 1, fold)] }),
    cost: (ctx) => ({ macs: 0, flops: flopsPerElement * numel(ctx.input(0).shape) }),
  };
}

function reduceValue(x: ConstValue, axes: number[] | 'none', keep: boolean, fold: Reducer): ConstValue {
  if (axes === 'none') return x;
  const outDims = reducedShape(x.dims, axes, true);
  const groups = new Map<number, number[]>();
  const strides = outDims.map((_, i) => numel(outDims.slice(i + 1)));
  const coord = new Array<number>(x.dims.length).fill(0);
  for (let k = 0; k < x.data.length; k++) {
    const key = coord.reduce((s, c, i) => s + (axes.includes(i) ? 0 : c * strides[i]!), 0);
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(x.data[k]!);
    for (let d = coord.length - 1; d >= 0; d--) {
      if (++coord[d]! < x.dims[d]!) break;
      coord[d] = 0;
    }
  }
  const data = [...Array(numel(outDims)).keys()].map((k) => fold(groups.get(k) ?? []));
  return { dtype: x.dtype, dims: reducedShape(x.dims, axes, keep), data };
}

const sum: Reducer = (xs) => xs.reduce((a, b) => a + b, 0);

/** The rules of this family, listed in registry.ts. */
export const reduceRules: RuleList<OpRule> = [
  ['ReduceSum', reduceRule(sum, 1)],
  ['ReduceMean', reduceRule((xs) => sum(xs) / xs.length, 1)],
  ['ReduceProd', reduceRule((xs) => xs.reduce((a, b) => a * b, 1), 1)],
  ['ReduceMax', reduceRule((xs) => Math.max(...xs), 1)],
  ['ReduceMin', reduceRule((xs) => Math.min(...xs), 1)],
  ['ReduceL1', reduceRule((xs) => sum(xs.map(Math.abs)), 1)],
  [['ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp'], reduceRule(undefined, 2)],
  [['ArgMax', 'ArgMin'], {
    infer: (ctx) => {
      const x = ctx.input(0);
      const axis = normAxis(attrInt(ctx.node.proto, 'axis', 0), x.shape.length, ctx);
      return [{ dtype: DataType.INT64, shape: reducedShape(x.shape, [axis], attrInt(ctx.node.proto, 'keepdims', 1) === 1) }];
    },
    cost: (ctx) => ({ macs: 0, flops: numel(ctx.input(0).shape) }),
  }],
];
