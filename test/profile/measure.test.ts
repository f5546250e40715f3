import { describe, expect, it } from 'vitest';
import { measureAlternating } from '../../src/profile/measure.js';
import { quantile } from '../../src/util/stats.js';
import { timingStats } from '../../src/profile/timing-stats.js';

describe('order statistics', () => {
  it('interpolate quantiles between order statistics', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.9)).toBeCloseTo(4.6, 12);
    expect(timingStats([3, 1, 2])).toEqual({ runs: 3, minMs: 1, medianMs: 2, p90Ms: 2.8 });
  });
});

describe('timing tasks in turns', () => {
  it('warms up only the timed tasks, runs each in blocks, and respects the run cap', async () => {
    const calls = { a: 0, b: 0, aux: 0 };
    const order: string[] = [];
    const task = (k: keyof typeof calls) => async () => {
      calls[k]++;
      order.push(k);
    };
    const samples = await measureAlternating([{ run: task('aux'), block: 1, auxiliary: true }, task('a'), task('b')], { warmup: 2, block: 3, checkEvery: 3, maxRuns: 9, minRuns: 9, tolerance: -1, budgetMs: 1e9 });
    expect(order.slice(0, 4)).toEqual(['a', 'b', 'a', 'b']); // warm-up: the auxiliary task is already warm
    expect(order.slice(4, 11)).toEqual(['aux', 'a', 'a', 'a', 'b', 'b', 'b']);
    expect(samples.map((s) => s.length)).toEqual([3, 9, 9]);
    expect(calls).toEqual({ a: 11, b: 11, aux: 3 });
  });

  it('stops once every timed task has had a stable median at two checks in a row', async () => {
    // identical no-op tasks: with an infinite tolerance every check after the first (which has no earlier median to
    // compare with) is stable, so timing stops at the third check
    const samples = await measureAlternating([async () => {}, async () => {}], { warmup: 0, block: 2, checkEvery: 2, minRuns: 1, maxRuns: 100, tolerance: Infinity, budgetMs: 1e9 });
    expect(samples.map((s) => s.length)).toEqual([6, 6]);
  });
});
