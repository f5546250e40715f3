import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/net/time-summary.js';
import { distMean, distSchema, sampler, toDist, type Dist } from '../../src/sim/distributions.js';
import { seededRandom } from '../../src/util/random.js';

const draws = (d: Dist, n = 200_000) => {
  const rand = seededRandom(11);
  const s = sampler(d);
  return Array.from({ length: n }, () => s(rand));
};

describe('time distributions', () => {
  it('have the stated mean (and spread)', () => {
    const cases: Dist[] = [
      { kind: 'fixed', ms: 4 },
      { kind: 'exponential', mean: 10 },
      { kind: 'uniform', min: 2, max: 6 },
      { kind: 'normal', mean: 20, sd: 3 },
      { kind: 'lognormal', mean: 8, sd: 2 },
    ];
    for (const d of cases) {
      const s = summarize(draws(d));
      expect(Math.abs(s.mean - distMean(d))).toBeLessThan(5 * s.stdErr + 1e-12);
    }
    const logn = draws({ kind: 'lognormal', mean: 8, sd: 2 });
    const sd = Math.sqrt(logn.reduce((a, x) => a + (x - 8) ** 2, 0) / logn.length);
    expect(sd).toBeCloseTo(2, 1);
    // exponential: the median is ln 2 times the mean
    expect(summarize(draws({ kind: 'exponential', mean: 10 })).p50).toBeCloseTo(10 * Math.LN2, 1);
  });

  it('never give negative times (the normal is truncated at 0)', () => {
    expect(Math.min(...draws({ kind: 'normal', mean: 1, sd: 2 }, 20_000))).toBeGreaterThanOrEqual(0);
  });

  it('are written in scenarios as a number or an object, and checked', () => {
    expect(toDist(distSchema.parse(12))).toEqual({ kind: 'fixed', ms: 12 });
    expect(toDist(distSchema.parse({ dist: 'normal', mean: 5, sd: 1 }))).toEqual({ kind: 'normal', mean: 5, sd: 1 });
    expect(distSchema.safeParse(-1).success).toBe(false);
    expect(distSchema.safeParse({ dist: 'uniform', min: 5, max: 2 }).success).toBe(false);
    expect(distSchema.safeParse({ dist: 'gamma', mean: 5 }).success).toBe(false);
  });
});
