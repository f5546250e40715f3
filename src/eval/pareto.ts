/** Pareto fronts and budgets over rate-accuracy points (cut x codec, input baselines). */

export interface RatePoint {
  label: string;
  bytes: number;
  accuracy: number;
}

/** The points no other point beats on both bytes (fewer) and accuracy (higher), by increasing bytes. */
export function paretoFront<T extends RatePoint>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => a.bytes - b.bytes || b.accuracy - a.accuracy);
  const front: T[] = [];
  for (const p of sorted) if (front.length === 0 || p.accuracy > front[front.length - 1]!.accuracy) front.push(p);
  return front;
}

/** The most accurate point within a byte budget. */
export function bestWithin<T extends RatePoint>(points: readonly T[], budget: number): T | undefined {
  return points.filter((p) => p.bytes <= budget).sort((a, b) => b.accuracy - a.accuracy || a.bytes - b.bytes)[0];
}
