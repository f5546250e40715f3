/**
 * LSTM (ONNX's default cell: forward, gates i, o, f, c with sigmoid / tanh / tanh, no peepholes, no clip), as the
 * audio models' decoders use it (Silero VAD). The rule recomputes the cell step by step in the backward graph
 * (the sequence length is a constant of the shapes) and runs back through time:
 *
 *   g = x W^T + h R^T + Wb + Rb = [i, o, f, c~] pre-activations;  c' = f c + i c~;  h' = o tanh(c')
 *   dc += dh o (1 - tanh^2 c');  do = dh tanh c';  di = dc c~;  df = dc c;  dc~ = dc i
 *   dg = [di i (1 - i), do o (1 - o), df f (1 - f), dc~ (1 - c~^2)];  dx = dg W;  dh_prev = dg R;  dc_prev = dc f
 *
 * Gradients go to X, initial_h and initial_c; the weights are held constant (what saliency needs).
 */
import { attrFloat, attrInt, attrString } from '../../onnx/attributes.js';
import type { RuleList } from '../../onnx/op-table.js';
import type { GradContext, GradRule } from '../rule.js';

/** Inputs of LSTM: X, W, R, B, sequence_lens, initial_h, initial_c, P. */
const [X, W, R, B, SEQUENCE_LENS, INITIAL_H, INITIAL_C, P] = [0, 1, 2, 3, 4, 5, 6, 7];
const DEFAULT_ACTIVATIONS = ['Sigmoid', 'Tanh', 'Tanh'];

/** One cell step's forward values in the backward graph ([B, H] each; c undefined: the zero initial state). */
interface Step {
  i: string;
  o: string;
  f: string;
  g: string;
  cPrev: string | undefined;
  tanhC: string;
}

