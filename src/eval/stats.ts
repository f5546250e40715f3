/** Small statistics for evaluation reports. */

/** 95 % Wilson score interval of a proportion (better than the normal approximation near 0 and 1). */
export function wilson(correct: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = correct / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Index of the largest value (the predicted class). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

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
