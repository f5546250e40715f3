/**
 * Per-sample scores summarised as a quality figure: the mean and a 95 % interval, Wilson's for rates (0/1 scores)
 * and a seeded percentile bootstrap for means, so that a report is the same from run to run. Two configurations
 * scored on the same samples also get the interval of their difference from the pairs (pairedDifference): for
 * rates Tango's score interval, which only the discordant pairs move, narrower than unpaired intervals combined.
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

/** The score statistic of Tango (1998) for a paired difference `delta` = (b - c) / n: decreasing in delta, 0 at the estimate. */
function tangoStatistic(b: number, c: number, n: number, delta: number): number {
  const numerator = b - c - n * delta;
  if (numerator === 0) return 0;
  // the maximum-likelihood share of (second only) pairs under the difference delta
  const qa = 2 * n;
  const qb = -b - c + (2 * n - b + c) * delta;
  const qc = -c * delta * (1 - delta);
  const p21 = (-qb + Math.sqrt(Math.max(0, qb * qb - 4 * qa * qc))) / (2 * qa);
  const variance = n * (2 * p21 + delta * (1 - delta));
  return variance > 0 ? numerator / Math.sqrt(variance) : numerator > 0 ? Infinity : -Infinity;
}

/**
 * 95 % score interval (Tango 1998) of a difference of paired proportions, from n pairs of which b hit with the
 * first only and c with the second only. Without discordant pairs it is Wilson's interval of 0 of n on either side.
 */
export function tangoInterval(b: number, c: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [-1, 1];
  // the statistic falls from +inf to -inf over (-1, 1): bisect for where it crosses +z and -z
  const root = (target: number, lo: number, hi: number) => {
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (tangoStatistic(b, c, n, mid) > target) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  const estimate = (b - c) / n;
  return [root(z, -1, estimate), root(-z, estimate, 1)];
}

/** A difference of quality between two configurations scored on the same samples (first minus second), with its 95 % interval. */
export interface PairedDifference {
  value: number;
  ci: [number, number];
  samples: number;
}

/** The difference of `first` and `second`, per-sample scores of the same samples (the first `samples` of each): Tango's interval for rates, a bootstrap of the differences for means. */
export function pairedDifference(metric: Pick<Metric, 'kind'>, first: readonly number[], second: readonly number[]): PairedDifference {
  const n = Math.min(first.length, second.length);
  const differences = Array.from({ length: n }, (_, i) => first[i]! - second[i]!);
  if (metric.kind === 'mean') return { value: mean(differences), ci: bootstrapMean(differences), samples: n };
  const b = differences.filter((d) => d > 0).length;
  const c = differences.filter((d) => d < 0).length;
  return { value: (b - c) / Math.max(1, n), ci: tangoInterval(b, c, n), samples: n };
}
