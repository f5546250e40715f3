import { describe, expect, it } from 'vitest';
import { gaussian, seededRandom, shuffledIndices } from '../../src/util/random.js';

describe('seeded randomness', () => {
  it('repeats its draws for a seed and differs between seeds, within [0, 1)', () => {
    const a = Array.from({ length: 100 }, seededRandom(7));
    expect(Array.from({ length: 100 }, seededRandom(7))).toEqual(a);
    expect(Array.from({ length: 100 }, seededRandom(8))).not.toEqual(a);
    for (const x of a) expect(x >= 0 && x < 1).toBe(true);
  });

  it('shuffles 0..n-1 into a permutation, reproducibly under a seed', () => {
    const p = shuffledIndices(50, seededRandom(3));
    expect([...p].sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
    expect(p).not.toEqual([...Array(50).keys()]);
    expect(shuffledIndices(50, seededRandom(3))).toEqual(p);
    expect(shuffledIndices(0, seededRandom(3))).toEqual([]);
  });

  it('draws standard normal values: mean 0, variance 1, finite even when the uniform draw is 0', () => {
    const rand = seededRandom(5);
    const x = Array.from({ length: 20_000 }, () => gaussian(rand));
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.04);
    expect(Number.isFinite(gaussian(() => 0))).toBe(true);
  });
});
