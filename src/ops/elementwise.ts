/** Element-wise ops: activations, arithmetic, comparisons, logic, Where, Clip, Cast. One FLOP per output element. */
import { attrFloat, attrInt } from '../onnx/attributes.js';
import { DataType, isFloatType, numel } from '../onnx/dtype.js';
import { broadcastShapes, mapBroadcast } from './broadcast.js';
import type { RuleList } from '../onnx/op-table.js';
import { badNode, NeedsValueError, type ConstValue, type NodeCost, type OpContext, type OpRule, type TensorInfo } from './types.js';

/** Every present input's value, or NeedsValueError. */
export function knownValues(ctx: OpContext): ConstValue[] {
  return ctx.inputs.flatMap((info, i) => {
    if (!info) return [];
    const v = ctx.value(i);
    if (!v) throw new NeedsValueError();
    return [v];
  });
}

const perElement =
  (flopsPerElement: number) =>
  (_ctx: OpContext, outs: readonly TensorInfo[]): NodeCost => ({ macs: 0, flops: flopsPerElement * numel(outs[0]!.shape) });

const truncIfInt = (dt: DataType, x: number) => (isFloatType(dt) ? x : Math.trunc(x));

/** Same shape and type as input 0; `fn` folds it when the input is known. */
function unary(fn?: (x: number, ctx: OpContext) => number, flops = 1): OpRule {
  return {
    infer: (ctx) => [{ ...ctx.input(0), shape: [...ctx.input(0).shape] }],
    ...(fn && {
      evaluate: (ctx) => {
        const [x] = knownValues(ctx);
        return [{ dtype: x!.dtype, dims: x!.dims, data: x!.data.map((v) => truncIfInt(x!.dtype, fn(v, ctx))) }];
      },
    }),
    cost: perElement(flops),
  };
}

/** Broadcasting n-ary op; output type is input 0's, or bool for comparisons. */
function nary(fn: ((...xs: number[]) => number) | undefined, outType?: DataType, flops = 1): OpRule {
  const infer = (ctx: OpContext): TensorInfo[] => {
    const present = ctx.inputs.filter((i): i is TensorInfo => i !== undefined);
    if (!present.length) throw badNode(ctx, 'it has no inputs');
    return [{ dtype: outType ?? present[0]!.dtype, shape: broadcastShapes(present.map((i) => i.shape), ctx) }];
  };
  return {
    infer,
    ...(fn && {
      evaluate: (ctx) => {
        const vals = knownValues(ctx);
        const [out] = infer(ctx);
        const raw = mapBroadcast(vals, out!.shape, fn);
        return [{ dtype: out!.dtype, dims: out!.shape, data: raw.map((v) => truncIfInt(out!.dtype, v)) }];
      },
    }),
    cost: (ctx, outs) => ({ macs: 0, flops: flops * Math.max(1, ctx.inputs.filter(Boolean).length - 1) * numel(outs[0]!.shape) }),
  };
}

const b = (x: boolean) => (x ? 1 : 0);

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function castValue(v: number, to: DataType): number {
  if (to === DataType.BOOL) return b(v !== 0);
  if (isFloatType(to)) return v;
  return Math.trunc(v);
}

const copy: OpRule = {
  infer: (ctx) => [{ ...ctx.input(0), shape: [...ctx.input(0).shape] }],
  evaluate: (ctx) => {
    const x = ctx.value(0);
    if (!x) throw new NeedsValueError();
    return [x];
  },
  cost: perElement(0),
};

