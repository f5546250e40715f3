import { describe, expect, it } from 'vitest';
import { fanOutMask, layerSize, validFanOuts } from '../../src/exits/sparsity.js';

const sums = (mask: Float32Array, nIn: number, nOut: number) => ({
  rows: Array.from({ length: nIn }, (_, i) => mask.subarray(i * nOut, (i + 1) * nOut).reduce((a, b) => a + b, 0)),
  cols: Array.from({ length: nOut }, (_, j) => Array.from({ length: nIn }, (_, i) => mask[i * nOut + j]!).reduce((a, b) => a + b, 0)),
});

describe('predefined sparsity (METHODS.md §6)', () => {
  it('gives every input exactly fan-out outputs and every output fan-in = nIn x fan-out / nOut inputs', () => {
    for (const [nIn, nOut, d] of [[800, 40, 2], [40, 40, 9], [40, 10, 10], [320, 128, 16], [128, 10, 5]] as const) {
      const { rows, cols } = sums(fanOutMask(nIn, nOut, d, 3), nIn, nOut);
      expect(new Set(rows)).toEqual(new Set([d]));
      expect(new Set(cols)).toEqual(new Set([(nIn * d) / nOut]));
    }
  });

  it("reproduces the paper's 800-40-40-10 MLP with fan-outs 2, 9, 10: 2,360 weights against 34,000 dense", () => {
    const layers = [[800, 40, 2], [40, 40, 9], [40, 10, 10]].map(([i, o, d]) => layerSize(i!, o!, fanOutMask(i!, o!, d!)));
    expect(layers.reduce((s, l) => s + l.weights, 0)).toBe(2360);
    expect(layers.reduce((s, l) => s + l.denseWeights, 0)).toBe(34_000);
  });

  it('is reproducible under a seed and differs across seeds', () => {
    expect(fanOutMask(64, 32, 4, 1)).toEqual(fanOutMask(64, 32, 4, 1));
    expect(fanOutMask(64, 32, 4, 1)).not.toEqual(fanOutMask(64, 32, 4, 2));
  });

  it('stores values plus 2-byte indices: 6 bytes per kept weight against 4 per dense weight', () => {
    expect(layerSize(320, 128, fanOutMask(320, 128, 16))).toEqual({ weights: 5120, denseWeights: 40_960, macs: 5120, bytes: 30_720, denseBytes: 163_840 });
  });

  it('rejects a fan-out that does not divide the layer sizes, saying which values work', () => {
    expect(validFanOuts(128, 10)).toEqual([5, 10]);
    expect(() => fanOutMask(128, 10, 3)).toThrow(/fan-out 3 does not fit a 128 -> 10 layer/);
    const thrown = (() => {
      try {
        fanOutMask(128, 10, 3);
      } catch (e) {
        return e;
      }
    })();
    expect(thrown).toMatchObject({ code: 'BAD_ARGUMENT', hint: 'fan-outs that work: 5, 10' });
    expect(() => fanOutMask(16, 8, 9)).toThrow(/fan-out 9 does not fit/);
    expect(() => fanOutMask(16, 8, 0)).toThrow(/fan-out 0/);
  });
});
