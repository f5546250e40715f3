/** Quality figures: Wilson intervals for rates, a seeded bootstrap for means. */
import { describe, expect, it } from 'vitest';
import { bootstrapMean, qualityFigure } from '../../src/task/quality.js';
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
