/** Summary statistics of sampled times (transfer times here, frame latencies in the simulator). */
import { quantileSorted as quantile } from '../util/stats.js';

export interface Summary {
  count: number;
  mean: number;
  /** Standard error of the mean. */
  stdErr: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}


export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const mean = n ? sum / n : NaN;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (sorted[i]! - mean) ** 2;
  const stdErr = n > 1 ? Math.sqrt(sq / (n - 1) / n) : 0;
  return { count: n, mean, stdErr, min: n ? sorted[0]! : NaN, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), max: n ? sorted[n - 1]! : NaN };
}
