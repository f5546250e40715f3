/**
 * Exit policies for outputs without class confidence (docs/exits/OUTPUTS.md): a confidence each exit computes from
 * its own prediction — a probability map's mean |2p - 1| (0 where every pixel is 0.5, 1 where all are certain), a
 * Softmax output's mean over positions of the largest probability — and a sample leaves at the first exit whose
 * confidence reaches tau. An output without an activation (an embedding, a raw score map) has no such confidence:
 * a tau policy is refused in one line. tau is calibrated on a held-out split: the smallest tau at which the samples
 * that leave early keep the task metric's target against the full model.
 */
import { ImperaError } from '../errors.js';
import { numel } from '../onnx/dtype.js';
import type { OutputTarget } from './output-branch.js';

/** What the confidence of a target is, or why it has none. */
export function confidenceName(t: OutputTarget): string | null {
  if (t.activation === 'sigmoid') return 'mean |2p - 1| over the map';
  if (t.activation === 'softmax') return `mean over ${t.kind === 'sequence' ? 'steps' : 'positions'} of the largest probability`;
  return null;
}

/** A tau policy needs a confidence: refused in one line for an output without one. */
export function requireConfidence(t: OutputTarget): void {
  if (!confidenceName(t)) {
    throw new ImperaError('BAD_ARGUMENT', `output '${t.name}' [${t.shape.join(', ')}] ends in no Sigmoid or Softmax, so an exit has no confidence of its own to decide when a sample leaves early`, "drop --target: the report gives the exit's fidelity to the full model without a tau policy");
  }
}

/** Per-sample confidences of predictions (samples x values, activated); refused for a target without confidence. */
export function confidences(t: OutputTarget, predictions: Float32Array, count: number): Float64Array {
  requireConfidence(t);
  const width = numel(t.shape.slice(1));
  const out = new Float64Array(count);
  if (t.activation === 'sigmoid') {
    for (let s = 0; s < count; s++) {
      let sum = 0;
      for (let i = s * width; i < (s + 1) * width; i++) sum += Math.abs(2 * predictions[i]! - 1);
      out[s] = sum / width;
    }
    return out;
  }
  const size = t.shape[t.axis]!;
  const inner = numel(t.shape.slice(t.axis + 1));
  const outer = width / (size * inner);
  for (let s = 0; s < count; s++) {
    let sum = 0;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let max = 0;
        for (let k = 0; k < size; k++) max = Math.max(max, predictions[s * width + (o * size + k) * inner + i]!);
        sum += max;
      }
    }
    out[s] = sum / (outer * inner);
  }
  return out;
}

/** Taus swept by default: these confidences start lower than a classifier's max softmax (a map's |2p - 1| starts at 0). */
export const OUTPUT_TAUS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999];

/** One split's view of the exits: per exit, each sample's confidence and task score; the full model's own scores. */
export interface ScoredExits {
  confidence: Float64Array[];
  scores: number[][];
  fullScores: number[];
}

export interface OutputPolicyRow {
  tau: number;
  /** Share of all samples leaving at each exit. */
  rates: number[];
  earlyShare: number;
  /** The metric's mean over the samples that leave early (null when none does), and over all samples. */
  exited: number | null;
  overall: number;
}

const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** The same tau at every exit: where each sample leaves and what the metric is. */
export function applyTau(s: ScoredExits, tau: number): OutputPolicyRow {
  const n = s.fullScores.length;
  const counts = s.confidence.map(() => 0);
  const exited: number[] = [];
  const all: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = s.confidence.findIndex((c) => c[i]! >= tau);
    if (k >= 0) {
      counts[k]!++;
      exited.push(s.scores[k]![i]!);
    }
    all.push(k >= 0 ? s.scores[k]![i]! : s.fullScores[i]!);
  }
  const rates = counts.map((c) => c / Math.max(n, 1));
  return { tau, rates, earlyShare: rates.reduce((a, b) => a + b, 0), exited: mean(exited), overall: mean(all) ?? NaN };
}

/** Whether a metric value meets the target in the metric's direction. */
export const meets = (value: number, target: number, better: 'higher' | 'lower'): boolean => (better === 'higher' ? value >= target : value <= target);

/** The smallest tau of `taus` whose early-leaving samples (at least one) meet the target, or null. */
export function calibrateTau(s: ScoredExits, taus: readonly number[], target: number, better: 'higher' | 'lower'): number | null {
  for (const tau of [...taus].sort((a, b) => a - b)) {
    const r = applyTau(s, tau);
    if (r.exited !== null && meets(r.exited, target, better)) return tau;
  }
  return null;
}
