/** Quality figures: Wilson intervals for rates, a seeded bootstrap for means; paired differences: Tango's score interval, a bootstrap of differences. */
import { describe, expect, it } from 'vitest';
import { bootstrapMean, pairedDifference, qualityFigure, tangoInterval } from '../../src/task/quality.js';
import type { Metric } from '../../src/task/types.js';
import { wilson } from '../../src/util/stats.js';

const metric = (kind: 'rate' | 'mean'): Metric => ({ name: 'rel-l2', label: 'x', better: 'lower', kind, needsLabels: false, outputs: ['y'] });

describe('quality figures', () => {
  it('rates: the mean and the Wilson interval of the hits', () => {
    const scores = [...Array(90).fill(1), ...Array(10).fill(0)];
    expect(qualityFigure(metric('rate'), scores)).toMatchObject({ value: 0.9, ci: wilson(90, 100), samples: 100 });
  });

  it('means: a bootstrap interval that brackets the mean, reproducible, and as wide as the normal one', () => {
    const values = Array.from({ length: 400 }, (_, i) => (i % 10) / 10); // mean 0.45, sd 0.2872
    const [lo, hi] = bootstrapMean(values);
    expect(bootstrapMean(values)).toEqual([lo, hi]);
    const half = (1.96 * 0.2872) / Math.sqrt(400);
    expect(lo).toBeCloseTo(0.45 - half, 2);
    expect(hi).toBeCloseTo(0.45 + half, 2);
    expect(qualityFigure(metric('mean'), values).ci).toEqual([lo, hi]);
  });

  it('one sample: the interval collapses to it', () => {
    expect(bootstrapMean([0.3])).toEqual([0.3, 0.3]);
  });
});

/** log of n! / (b! c! (n-b-c)!), the multinomial coefficient of b and c discordant pairs among n. */
function logMultinomial(n: number, b: number, c: number): number {
  const logFactorial = (k: number) => Array.from({ length: k }, (_, i) => Math.log(i + 1)).reduce((s, x) => s + x, 0);
  return logFactorial(n) - logFactorial(b) - logFactorial(c) - logFactorial(n - b - c);
}

describe('paired differences', () => {
  it('without discordant pairs: the interval is Wilson\'s for 0 of n on either side (closed form z^2 / (n + z^2))', () => {
    for (const n of [10, 32, 200]) {
      const [lo, hi] = tangoInterval(0, 0, n);
      expect(hi).toBeCloseTo(1.96 ** 2 / (n + 1.96 ** 2), 9);
      expect(lo).toBeCloseTo(-hi, 9);
    }
  });

  it('covers the true difference in about 95 % of outcomes, by exact enumeration of every (b, c) of 40 pairs', () => {
    const n = 40;
    for (const [p12, p21] of [[0.02, 0.02], [0.05, 0.01], [0.1, 0.05], [0.2, 0.1], [0.01, 0.15]] as const) {
      let coverage = 0;
      for (let b = 0; b <= n; b++) {
        for (let c = 0; b + c <= n; c++) {
          const [lo, hi] = tangoInterval(b, c, n);
          const p = Math.exp(logMultinomial(n, b, c) + b * Math.log(p12) + c * Math.log(p21) + (n - b - c) * Math.log(1 - p12 - p21));
          if (lo <= p12 - p21 && p12 - p21 <= hi) coverage += p;
        }
      }
      expect(coverage).toBeGreaterThan(0.92);
      expect(coverage).toBeLessThan(0.995);
    }
  });

  it('rates: the difference of the hits, and an interval narrower than the unpaired one (Wilson half-widths added in quadrature) when predictions mostly agree', () => {
    // 100 samples: both right on 88, both wrong on 7, only the first right on 2, only the second on 3
    const first = [...Array(88).fill(1), ...Array(7).fill(0), 1, 1, 0, 0, 0];
    const second = [...Array(88).fill(1), ...Array(7).fill(0), 0, 0, 1, 1, 1];
    const d = pairedDifference(metric('rate'), first, second);
    expect(d.value).toBeCloseTo(-0.01, 12);
    expect(d.ci).toEqual(tangoInterval(2, 3, 100));
    expect(d.ci[0]).toBeLessThan(-0.01);
    expect(d.ci[1]).toBeGreaterThan(-0.01);
    const [a, b] = [wilson(90, 100), wilson(91, 100)];
    expect(d.ci[1] - d.ci[0]).toBeLessThan(0.75 * Math.hypot(a[1] - a[0], b[1] - b[0]));
  });

  it('means: the seeded bootstrap of the per-sample differences', () => {
    const first = Array.from({ length: 50 }, (_, i) => i / 50);
    const second = first.map((x, i) => x - 0.1 + (i % 2) * 0.02);
    const d = pairedDifference(metric('mean'), first, second);
    expect(d.value).toBeCloseTo(0.09, 12);
    expect(d.ci).toEqual(bootstrapMean(first.map((x, i) => x - second[i]!)));
  });
});
