/**
 * Gradients of element-wise ops. Masks follow PyTorch at the kinks so results match its autograd exactly:
 * ReLU passes where y > 0, Clip (ReLU6) where min < x < max, HardSwish as torch's hardswish_backward. Masks of
 * float32 ReLU and constant-bound Clip are HardSigmoid indicators (emitter.indicator), which keep ONNX Runtime's
 * NCHWc layout: no reorders around them.
 */
import { attrFloat, attrString } from '../../onnx/attributes.js';
import { DataType } from '../../onnx/dtype.js';
import type { RuleList } from '../../onnx/op-table.js';
import type { GradContext, GradRule, ShapeFacts } from '../rule.js';

const out = (ctx: GradContext): ShapeFacts => ctx.facts(ctx.y(0));

/** The output is float32, the one type ONNX Runtime's HardSigmoid (emitter.indicator) runs on. */
const isFloat32 = (ctx: GradContext): boolean => ctx.facts(ctx.y(0)).dtype === DataType.FLOAT;

/** A Clip bound the node has: its input tensor (none for an attribute, opset < 11) and its value when constant. */
function clipBound(ctx: GradContext, input: number, attr: string): { tensor?: string; value: number | undefined } | undefined {
  if (ctx.node.inputs[input]) {
    const v = ctx.facts(ctx.x(input)).value;
    return { tensor: ctx.x(input), value: v && v.data.length === 1 ? v.data[0] : undefined };
  }
  const value = attrFloat(ctx.node.proto, attr);
  return value === undefined ? undefined : { value };
}

/** A rule for y = f(x) with dx = dy * f'(x) built by `derivative`. */
function unary(derivative: (ctx: GradContext, dy: string) => string) {
  return { grad: (ctx: GradContext) => [ctx.needs(0) ? derivative(ctx, ctx.dy()!) : undefined] };
}

/** A rule for broadcasting binary ops: partials per input, reduced back to each input's shape. */
function binary(partial: (ctx: GradContext, dy: string, i: 0 | 1) => string) {
  return {
    grad: (ctx: GradContext) => ([0, 1] as const).map((i) => (ctx.needs(i) ? ctx.sumTo(partial(ctx, ctx.dy()!, i), out(ctx), ctx.x(i)) : undefined)),
  };
}

/**
 * Max and Min of any number of broadcast operands: dy goes to the operands equal to y, shared evenly among ties
 * (PyTorch's maximum/minimum give each of two tied operands dy / 2).
 */
const extremum: GradRule = {
  grad: (ctx) => {
    const e = ctx.emit;
    const hits = ctx.node.inputs.map((_, j) => e.op('Cast', [e.op('Equal', [ctx.x(j), ctx.y(0)])], { to: ctx.facts(ctx.y(0)).dtype }));
    const share = hits.length === 1 ? ctx.dy()! : e.op('Div', [ctx.dy()!, e.op('Sum', hits)]);
    return hits.map((hit, i) => (ctx.needs(i) ? ctx.sumTo(e.mul(share, hit), out(ctx), ctx.x(i)) : undefined));
  },
};

