import { describe, expect, it } from 'vitest';
import { ranks, spearman } from '../../src/util/stats.js';
import { seededRandom } from '../../src/util/random.js';

/** The textbook closed form 1 - 6 sum d^2 / (n (n^2 - 1)), valid without ties. */
const closedForm = (a: number[], b: number[]) => {
  const [ra, rb] = [ranks(a), ranks(b)];
  const n = a.length;
  return 1 - (6 * ra.reduce((s, r, i) => s + (r - rb[i]!) ** 2, 0)) / (n * (n * n - 1));
};

describe('rank statistics', () => {
  it('ranks share their mean rank on ties', () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
  });

  it("Spearman's rho is 1 for any increasing map, -1 for a decreasing one, and the closed form without ties", () => {
    const r = seededRandom(4);
    const a = Array.from({ length: 30 }, () => r());
    const b = Array.from({ length: 30 }, () => r());
    expect(spearman(a, a.map((x) => Math.exp(5 * x)))).toBeCloseTo(1, 12);
    expect(spearman(a, a.map((x) => -x * x * x))).toBeCloseTo(-1, 12);
    expect(spearman(a, b)).toBeCloseTo(closedForm(a, b), 12);
    expect(spearman([1, 2, 3], [4, 4, 4])).toBeNaN();
  });
});
