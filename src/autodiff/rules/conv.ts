/**
 * Conv and ConvTranspose. The input gradient of a convolution is the transposed convolution of dy with the same
 * weight (and vice versa); the weight gradient correlates the input with dy, computed as one more convolution with
 * batch and channels swapped (stride and dilation trade places). Grouped weights are done group by group.
 */
import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import { convWindow, type Window } from '../../ops/conv.js';
import type { Emitter } from '../../onnx/emitter.js';
import type { RuleList } from '../../onnx/op-table.js';
import type { GradContext, GradRule } from '../rule.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

function geometry(ctx: GradContext, data: string, weight: string): { w: Window; rank: number } {
  const x = ctx.facts(data);
  const kernel = attrInts(ctx.node.proto, 'kernel_shape') ?? ctx.facts(weight).shape.slice(2);
  return { w: convWindow(ctx.node.proto, x.shape.slice(2), kernel), rank: x.shape.length };
}

const pads = (w: Window, padEnd = w.padEnd) => [...w.padBegin, ...padEnd];

/**
 * Correlate `input` with `filter` over the batch: out[c, m, k] = sum_n sum_o input[n, c, o*step + k*spacing] *
 * filter[n, m, o] — the weight gradient of a convolution with batch and channels swapped. Cropped to `kernel`.
 */
function correlateOverBatch(e: Emitter, input: string, filter: string, w: Window, rank: number, step: number[], spacing: number[]): string {
  const swap = [1, 0, ...range(2, rank)];
  const r = e.op('Conv', [e.op('Transpose', [input], { perm: swap }), e.op('Transpose', [filter], { perm: swap })], { strides: step, dilations: spacing, pads: pads(w) });
  const cropped = e.slice(r, w.kernel.map(() => 0), w.kernel, range(2, rank));
  return e.op('Transpose', [cropped], { perm: swap });
}

/** Per-group weight gradients, concatenated along the output-channel axis. */
function groupedWeightGrad(ctx: GradContext, a: string, b: string, group: number, one: (a: string, b: string) => string): string {
  if (group === 1) return one(a, b);
  const e = ctx.emit;
  const as = e.node('Split', [a], { axis: 1, ...(ctx.opset >= 18 ? { num_outputs: group } : {}) }, { outputs: group });
  const bs = e.node('Split', [b], { axis: 1, ...(ctx.opset >= 18 ? { num_outputs: group } : {}) }, { outputs: group });
  return e.op('Concat', as.map((ai, i) => one(ai, bs[i]!)), { axis: 0 });
}

/** Pads of the flipped convolution giving a stride-1 conv's input gradient, or undefined when it does not apply. */
function flippedConvPads(w: Window): number[] | undefined {
  if (w.strides.some((s) => s !== 1)) return undefined;
  const reach = w.kernel.map((k, i) => (k - 1) * w.dilations[i]!);
  const begin = reach.map((r, i) => r - w.padBegin[i]!);
  const end = reach.map((r, i) => r - w.padEnd[i]!);
  return [...begin, ...end].every((p) => p >= 0) ? [...begin, ...end] : undefined;
}

/** W [M, C/g, k...] -> per group transposed to [C, M/g, k...] and flipped along every spatial axis. */
function flippedWeight(ctx: GradContext, weight: string, group: number, rank: number): string {
  const e = ctx.emit;
  const [m, cg, ...kernel] = ctx.facts(weight).shape as number[];
  const spatial = range(2, rank);
  const grouped = e.op('Reshape', [weight, e.ints([group, m! / group, cg!, ...kernel])]);
  const swapped = e.op('Transpose', [grouped], { perm: [0, 2, 1, ...spatial.map((a) => a + 1)] });
  const transposed = e.op('Reshape', [swapped, e.ints([group * cg!, m! / group, ...kernel])]);
  return e.slice(transposed, spatial.map(() => -1), spatial.map(() => -(2 ** 62)), spatial, spatial.map(() => -1));
}

const biasGrad = (ctx: GradContext, dy: string, rank: number) => ctx.emit.reduceSum(dy, [0, ...range(2, rank)], false);

/** The gradient rules of this family, listed in registry.ts. */
export const convGradients: RuleList<GradRule> = [
  ['Conv', {
    grad: (ctx) => {
      const e = ctx.emit;
      const dy = ctx.dy()!;
      const { w, rank } = geometry(ctx, ctx.x(0), ctx.x(1));
      const group = attrInt(ctx.node.proto, 'group', 1);
      let dx: string | undefined;
      if (ctx.needs(0)) {
        const flipped = flippedConvPads(w);
        if (flipped && ctx.facts(ctx.x(1)).isStatic && ctx.opset >= 10) {
          // stride 1 with a constant weight: dx is an ordinary convolution of dy with the weight flipped in space
          // (a Slice with step -1: opset 10)
          // and transposed per group. ORT folds the weight rearrangement at load and runs its fast Conv kernels.
          dx = e.op('Conv', [dy, flippedWeight(ctx, ctx.x(1), group, rank)], { group, dilations: w.dilations, kernel_shape: w.kernel, pads: flipped });
        } else {
          // output_padding (or extra end padding) so the transposed convolution lands exactly on x's size
          const xs = ctx.facts(ctx.x(0)).shape.slice(2);
          const ys = ctx.facts(ctx.y(0)).shape.slice(2);
          const base = ys.map((o, i) => (o - 1) * w.strides[i]! - w.padBegin[i]! - w.padEnd[i]! + (w.kernel[i]! - 1) * w.dilations[i]! + 1);
          const extra = xs.map((d, i) => d - base[i]!);
          dx = e.op('ConvTranspose', [dy, ctx.x(1)], {
            strides: w.strides,
            dilations: w.dilations,
            group,
            kernel_shape: w.kernel,
            pads: pads(w, w.padEnd.map((p, i) => p + Math.max(0, -extra[i]!))),
            output_padding: extra.map((x) => Math.max(0, x)),
          });
        }
      }
      const dw = ctx.needs(1) ? groupedWeightGrad(ctx, ctx.x(0), dy, group, (xg, dyg) => correlateOverBatch(e, xg, dyg, w, rank, w.dilations, w.strides)) : undefined;
      const db = ctx.node.inputs[2] && ctx.needs(2) ? biasGrad(ctx, dy, rank) : undefined;
      return [dx, dw, db];
    },
  }],
  ['ConvTranspose', {
    unsupported: (ctx) =>
      attrString(ctx.node.proto, 'auto_pad', 'NOTSET') !== 'NOTSET' || attrInts(ctx.node.proto, 'output_shape')
        ? 'ConvTranspose with auto_pad or output_shape (export it with explicit pads)'
        : undefined,
    grad: (ctx) => {
      const e = ctx.emit;
      const dy = ctx.dy()!;
      const { w, rank } = geometry(ctx, ctx.x(0), ctx.x(1));
      const group = attrInt(ctx.node.proto, 'group', 1);
      const dx = ctx.needs(0) ? e.op('Conv', [dy, ctx.x(1)], { strides: w.strides, dilations: w.dilations, group, kernel_shape: w.kernel, pads: pads(w) }) : undefined;
      const dw = ctx.needs(1) ? groupedWeightGrad(ctx, dy, ctx.x(0), group, (dyg, xg) => correlateOverBatch(e, dyg, xg, w, rank, w.dilations, w.strides)) : undefined;
      const db = ctx.node.inputs[2] && ctx.needs(2) ? biasGrad(ctx, dy, rank) : undefined;
      return [dx, dw, db];
    },
  }],
];
