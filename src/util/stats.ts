/** Order statistics and means shared by every report (bytes, latencies, timings). */

/** Quantile q (0..1) of ascending-sorted values, linear between order statistics (numpy's default, R type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Quantile q (0..1) of values in any order (see `quantileSorted`). */
export const quantile = (values: ArrayLike<number>, q: number): number => quantileSorted(Float64Array.from(values).sort(), q);

export const median = (values: ArrayLike<number>): number => quantile(values, 0.5);

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return values.length ? sum / values.length : NaN;
}