/** The rules of this family, listed in registry.ts. */
export const elementwiseRules: RuleList<OpRule> = [
  ['Add', nary((x, y) => x + y)],
  ['Sub', nary((x, y) => x - y)],
  ['Mul', nary((x, y) => x * y)],
  ['Div', nary((x, y) => x / y)],
  ['Pow', nary((x, y) => x ** y)],
  ['Mod', nary((x, y) => x % y)],
  ['Max', nary((...xs) => Math.max(...xs))],
  ['Min', nary((...xs) => Math.min(...xs))],
  ['Sum', nary((...xs) => xs.reduce((a, c) => a + c, 0))],
  ['Mean', nary((...xs) => xs.reduce((a, c) => a + c, 0) / xs.length)],
  ['PRelu', nary((x, s) => (x < 0 ? s * x : x))],
  ['BitShift', nary(undefined)],
  [['BitwiseAnd', 'BitwiseOr', 'BitwiseXor'], nary(undefined)],
  ['Equal', nary((x, y) => b(x === y), DataType.BOOL)],
  ['Greater', nary((x, y) => b(x > y), DataType.BOOL)],
  ['Less', nary((x, y) => b(x < y), DataType.BOOL)],
  ['GreaterOrEqual', nary((x, y) => b(x >= y), DataType.BOOL)],
  ['LessOrEqual', nary((x, y) => b(x <= y), DataType.BOOL)],
  ['And', nary((x, y) => b(!!x && !!y), DataType.BOOL)],
  ['Or', nary((x, y) => b(!!x || !!y), DataType.BOOL)],
  ['Xor', nary((x, y) => b(!!x !== !!y), DataType.BOOL)],
  ['Where', {
    infer: (ctx) => [{ dtype: ctx.input(1).dtype, shape: broadcastShapes([0, 1, 2].map((i) => ctx.input(i).shape), ctx) }],
    evaluate: (ctx) => {
      const vals = knownValues(ctx);
      const shape = broadcastShapes(vals.map((v) => v.dims), ctx);
      return [{ dtype: vals[1]!.dtype, dims: shape, data: mapBroadcast(vals, shape, (c, x, y) => (c ? x : y)) }];
    },
    cost: perElement(1),
  }],
  ['Neg', unary((x) => -x)],
  ['Abs', unary(Math.abs)],
  ['Floor', unary(Math.floor)],
  ['Ceil', unary(Math.ceil)],
  ['Round', unary((x) => {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; // ONNX rounds half to even
  })],
  ['Sign', unary(Math.sign)],
  ['Sqrt', unary(Math.sqrt)],
  ['Reciprocal', unary((x) => 1 / x)],
  ['Exp', unary(Math.exp)],
  ['Log', unary(Math.log)],
  ['Relu', unary((x) => Math.max(0, x))],
  ['Sigmoid', unary(sigmoid)],
  ['Tanh', unary(Math.tanh)],
  [['Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh'], unary()],
  [['Erf', 'Softplus', 'Softsign', 'Mish', 'Selu', 'Elu', 'Celu', 'Gelu', 'ThresholdedRelu', 'Shrink'], unary()],
  ['LeakyRelu', unary((x, ctx) => (x < 0 ? attrFloat(ctx.node.proto, 'alpha', 0.01) * x : x))],
  ['HardSigmoid', unary((x, ctx) => Math.min(1, Math.max(0, attrFloat(ctx.node.proto, 'alpha', 0.2) * x + attrFloat(ctx.node.proto, 'beta', 0.5))))],
  ['HardSwish', unary((x) => x * Math.min(1, Math.max(0, x / 6 + 0.5)))],
  ['Not', { ...unary((x) => b(!x)), infer: (ctx) => [{ dtype: DataType.BOOL, shape: [...ctx.input(0).shape] }] }],
  [['IsNaN', 'IsInf'], { ...unary(), infer: (ctx) => [{ dtype: DataType.BOOL, shape: [...ctx.input(0).shape] }] }],
  // Clip: bounds are inputs from opset 11, attributes before.
  ['Clip', {
    infer: (ctx) => [{ ...ctx.input(0), shape: [...ctx.input(0).shape] }],
    evaluate: (ctx) => {
      const [x, lo, hi] = [ctx.value(0), ctx.inputs[1] ? ctx.value(1) : undefined, ctx.inputs[2] ? ctx.value(2) : undefined];
      if (!x || (ctx.inputs[1] && !lo) || (ctx.inputs[2] && !hi)) throw new NeedsValueError();
      const min = lo?.data[0] ?? attrFloat(ctx.node.proto, 'min', -Infinity);
      const max = hi?.data[0] ?? attrFloat(ctx.node.proto, 'max', Infinity);
      return [{ ...x, data: x.data.map((v) => Math.min(max, Math.max(min, v))) }];
    },
    cost: perElement(1),
  }],
  ['Cast', {
    infer: (ctx) => [{ dtype: attrInt(ctx.node.proto, 'to', 0) as DataType, shape: [...ctx.input(0).shape] }],
    evaluate: (ctx) => {
      const [x] = knownValues(ctx);
      const to = attrInt(ctx.node.proto, 'to', 0) as DataType;
      return [{ dtype: to, dims: x!.dims, data: x!.data.map((v) => castValue(v, to)) }];
    },
    cost: perElement(0),
  }],
  ['CastLike', {
    infer: (ctx) => [{ dtype: ctx.input(1).dtype, shape: [...ctx.input(0).shape] }],
    evaluate: (ctx) => {
      const x = ctx.value(0);
      if (!x) throw new NeedsValueError();
      const to = ctx.input(1).dtype;
      return [{ dtype: to, dims: x.dims, data: x.data.map((v) => castValue(v, to)) }];
    },
    cost: perElement(0),
  }],
  ['Identity', copy],
  // Dropout at inference is the identity; its optional second output is the mask.
  ['Dropout', {
    ...copy,
    infer: (ctx) => {
      const x = ctx.input(0);
      const out = { dtype: x.dtype, shape: [...x.shape] };
      return ctx.node.outputs.length > 1 ? [out, { dtype: DataType.BOOL, shape: [...x.shape] }] : [out];
    },
    evaluate: undefined,
  }],
];
