/**
 * The LSTM and GRU gradients against central finite differences, through every output (Y, Y_h, Y_c summed) to X
 * and the initial states, over several time steps and a batch of 2; and what the rules refuse.
 */
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../src/autodiff/backward.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { AttrValue } from '../../src/onnx/attributes.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { gradCheck, randomValues } from './gradcheck.js';

const [T, N, I, H] = [3, 2, 4, 5];

/** Input x [T, N, I] and seeded W [1, G*H, I], R [1, G*H, H], B [1, 2*G*H] ('' without bias) of a cell with G gates. */
function recurrentWeights(b: ModelBuilder, gates: number, seed: number, withBias: boolean) {
  b.input('x', 'float32', [T, N, I]);
  const w = b.initializer('w', 'float32', [1, gates * H, I], randomValues(gates * H * I, seed, 0.1, 0.6));
  const r = b.initializer('r', 'float32', [1, gates * H, H], randomValues(gates * H * H, seed + 1, 0.1, 0.6));
  const bias = withBias ? b.initializer('b', 'float32', [1, 2 * gates * H], randomValues(2 * gates * H, seed + 2, 0.1, 0.5)) : '';
  return { w, r, bias };
}

/** z = Y + Y_h + Y_c (broadcast over time) of an LSTM with seeded weights; `attrs` and which inputs it has vary. */
function lstmModel(options: { bias?: boolean; initial?: boolean; attrs?: Record<string, AttrValue> } = {}) {
  const b = new ModelBuilder({ opset: 17 });
  const { w, r, bias } = recurrentWeights(b, 4, 1, options.bias !== false);
  const initial = options.initial !== false;
  if (initial) {
    b.input('h0', 'float32', [1, N, H]);
    b.input('c0', 'float32', [1, N, H]);
  }
  const [y, yh, yc] = b.node('LSTM', ['x', w, r, bias, '', initial ? 'h0' : '', initial ? 'c0' : ''], { hidden_size: H, ...options.attrs }, { outputs: ['y', 'yh', 'yc'] });
  b.op('Add', [b.op('Add', [y!, yh!]), yc!], {}, { output: 'z' });
  b.output('z');
  return b.build();
}

describe('the LSTM gradient rule', () => {
  it('matches finite differences for X, initial_h and initial_c through Y, Y_h and Y_c', async () => {
    const { errors, norms } = await gradCheck(lstmModel(), { x: { shape: [T, N, I] }, h0: { shape: [1, N, H] }, c0: { shape: [1, N, H] } }, ['x', 'h0', 'c0']);
    for (const t of ['x', 'h0', 'c0']) {
      expect(norms[t]).toBeGreaterThan(1e-3);
      expect(errors[t], t).toBeLessThan(2e-3);
    }
  });

  it('matches finite differences without a bias or initial states (zeros)', async () => {
    const { errors, norms } = await gradCheck(lstmModel({ bias: false, initial: false }), { x: { shape: [T, N, I] } }, ['x']);
    expect(norms.x).toBeGreaterThan(1e-3);
    expect(errors.x).toBeLessThan(2e-3);
  });

  it('refuses what it does not model, in one line', async () => {
    for (const [attrs, why] of <[Record<string, AttrValue>, RegExp][]>[[{ direction: 'reverse' }, /LSTM in direction reverse/], [{ clip: { float: 1 } }, /a cell clip/], [{ input_forget: 1 }, /input_forget/]]) {
      const g = await analyzeModel(inMemoryModel(lstmModel({ attrs })));
      expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'seed' })).toThrow(why);
    }
  });
});

/** z = Y + Y_h (broadcast over time) of a GRU with seeded weights; `attrs` and which inputs it has vary. */
function gruModel(options: { bias?: boolean; initial?: boolean; attrs?: Record<string, AttrValue> } = {}) {
  const b = new ModelBuilder({ opset: 13 });
  const { w, r, bias } = recurrentWeights(b, 3, 4, options.bias !== false);
  const initial = options.initial !== false;
  if (initial) b.input('h0', 'float32', [1, N, H]);
  const [y, yh] = b.node('GRU', ['x', w, r, bias, '', initial ? 'h0' : ''], { hidden_size: H, ...options.attrs }, { outputs: ['y', 'yh'] });
  b.op('Add', [y!, yh!], {}, { output: 'z' });
  b.output('z');
  return b.build();
}

describe('the GRU gradient rule', () => {
  // PyTorch exports linear_before_reset 1; ONNX's default is 0
  it.each([1, 0])('matches finite differences for X and initial_h through Y and Y_h (linear_before_reset %i)', async (linear) => {
    const { errors, norms } = await gradCheck(gruModel({ attrs: { linear_before_reset: linear } }), { x: { shape: [T, N, I] }, h0: { shape: [1, N, H] } }, ['x', 'h0']);
    for (const t of ['x', 'h0']) {
      expect(norms[t]).toBeGreaterThan(1e-3);
      expect(errors[t], t).toBeLessThan(2e-3);
    }
  });

  it('matches finite differences without a bias or initial state (zeros)', async () => {
    const { errors, norms } = await gradCheck(gruModel({ bias: false, initial: false, attrs: { linear_before_reset: 1 } }), { x: { shape: [T, N, I] } }, ['x']);
    expect(norms.x).toBeGreaterThan(1e-3);
    expect(errors.x).toBeLessThan(2e-3);
  });

  it('refuses what it does not model, in one line', async () => {
    for (const [attrs, why] of <[Record<string, AttrValue>, RegExp][]>[[{ direction: 'reverse' }, /GRU in direction reverse/], [{ clip: { float: 1 } }, /GRU with a cell clip/]]) {
      const g = await analyzeModel(inMemoryModel(gruModel({ attrs })));
      expect(() => buildBackwardGraph(g, { wrt: ['x'], objective: 'seed' })).toThrow(why);
    }
  });
});
