/**
 * Normalisations and softmax. FLOPs per element: BatchNormalization at inference 2 (scale and shift folded),
 * Layer/Instance/Group/MeanVariance normalisation 8 (mean, variance, normalise, scale, shift), LRN size + 3,
 * Softmax/LogSoftmax 5 (max, subtract, exp, sum, divide), Hardmax 1.
 */
import { attrInt } from '../onnx/attributes.js';
import { DataType, numel } from '../onnx/dtype.js';
import type { RuleList } from '../onnx/op-table.js';
import { normAxis, type OpContext, type OpRule, type TensorInfo } from './types.js';

const sameAsInput = (ctx: OpContext): TensorInfo => ({ dtype: ctx.input(0).dtype, shape: [...ctx.input(0).shape] });

const perElement = (flops: number | ((ctx: OpContext) => number)): OpRule['cost'] => (ctx) => ({
  macs: 0,
  flops: (typeof flops === 'number' ? flops : flops(ctx)) * numel(ctx.input(0).shape),
});

/** The rules of this family, listed in registry.ts. */
export const normRules: RuleList<OpRule> = [
  ['BatchNormalization', {
    // inference form; the training-mode outputs (running mean/var) are per channel
    infer: (ctx) => {
      const c = ctx.input(0).shape[1] ?? 1;
      return ctx.node.outputs.map((_, i) => (i === 0 ? sameAsInput(ctx) : { dtype: ctx.input(0).dtype, shape: [c] }));
    },
    cost: perElement(2),
  }],
  [['InstanceNormalization', 'GroupNormalization', 'MeanVarianceNormalization', 'LpNormalization'], { infer: (ctx) => [sameAsInput(ctx)], cost: perElement(8) }],
  ['LayerNormalization', {
    infer: (ctx) => {
      const x = ctx.input(0);
      const axis = normAxis(attrInt(ctx.node.proto, 'axis', -1), x.shape.length, ctx);
      const stats = { dtype: DataType.FLOAT, shape: x.shape.map((d, i) => (i < axis ? d : 1)) };
      return ctx.node.outputs.map((_, i) => (i === 0 ? sameAsInput(ctx) : { ...stats, shape: [...stats.shape] }));
    },
    cost: perElement(8),
  }],
  ['LRN', { infer: (ctx) => [sameAsInput(ctx)], cost: perElement((ctx) => attrInt(ctx.node.proto, 'size', 1) + 3) }],
  [['Softmax', 'LogSoftmax'], { infer: (ctx) => [sameAsInput(ctx)], cost: perElement(5) }],
  ['Hardmax', { infer: (ctx) => [sameAsInput(ctx)], cost: perElement(1) }],
];
