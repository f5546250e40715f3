/**
 * LSTM (ONNX's default cell: forward, gates i, o, f, c with sigmoid / tanh / tanh, no peepholes, no clip), as the
 * audio models' decoders use it (Silero VAD), and GRU (gates z, r, h with sigmoid / tanh; either
 * linear_before_reset, which PyTorch exports as 1). The rules recompute the cell step by step in the backward graph
 * (the sequence length is a constant of the shapes) and run back through time. LSTM:
 *
 *   g = x W^T + h R^T + Wb + Rb = [i, o, f, c~] pre-activations;  c' = f c + i c~;  h' = o tanh(c')
 *   dc += dh o (1 - tanh^2 c');  do = dh tanh c';  di = dc c~;  df = dc c;  dc~ = dc i
 *   dg = [di i (1 - i), do o (1 - o), df f (1 - f), dc~ (1 - c~^2)];  dx = dg W;  dh_prev = dg R;  dc_prev = dc f
 *
 * GRU, with a = h Rh^T + Rbh (linear_before_reset 1: h~ = tanh(x Wh^T + Wbh + r a); 0: tanh(x Wh^T + Wbh + (r h) Rh^T + Rbh)):
 *
 *   h' = (1 - z) h~ + z h;  dz = dh (h - h~);  dh~ = dh (1 - z);  dph = dh~ (1 - h~^2)
 *   1: dr = dph a;  dh_prev = dh z + [dpz, dpr, dph r] R     0: drh = dph Rh;  dr = drh h;  dh_prev = dh z + [dpz, dpr] R_zr + drh r
 *   dx = [dpz, dpr, dph] W, with dpz = dz z (1 - z), dpr = dr r (1 - r)
 *
 * Gradients go to X and the initial states; the weights are held constant (what saliency needs).
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

/** dh into step t: what flows back from step t + 1 plus the step's own output gradient dY[t] (dY is [T, 1, B, H]). */
function withStepOutputGradient(e: GradContext['emit'], dY: string | undefined, t: number, dh: string | undefined): string | undefined {
  if (!dY) return dh;
  const here = e.squeeze(e.slice(dY, [t], [t + 1], [0]), [0, 1]);
  return dh ? e.add(dh, here) : here;
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
    dh = withStepOutputGradient(e, dY, t, dh);
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

/** GRU inputs: X, W, R, B, sequence_lens, initial_h. */
const GRU_DEFAULT_ACTIVATIONS = ['Sigmoid', 'Tanh'];

function gruGrad(ctx: GradContext): (string | undefined)[] {
  const e = ctx.emit;
  const steps = ctx.facts(ctx.x(X)).shape[0]!;
  const hidden = attrInt(ctx.node.proto, 'hidden_size', 0) || ctx.facts(ctx.x(R)).shape[2]!;
  const beforeReset = attrInt(ctx.node.proto, 'linear_before_reset', 0) !== 0;
  const has = (k: number) => !!ctx.node.inputs[k];
  const w = e.squeeze(ctx.x(W), [0]);
  const r = e.squeeze(ctx.x(R), [0]);
  const rows = (m: string, k0: number, k1: number) => e.slice(m, [k0 * hidden], [k1 * hidden], [0]);
  const transposed = (m: string) => e.op('Transpose', [m], { perm: [1, 0] });
  const [wT, rZrT, rhT] = [transposed(w), transposed(rows(r, 0, 2)), transposed(rows(r, 2, 3))];
  const bias = has(B) ? e.squeeze(ctx.x(B), [0]) : undefined;
  const biasOf = (k0: number, k1: number) => (bias ? e.slice(bias, [k0 * hidden], [k1 * hidden], [0]) : undefined);
  // x's biases for z, r, h plus R's for z and r; R's for h stays inside the reset
  const [wb, rbZr, rbh] = [biasOf(0, 3), biasOf(3, 5), biasOf(5, 6)];
  const gate = (pre: string, k: number) => e.slice(pre, [k * hidden], [(k + 1) * hidden], [1]);
  const oneMinus = (v: string) => e.sub(e.scalar(1), v);
  const plus = (a: string, b: string | undefined) => (b ? e.add(a, b) : a);

  let h: string | undefined = has(INITIAL_H) ? e.squeeze(ctx.x(INITIAL_H), [0]) : undefined;
  const forward: { z: string; r: string; hTilde: string; hPrev: string; a: string }[] = [];
  for (let t = 0; t < steps; t++) {
    const x = e.squeeze(e.slice(ctx.x(X), [t], [t + 1], [0]), [0]);
    const xw = plus(e.op('MatMul', [x, wT]), wb);
    const hPrev = h ?? e.mul(gate(xw, 0), e.scalar(0));
    const zr = plus(e.add(e.slice(xw, [0], [2 * hidden], [1]), e.op('MatMul', [hPrev, rZrT])), rbZr);
    const [z, rg] = [0, 1].map((k) => e.op('Sigmoid', [gate(zr, k)])) as [string, string];
    const a = plus(e.op('MatMul', [beforeReset ? hPrev : e.mul(rg, hPrev), rhT]), rbh);
    const hTilde = e.op('Tanh', [e.add(gate(xw, 2), beforeReset ? e.mul(rg, a) : a)]);
    forward.push({ z, r: rg, hTilde, hPrev, a });
    h = e.add(e.mul(oneMinus(z), hTilde), e.mul(z, hPrev));
  }

  const dY = ctx.dy(0);
  let dh = ctx.dy(1) ? e.squeeze(ctx.dy(1)!, [0]) : undefined;
  const dxs: string[] = [];
  for (let t = steps - 1; t >= 0; t--) {
    const s = forward[t]!;
    dh = withStepOutputGradient(e, dY, t, dh);
    const dPh = e.mul(e.mul(dh!, oneMinus(s.z)), oneMinus(e.mul(s.hTilde, s.hTilde)));
    const dPz = e.mul(e.mul(dh!, e.sub(s.hPrev, s.hTilde)), e.mul(s.z, oneMinus(s.z)));
    const dRh = beforeReset ? undefined : e.op('MatMul', [dPh, rows(r, 2, 3)]);
    const dr = beforeReset ? e.mul(dPh, s.a) : e.mul(dRh!, s.hPrev);
    const dPr = e.mul(dr, e.mul(s.r, oneMinus(s.r)));
    dxs.unshift(e.unsqueeze(e.op('MatMul', [e.op('Concat', [dPz, dPr, dPh], { axis: 1 }), w]), [0]));
    const carried = e.mul(dh!, s.z);
    dh = beforeReset
      ? e.add(carried, e.op('MatMul', [e.op('Concat', [dPz, dPr, e.mul(dPh, s.r)], { axis: 1 }), r]))
      : e.add(e.add(carried, e.op('MatMul', [e.op('Concat', [dPz, dPr], { axis: 1 }), rows(r, 0, 2)])), e.mul(dRh!, s.r));
  }
  const dx = steps === 1 ? dxs[0]! : e.op('Concat', dxs, { axis: 0 });
  return [ctx.needs(X) ? dx : undefined, undefined, undefined, undefined, undefined, has(INITIAL_H) && ctx.needs(INITIAL_H) ? e.unsqueeze(dh!, [0]) : undefined];
}

/** Why a recurrent node is beyond its rule (what the LSTM and GRU rules share), or undefined. */
function recurrentUnsupported(op: string, defaults: readonly string[], ctx: Parameters<NonNullable<GradRule['unsupported']>>[0]): string | undefined {
  const p = ctx.node.proto;
  if (attrString(p, 'direction', 'forward') !== 'forward') return `${op} in direction ${attrString(p, 'direction', '')} (only forward)`;
  if (attrInt(p, 'layout', 0) !== 0) return `${op} with layout 1 (batch first)`;
  if (attrFloat(p, 'clip') !== undefined) return `${op} with a cell clip`;
  const activations = p.attribute?.find((a) => a.name === 'activations')?.strings?.map((b) => new TextDecoder().decode(b));
  if (activations?.length && activations.join() !== defaults.join()) return `${op} with activations ${activations.join(', ')}`;
  if (ctx.node.inputs[SEQUENCE_LENS]) return `${op} with sequence lengths`;
  if ([W, R, B].some((k) => ctx.needs(k))) return `the gradient of ${op} weights (held constant)`;
  return undefined;
}

/** The gradient rules of this family, listed in registry.ts. */
export const recurrentGradients: RuleList<GradRule> = [
  ['LSTM', {
    unsupported: (ctx) => {
      if (attrInt(ctx.node.proto, 'input_forget', 0) !== 0) return 'LSTM with input_forget';
      if (ctx.node.inputs[P]) return 'LSTM with peepholes';
      return recurrentUnsupported('LSTM', DEFAULT_ACTIVATIONS, ctx);
    },
    grad: lstmGrad,
  }],
  ['GRU', { unsupported: (ctx) => recurrentUnsupported('GRU', GRU_DEFAULT_ACTIVATIONS, ctx), grad: gruGrad }],
];
