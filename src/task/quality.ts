/**
 * Per-sample scores summarised as a quality figure: the mean and a 95 % interval, Wilson's for rates (0/1 scores)
 * and a seeded percentile bootstrap for means, so that a report is the same from run to run.
 */
import { mean, quantile, wilson } from '../util/stats.js';
import { seededRandom } from '../util/random.js';
import type { Metric, QualityFigure } from './types.js';

const RESAMPLES = 1000;

/** 95 % percentile-bootstrap interval of the mean of `values`, drawing from a PRNG seeded with `seed`. */
export function bootstrapMean(values: readonly number[], seed = 1): [number, number] {
  const n = values.length;
  if (n === 0) return [NaN, NaN];
  const rand = seededRandom(seed);
  const means = Array.from({ length: RESAMPLES }, () => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(rand() * n)]!;
    return sum / n;
  });
  return [quantile(means, 0.025), quantile(means, 0.975)];
}

export function qualityFigure(metric: Pick<Metric, 'name' | 'label' | 'better' | 'kind'>, scores: readonly number[]): QualityFigure {
  const value = mean(scores);
  const ci = metric.kind === 'rate' ? wilson(scores.reduce((a, b) => a + b, 0), scores.length) : bootstrapMean(scores);
  return { metric: metric.name, label: metric.label, better: metric.better, value, ci, samples: scores.length };
}
