/** Ranking candidates by `predicted`, and Spearman's correlation against its definition. */
import { describe, expect, it } from 'vitest';
import { predictedScore, rankCandidates } from '../../src/bottlenecks/rank.js';
import { ranks, spearman } from '../../src/util/stats.js';
import { seededRandom } from '../../src/util/random.js';

/** Pearson's correlation, written out: Spearman's is Pearson's on ranks. */
function pearson(a: readonly number[], b: readonly number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  const cov = a.reduce((s, v, i) => s + (v - ma) * (b[i]! - mb), 0);
  return cov / Math.sqrt(a.reduce((s, v) => s + (v - ma) ** 2, 0) * b.reduce((s, v) => s + (v - mb) ** 2, 0));
}

describe('spearman', () => {
  it('is 1 for any increasing map, -1 for a decreasing one, and 1 - 6 sum d^2 / (n (n^2 - 1)) without ties', () => {
    const x = [3, 1, 4, 1.5, 9, 2.6];
    expect(spearman(x, x.map((v) => Math.exp(v)))).toBeCloseTo(1, 12);
    expect(spearman(x, x.map((v) => -v * v * v))).toBeCloseTo(-1, 12);
    const y = [2, 7, 1, 8, 2.8, 1.8];
    const rx = ranks(x);
    const ry = ranks(y);
    const d2 = rx.reduce((s, r, i) => s + (r - ry[i]!) ** 2, 0);
    expect(spearman(x, y)).toBeCloseTo(1 - (6 * d2) / (6 * 35), 12);
  });

  it('gives ties their average rank, as Pearson on average ranks does', () => {
    expect(ranks([5, 1, 5, 3, 5])).toEqual([4, 1, 4, 2, 4]);
    const rand = seededRandom(3);
    const a = Array.from({ length: 20 }, () => Math.floor(rand() * 5));
    const b = Array.from({ length: 20 }, () => Math.floor(rand() * 4));
    expect(spearman(a, b)).toBeCloseTo(pearson(ranks(a), ranks(b)), 12);
  });

  it('is NaN where one side is constant', () => {
    expect(spearman([1, 2, 3], [4, 4, 4])).toBeNaN();
  });
});

describe('rankCandidates', () => {
  it('predicts by the best proxy and ranks by it, ties to the shallower cut', () => {
    expect(predictedScore({ project: 0.5, channel: 0.8, spatial: 0.6 })).toBe(0.8);
    expect(predictedScore({})).toBeNaN();
    const ranked = rankCandidates([
      { tensor: 'a', depth: 0.1, cui: 1, proxies: { project: 0.9, channel: 0.2 } },
      { tensor: 'b', depth: 0.5, cui: 2, proxies: { project: 0.3, channel: 0.4 } },
      { tensor: 'c', depth: 0.05, cui: 3, proxies: { project: 0.9 } },
    ]);
    expect(ranked.map((r) => [r.tensor, r.predicted, r.rank])).toEqual([['a', 0.9, 2], ['b', 0.4, 3], ['c', 0.9, 1]]);
  });
});