/** The gradient rules of this family, listed in registry.ts. */
export const elementwiseGradients: RuleList<GradRule> = [
  ['Add', binary((_c, dy) => dy)],
  ['Sub', binary((c, dy, i) => (i === 0 ? dy : c.emit.neg(dy)))],
  ['Mul', binary((c, dy, i) => c.emit.mul(dy, c.x(1 - i)))],
  ['Div', binary((c, dy, i) => (i === 0 ? c.emit.op('Div', [dy, c.x(1)]) : c.emit.neg(c.emit.op('Div', [c.emit.mul(dy, c.y(0)), c.x(1)]))))],
  ['Pow', binary((c, dy, i) => {
      const e = c.emit;
      if (i === 1) return e.mul(dy, e.mul(c.y(0), e.op('Log', [c.x(0)]))); // d/db a^b = a^b ln a
      // the exponent may be of another type than the base (opset 12); both types are known, so Cast, not CastLike (15)
      const bMinus1 = e.sub(c.x(1), e.constant(c.facts(c.x(1)).dtype, [], [1]));
      return e.mul(dy, e.mul(e.op('Cast', [c.x(1)], { to: c.facts(c.x(0)).dtype }), e.op('Pow', [c.x(0), bMinus1])));
    })],
  ['Sum', {
    grad: (ctx) => ctx.node.inputs.map((_, i) => (ctx.needs(i) ? ctx.sumTo(ctx.dy()!, out(ctx), ctx.x(i)) : undefined)),
  }],
  ['Max', extremum],
  ['Min', extremum],
  ['Neg', unary((c, dy) => c.emit.neg(dy))],
  ['Identity', unary((_c, dy) => dy)],
  ['Dropout', unary((_c, dy) => dy)], // inference: the identity
  // inference: the identity
  ['Abs', unary((c, dy) => c.emit.mul(dy, c.emit.sign(c.x(0))))],
  ['Exp', unary((c, dy) => c.emit.mul(dy, c.y(0)))],
  ['Log', unary((c, dy) => c.emit.op('Div', [dy, c.x(0)]))],
  ['Sqrt', unary((c, dy) => c.emit.op('Div', [c.emit.mul(dy, c.emit.scalar(0.5)), c.y(0)]))],
  ['Reciprocal', unary((c, dy) => c.emit.neg(c.emit.mul(dy, c.emit.mul(c.y(0), c.y(0)))))],
  ['Tanh', unary((c, dy) => c.emit.mul(dy, c.emit.sub(c.emit.scalar(1), c.emit.mul(c.y(0), c.y(0)))))],
  ['Sigmoid', unary((c, dy) => c.emit.mul(dy, c.emit.mul(c.y(0), c.emit.sub(c.emit.scalar(1), c.y(0)))))],
  ['Erf', unary((c, dy) => {
      const e = c.emit;
      const gauss = e.op('Exp', [e.neg(e.mul(c.x(0), c.x(0)))]);
      return e.mul(dy, e.mul(gauss, e.scalar(2 / Math.sqrt(Math.PI))));
    })],
  ['Gelu', unary((c, dy) => {
      // none: x Phi(x), d = Phi(x) + x phi(x); tanh: x (1 + tanh u) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3)
      const e = c.emit;
      const x = c.x(0);
      if (attrString(c.node.proto, 'approximate', 'none') === 'tanh') {
        const k = Math.sqrt(2 / Math.PI);
        const x2 = e.mul(x, x);
        const t = e.op('Tanh', [e.mul(e.mul(x, e.add(e.scalar(1), e.mul(x2, e.scalar(0.044715)))), e.scalar(k))]);
        const du = e.mul(e.add(e.scalar(1), e.mul(x2, e.scalar(3 * 0.044715))), e.scalar(k));
        const d = e.add(e.mul(e.add(e.scalar(1), t), e.scalar(0.5)), e.mul(e.mul(x, e.sub(e.scalar(1), e.mul(t, t))), e.mul(du, e.scalar(0.5))));
        return e.mul(dy, d);
      }
      const cdf = e.mul(e.add(e.scalar(1), e.op('Erf', [e.mul(x, e.scalar(Math.SQRT1_2))])), e.scalar(0.5));
      const pdf = e.mul(e.op('Exp', [e.mul(e.mul(x, x), e.scalar(-0.5))]), e.scalar(1 / Math.sqrt(2 * Math.PI)));
      return e.mul(dy, e.add(cdf, e.mul(x, pdf)));
    })],
  ['Relu', unary((c, dy) => (isFloat32(c) ? c.emit.mul(dy, c.emit.indicator(c.y(0), { above: 0 })!) : c.emit.mask(dy, c.emit.op('Greater', [c.y(0), c.emit.scalar(0)]))))],
  ['LeakyRelu', unary((c, dy) => {
      const e = c.emit;
      const alpha = attrFloat(c.node.proto, 'alpha', 0.01);
      return e.where(e.op('Greater', [c.x(0), e.scalar(0)]), dy, e.mul(dy, e.scalar(alpha)));
    })],
  ['Clip', {
    // the bounds are constants of the gradient: a bound computed from the data (a top-dB floor) passes none back
    constantInputs: [1, 2],
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const [low, high] = [clipBound(ctx, 1, 'min'), clipBound(ctx, 2, 'max')];
      if (!low && !high) return [ctx.dy()!];
      // constant bounds: an indicator of y (min < x < max exactly when min < y < max) that keeps the NCHWc layout
      const constant = isFloat32(ctx) && [low, high].every((b) => !b || b.value !== undefined);
      const keep = constant ? e.indicator(ctx.y(0), { ...(low ? { above: low.value! } : {}), ...(high ? { below: high.value! } : {}) }) : undefined;
      if (keep) return [e.mul(ctx.dy()!, keep)];
      const tests = [low && e.op('Greater', [ctx.x(0), low.tensor ?? e.scalar(low.value!)]), high && e.op('Less', [ctx.x(0), high.tensor ?? e.scalar(high.value!)])].filter((t) => t !== undefined);
      return [e.mask(ctx.dy()!, tests.length === 2 ? e.op('And', tests) : tests[0]!)];
    },
  }],
  ['HardSigmoid', unary((c, dy) => {
      const e = c.emit;
      const [alpha, beta] = [attrFloat(c.node.proto, 'alpha', 0.2), attrFloat(c.node.proto, 'beta', 0.5)];
      const inner = e.add(e.mul(c.x(0), e.scalar(alpha)), e.scalar(beta));
      const inside = e.op('And', [e.op('Greater', [inner, e.scalar(0)]), e.op('Less', [inner, e.scalar(1)])]);
      return e.mask(e.mul(dy, e.scalar(alpha)), inside);
    })],
  ['HardSwish', unary((c, dy) => {
      const e = c.emit;
      const x = c.x(0);
      const slope = e.add(e.op('Div', [x, e.scalar(3)]), e.scalar(0.5));
      const middle = e.op('Where', [e.op('LessOrEqual', [x, e.scalar(3)]), e.mul(dy, slope), dy]);
      return e.mask(middle, e.op('GreaterOrEqual', [x, e.scalar(-3)]));
    })],
  // only float -> float casts carry a gradient: integer and bool tensors never require one (see backward.ts)
  ['Cast', { grad: (ctx) => [ctx.needs(0) ? ctx.emit.op('Cast', [ctx.dy()!], { to: ctx.facts(ctx.x(0)).dtype }) : undefined] }],
  // piecewise-constant: zero gradient almost everywhere, as in PyTorch
  [['Floor', 'Ceil', 'Round', 'Sign'], { grad: (ctx) => ctx.node.inputs.map(() => undefined) }],
  ['Where', {
    grad: (ctx) => {
      const e = ctx.emit;
      const dy = ctx.dy()!;
      const zero = e.constant(ctx.facts(ctx.y(0)).dtype, [], [0]);
      return [
        undefined,
        ctx.needs(1) ? ctx.sumTo(e.op('Where', [ctx.x(0), dy, zero]), out(ctx), ctx.x(1)) : undefined,
        ctx.needs(2) ? ctx.sumTo(e.op('Where', [ctx.x(0), zero, dy]), out(ctx), ctx.x(2)) : undefined,
      ];
    },
  }],
];
