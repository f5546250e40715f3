/** Normalisations and softmax. GroupNormalization recomputes its groups' statistics; LayerNormalization reads the mean and inverse std-dev its forward node can output. */
import { attrFloat, attrInt } from '../../onnx/attributes.js';
import type { RuleList } from '../../onnx/op-table.js';
import { axisOf, type GradContext, type GradRule } from '../rule.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/** Axes a softmax normalises over: its axis (opset >= 13) or all axes from it on (older opsets flatten to 2-D). */
function softmaxAxes(ctx: GradContext): number[] {
  const rank = ctx.facts(ctx.x(0)).shape.length;
  const axis = axisOf(attrInt(ctx.node.proto, 'axis', ctx.opset >= 13 ? -1 : 1), rank);
  return ctx.opset >= 13 ? [axis] : range(axis, rank);
}

/** The gradient rules of this family, listed in registry.ts. */
export const normGradients: RuleList<GradRule> = [
  ['LayerNormalization', {
    auxOutputs: () => 3,
    grad: (ctx) => {
      const e = ctx.emit;
      const rank = ctx.facts(ctx.x(0)).shape.length;
      const axes = range(axisOf(attrInt(ctx.node.proto, 'axis', -1), rank), rank);
      const dy = ctx.dy()!;
      const xhat = e.mul(e.sub(ctx.x(0), ctx.y(1)), ctx.y(2));
      let dx: string | undefined;
      if (ctx.needs(0)) {
        const g = e.mul(dy, ctx.x(1));
        const centred = e.sub(g, e.reduceMean(g, axes, true));
        dx = e.mul(ctx.y(2), e.sub(centred, e.mul(xhat, e.reduceMean(e.mul(g, xhat), axes, true))));
      }
      const y = ctx.facts(ctx.y(0));
      return [
        dx,
        ctx.needs(1) ? ctx.sumTo(e.mul(dy, xhat), y, ctx.x(1)) : undefined,
        ctx.node.inputs[2] && ctx.needs(2) ? ctx.sumTo(dy, y, ctx.x(2)) : undefined,
      ];
    },
  }],
  ['GroupNormalization', {
    // each group's channels normalised together: a layer norm over [N, G, C/G x spatial]; scale and bias are per
    // group at opset 18 and per channel from 21
    grad: (ctx) => {
      const e = ctx.emit;
      const shape = ctx.facts(ctx.x(0)).shape;
      const [channels, groups] = [shape[1]!, attrInt(ctx.node.proto, 'num_groups', 1)];
      const perGroup = ctx.opset < 21;
      const grouped = (t: string) => e.op('Reshape', [t, e.ints([0, groups, -1])]);
      const perChannel = (t: string) => {
        const c = perGroup ? e.op('Reshape', [e.op('Expand', [e.unsqueeze(t, [1]), e.ints([groups, channels / groups])]), e.ints([channels])]) : t;
        return e.unsqueeze(c, range(1, shape.length - 1)); // [C] -> [C, 1, ...]
      };
      const xr = grouped(ctx.x(0));
      const centred = e.sub(xr, e.reduceMean(xr, [2], true));
      const invStd = e.op('Reciprocal', [e.op('Sqrt', [e.add(e.reduceMean(e.mul(centred, centred), [2], true), e.scalar(attrFloat(ctx.node.proto, 'epsilon', 1e-5)))])]);
      const xhat = e.mul(centred, invStd);
      const dy = ctx.dy()!;
      let dx: string | undefined;
      if (ctx.needs(0)) {
        const g = grouped(e.mul(dy, perChannel(ctx.x(1))));
        const dxr = e.mul(invStd, e.sub(e.sub(g, e.reduceMean(g, [2], true)), e.mul(xhat, e.reduceMean(e.mul(g, xhat), [2], true))));
        dx = e.reshapeLike(dxr, ctx.x(0));
      }
      const overAllButChannels = [0, ...range(2, shape.length)];
      const reduced = (t: string) => (perGroup ? e.reduceSum(grouped(t), [0, 2], false) : e.reduceSum(t, overAllButChannels, false));
      return [
        dx,
        ctx.needs(1) ? reduced(e.mul(dy, e.reshapeLike(xhat, ctx.x(0)))) : undefined,
        ctx.needs(2) ? reduced(dy) : undefined,
      ];
    },
  }],
  ['BatchNormalization', {
    unsupported: (ctx) => (attrInt(ctx.node.proto, 'training_mode', 0) ? 'BatchNormalization in training mode (export the model in eval mode)' : undefined),
    grad: (ctx) => {
      const e = ctx.emit;
      const rank = ctx.facts(ctx.x(0)).shape.length;
      const perChannel = (t: string) => e.unsqueeze(t, range(1, rank - 1)); // [C] -> [C, 1, ...]
      const dy = ctx.dy()!;
      const invStd = e.op('Reciprocal', [e.op('Sqrt', [e.add(ctx.x(4), e.scalar(attrFloat(ctx.node.proto, 'epsilon', 1e-5)))])]);
      const overAllButChannels = [0, ...range(2, rank)];
      const centred = () => e.sub(ctx.x(0), perChannel(ctx.x(3)));
      const gain = () => e.mul(ctx.x(1), invStd); // scale / sqrt(var + eps), per channel
      const sumDy = () => e.reduceSum(dy, overAllButChannels, false);
      // d/dvar of (x - mean) * scale * (var + eps)^-1/2 = -1/2 (x - mean) scale (var + eps)^-3/2
      const dVar = () => e.mul(e.reduceSum(e.mul(dy, centred()), overAllButChannels, false), e.mul(gain(), e.mul(e.mul(invStd, invStd), e.scalar(-0.5))));
      return [
        ctx.needs(0) ? e.mul(dy, perChannel(gain())) : undefined,
        ctx.needs(1) ? e.reduceSum(e.mul(dy, e.mul(centred(), perChannel(invStd))), overAllButChannels, false) : undefined,
        ctx.needs(2) ? sumDy() : undefined,
        ctx.needs(3) ? e.neg(e.mul(sumDy(), gain())) : undefined,
        ctx.needs(4) ? dVar() : undefined,
      ];
    },
  }],
  ['Softmax', {
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const [dy, y] = [ctx.dy()!, ctx.y(0)];
      return [e.mul(y, e.sub(dy, e.reduceSum(e.mul(dy, y), softmaxAxes(ctx), true)))];
    },
  }],
  ['LogSoftmax', {
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const dy = ctx.dy()!;
      return [e.sub(dy, e.mul(e.op('Exp', [ctx.y(0)]), e.reduceSum(dy, softmaxAxes(ctx), true)))];
    },
  }],
];
