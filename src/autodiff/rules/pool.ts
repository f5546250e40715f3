/**
 * Pooling. MaxPool routes dy to the argmax of each window (the first maximum, as PyTorch): the forward node is
 * asked for its Indices output and dy is put there — by MaxUnpool when windows do not overlap, else scatter-added
 * (overlapping windows add up). AveragePool spreads dy / window-count back with a
 * depthwise transposed convolution of ones; the counts are constants of the shapes.
 */
import { attrInt, attrInts } from '../../onnx/attributes.js';
import { DataType, numel } from '../../onnx/dtype.js';
import { convWindow, type Window } from '../../ops/conv.js';
import type { RuleList } from '../../onnx/op-table.js';
import type { GradContext, GradRule } from '../rule.js';

function window(ctx: GradContext): Window {
  return convWindow(ctx.node.proto, ctx.facts(ctx.x(0)).shape.slice(2), attrInts(ctx.node.proto, 'kernel_shape')!);
}

const overlapping = (w: Window) => w.kernel.some((k, i) => (k - 1) * w.dilations[i]! + 1 > w.strides[i]!);

/** How many elements each averaging window divides by, per output position (ONNX/PyTorch semantics). */
function windowCounts(w: Window, inSpatial: readonly number[], outSpatial: readonly number[], includePad: boolean): number[] {
  const perAxis = outSpatial.map((o, i) =>
    Array.from({ length: o }, (_, j) => {
      const start = j * w.strides[i]! - w.padBegin[i]!;
      const lo = includePad ? -w.padBegin[i]! : 0;
      const hi = includePad ? inSpatial[i]! + w.padEnd[i]! : inSpatial[i]!;
      let n = 0;
      for (let k = 0; k < w.kernel[i]!; k++) {
        const p = start + k * w.dilations[i]!;
        if (p >= lo && p < hi) n++;
      }
      return n;
    }),
  );
  return perAxis.reduce<number[]>((acc, axis) => acc.flatMap((a) => axis.map((c) => a * c)), [1]);
}

/** The gradient rules of this family, listed in registry.ts. */
export const poolGradients: RuleList<GradRule> = [
  ['MaxPool', {
    auxOutputs: () => 2,
    // the Indices output exists from opset 8, a scatter from 9; overlapping windows add up: reduction 'add', 16
    opsetNeeded: (ctx) => (overlapping(convWindow(ctx.node.proto, ctx.facts(ctx.x(0)).shape.slice(2), attrInts(ctx.node.proto, 'kernel_shape')!)) ? 16 : 9),
    unsupported: (ctx) => (attrInt(ctx.node.proto, 'storage_order', 0) !== 0 ? 'MaxPool with column-major indices (storage_order=1)' : undefined),
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const w = window(ctx);
      const xFacts = ctx.facts(ctx.x(0));
      const spatialFixed = [...xFacts.shapeAt.values()].every((shape) => shape.slice(2).every((d, i) => d === xFacts.shape[i + 2]));
      if (!overlapping(w) && spatialFixed) {
        // every input element lies in at most one window, so the indices are distinct: MaxUnpool (opset 9) puts dy
        // at them in one pass, without the scatter's flattening, zero tensor and index checks
        // (ORT refuses an output_shape below the one the attributes imply: end pads absorb ceil_mode's extra row,
        // computed at the analysed size, hence fixed spatial dims only)
        const xs = xFacts.shape.slice(2);
        const implied = ctx.facts(ctx.y(0)).shape.slice(2).map((o, i) => (o - 1) * w.strides[i]! + w.kernel[i]! - w.padBegin[i]! - w.padEnd[i]!);
        const pads = [...w.padBegin, ...w.padEnd.map((p, i) => p + Math.max(0, implied[i]! - xs[i]!))];
        return [e.op('MaxUnpool', [ctx.dy()!, ctx.y(1), e.shapeOf(ctx.x(0))], { kernel_shape: w.kernel, strides: w.strides, pads })];
      }
      const flat = (t: string) => e.op('Reshape', [t, e.ints([-1])]);
      const scattered = e.scatterAdd(flat(e.zerosLike(ctx.x(0))), flat(ctx.y(1)), flat(ctx.dy()!), 0);
      return [e.reshapeLike(scattered, ctx.x(0))];
    },
  }],
  ['AveragePool', {
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const w = window(ctx);
      const x = ctx.facts(ctx.x(0)).shape;
      const ys = ctx.facts(ctx.y(0)).shape.slice(2);
      const channels = x[1]!;
      const counts = windowCounts(w, x.slice(2), ys, attrInt(ctx.node.proto, 'count_include_pad', 0) === 1);
      const uniform = counts.every((c) => c === counts[0]);
      const divisor = uniform ? e.scalar(counts[0]!) : e.constant(DataType.FLOAT, [1, 1, ...ys], counts);
      const ones = e.constant(DataType.FLOAT, [channels, 1, ...w.kernel], new Array<number>(channels * numel(w.kernel)).fill(1));
      const base = ys.map((o, i) => (o - 1) * w.strides[i]! - w.padBegin[i]! - w.padEnd[i]! + (w.kernel[i]! - 1) * w.dilations[i]! + 1);
      const extra = x.slice(2).map((d, i) => d - base[i]!);
      const dx = e.op('ConvTranspose', [e.op('Div', [ctx.dy()!, divisor]), ones], {
        group: channels,
        strides: w.strides,
        dilations: w.dilations,
        kernel_shape: w.kernel,
        pads: [...w.padBegin, ...w.padEnd.map((p, i) => p + Math.max(0, -extra[i]!))],
        output_padding: extra.map((v) => Math.max(0, v)),
      });
      return [dx];
    },
  }],
  ['GlobalAveragePool', {
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const area = numel(ctx.facts(ctx.x(0)).shape.slice(2));
      return [e.expandLike(e.mul(ctx.dy()!, e.scalar(1 / area)), ctx.x(0))];
    },
  }],
];
