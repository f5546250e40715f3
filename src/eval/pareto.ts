/** Pareto fronts and budgets over rate-quality points (cut x codec, input baselines), for metrics better high or low. */

export interface RatePoint {
  label: string;
  bytes: number;
  /** The task's metric (task/): higher or lower is better as `better` says. */
  quality: number;
}

/** `a` is better quality than `b`. */
const beats = (a: number, b: number, better: 'higher' | 'lower'): boolean => (better === 'higher' ? a > b : a < b);

/** The points no other point beats on both bytes (fewer) and quality, by increasing bytes. */
export function paretoFront<T extends RatePoint>(points: readonly T[], better: 'higher' | 'lower' = 'higher'): T[] {
  const sorted = [...points].sort((a, b) => a.bytes - b.bytes || (beats(a.quality, b.quality, better) ? -1 : beats(b.quality, a.quality, better) ? 1 : 0));
  const front: T[] = [];
  for (const p of sorted) if (front.length === 0 || beats(p.quality, front[front.length - 1]!.quality, better)) front.push(p);
  return front;
}

/** The best point within a byte budget (fewer bytes break ties). */
export function bestWithin<T extends RatePoint>(points: readonly T[], budget: number, better: 'higher' | 'lower' = 'higher'): T | undefined {
  return points.filter((p) => p.bytes <= budget).sort((a, b) => (beats(a.quality, b.quality, better) ? -1 : beats(b.quality, a.quality, better) ? 1 : a.bytes - b.bytes))[0];
}
