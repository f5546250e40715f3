/**
 * Exits under distorted inputs (METHODS.md §5): blur and noise lower the exits' confidence and accuracy, so fewer
 * samples leave early, accuracy moves, and the best partition can change. Each distortion is one pass of the
 * backbone over the same test images.
 */
import type { Dataset } from '../data/dataset.js';
import type { Graph } from '../graph/graph.js';
import { distorter, distortionLabel, type Distortion } from './distort.js';
import { applyPolicy, type Policy } from './policy.js';
import { testLogits, type TrainedExit } from './pipeline.js';
import { accuracyOf } from './train.js';

export interface RobustnessRow<P = unknown> {
  distortion: string;
  /** Share of the samples leaving at each exit, and their accuracy. */
  rates: number[];
  exitAccuracy: (number | null)[];
  /** Overall accuracy with the exits, and the full model's alone on the same distorted images. */
  accuracy: number;
  fullModelAccuracy: number;
  /** Whatever the caller derives from the exit rates, e.g. the best POPEX partition. */
  partition?: P;
}

export async function robustness<P>(
  g: Graph,
  exits: readonly TrainedExit[],
  data: Dataset,
  indices: readonly number[],
  distortions: readonly Distortion[],
  policy: Policy,
  opts: { partition?: (rates: number[]) => P; onProgress?: (label: string, done: number, total: number) => void; seed?: number } = {},
): Promise<RobustnessRow<P>[]> {
  const rows: RobustnessRow<P>[] = [];
  for (const d of [null, ...distortions]) {
    const label = d ? distortionLabel(d) : 'none';
    const logits = await testLogits(g, exits, data, indices, { ...(d ? { transform: distorter(d, opts.seed ?? 1) } : {}), onProgress: (done, total) => opts.onProgress?.(label, done, total) });
    const outcome = applyPolicy(logits, policy, exits.map((e) => e.temperature));
    rows.push({
      distortion: label,
      rates: outcome.rates,
      exitAccuracy: outcome.exitAccuracy,
      accuracy: outcome.accuracy,
      fullModelAccuracy: accuracyOf(logits.final, logits.labels, logits.classes),
      ...(opts.partition ? { partition: opts.partition(outcome.rates) } : {}),
    });
  }
  return rows;
}