function lstmGrad(ctx: GradContext): (string | undefined)[] {
  const e = ctx.emit;
  const steps = ctx.facts(ctx.x(X)).shape[0]!;
  const hidden = attrInt(ctx.node.proto, 'hidden_size', 0) || ctx.facts(ctx.x(R)).shape[2]!;
  const has = (k: number) => !!ctx.node.inputs[k];
  // weights per direction [1, 4H, I] and [1, 4H, H] -> [4H, I], [4H, H]; the two biases summed to [4H]
  const w = e.squeeze(ctx.x(W), [0]);
  const r = e.squeeze(ctx.x(R), [0]);
  const [wT, rT] = [e.op('Transpose', [w], { perm: [1, 0] }), e.op('Transpose', [r], { perm: [1, 0] })];
  const bias = has(B) ? e.add(e.slice(e.squeeze(ctx.x(B), [0]), [0], [4 * hidden], [0]), e.slice(e.squeeze(ctx.x(B), [0]), [4 * hidden], [8 * hidden], [0])) : undefined;
  const gate = (pre: string, k: number) => e.slice(pre, [k * hidden], [(k + 1) * hidden], [1]);
  const oneMinus = (v: string) => e.sub(e.scalar(1), v);

  // forward through time, keeping what the backward pass reads
  let h = has(INITIAL_H) ? e.squeeze(ctx.x(INITIAL_H), [0]) : undefined;
  let c = has(INITIAL_C) ? e.squeeze(ctx.x(INITIAL_C), [0]) : undefined;
  const forward: Step[] = [];
  for (let t = 0; t < steps; t++) {
    const x = e.squeeze(e.slice(ctx.x(X), [t], [t + 1], [0]), [0]);
    let pre = e.op('MatMul', [x, wT]);
    if (h) pre = e.add(pre, e.op('MatMul', [h, rT]));
    if (bias) pre = e.add(pre, bias);
    const [i, o, f] = [0, 1, 2].map((k) => e.op('Sigmoid', [gate(pre, k)])) as [string, string, string];
    const g = e.op('Tanh', [gate(pre, 3)]);
    const cNext = c ? e.add(e.mul(f, c), e.mul(i, g)) : e.mul(i, g);
    const tanhC = e.op('Tanh', [cNext]);
    forward.push({ i, o, f, g, cPrev: c, tanhC });
    [h, c] = [e.mul(o, tanhC), cNext];
  }

  // back through time: dY [T, 1, B, H] per step, dY_h and dY_c [1, B, H] into the last step
  const dY = ctx.dy(0);
  let dh = ctx.dy(1) ? e.squeeze(ctx.dy(1)!, [0]) : undefined;
  let dc = ctx.dy(2) ? e.squeeze(ctx.dy(2)!, [0]) : undefined;
  const dxs: string[] = [];
  for (let t = steps - 1; t >= 0; t--) {
    const s = forward[t]!;
    if (dY) {
      const here = e.squeeze(e.slice(dY, [t], [t + 1], [0]), [0, 1]);
      dh = dh ? e.add(dh, here) : here;
    }
    const fromH = dh ? e.mul(e.mul(dh, s.o), oneMinus(e.mul(s.tanhC, s.tanhC))) : undefined;
    const dcAll = dc && fromH ? e.add(dc, fromH) : (dc ?? fromH);
    const zero = e.mul(s.i, e.scalar(0));
    const dO = dh ? e.mul(dh, s.tanhC) : zero;
    const [di, df, dg] = dcAll ? [e.mul(dcAll, s.g), s.cPrev ? e.mul(dcAll, s.cPrev) : zero, e.mul(dcAll, s.i)] : [zero, zero, zero];
    const dPre = e.op('Concat', [
      e.mul(di, e.mul(s.i, oneMinus(s.i))),
      e.mul(dO, e.mul(s.o, oneMinus(s.o))),
      e.mul(df, e.mul(s.f, oneMinus(s.f))),
      e.mul(dg, oneMinus(e.mul(s.g, s.g))),
    ], { axis: 1 });
    dxs.unshift(e.unsqueeze(e.op('MatMul', [dPre, w]), [0]));
    dh = e.op('MatMul', [dPre, r]);
    dc = dcAll ? e.mul(dcAll, s.f) : undefined;
  }
  const dx = steps === 1 ? dxs[0]! : e.op('Concat', dxs, { axis: 0 });
  // some gradient arrives at the node (it is on the path), so after a step back dh and dc both carry one
  return [
    ctx.needs(X) ? dx : undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    has(INITIAL_H) && ctx.needs(INITIAL_H) ? e.unsqueeze(dh!, [0]) : undefined,
    has(INITIAL_C) && ctx.needs(INITIAL_C) ? e.unsqueeze(dc!, [0]) : undefined,
  ];
}

/** The gradient rules of this family, listed in registry.ts. */
export const recurrentGradients: RuleList<GradRule> = [
  ['LSTM', {
    unsupported: (ctx) => {
      const p = ctx.node.proto;
      if (attrString(p, 'direction', 'forward') !== 'forward') return `LSTM in direction ${attrString(p, 'direction', '')} (only forward)`;
      if (attrInt(p, 'layout', 0) !== 0) return 'LSTM with layout 1 (batch first)';
      if (attrInt(p, 'input_forget', 0) !== 0) return 'LSTM with input_forget';
      if (attrFloat(p, 'clip') !== undefined) return 'LSTM with a cell clip';
      const activations = p.attribute?.find((a) => a.name === 'activations')?.strings?.map((b) => new TextDecoder().decode(b));
      if (activations?.length && activations.join() !== DEFAULT_ACTIVATIONS.join()) return `LSTM with activations ${activations.join(', ')}`;
      if (ctx.node.inputs[SEQUENCE_LENS] || ctx.node.inputs[P]) return 'LSTM with sequence lengths or peepholes';
      if ([W, R, B].some((k) => ctx.needs(k))) return 'the gradient of LSTM weights (held constant)';
      return undefined;
    },
    grad: lstmGrad,
  }],
];
