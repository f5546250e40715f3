/**
 * Temperature scaling (METHODS.md §5): T minimising the negative log-likelihood of softmax(logits / T) on a
 * held-out calibration split, per exit or one for all exits; and the expected calibration error with its
 * reliability diagram. The NLL is convex in 1/T, so a golden-section search on log T finds the optimum.
 */
import { ImperaError } from '../errors.js';
import { argmax } from '../util/stats.js';
import { softmax } from './policy.js';

/** Mean NLL of the labels under softmax(logits / T), over one or several logit sets with the same labels. */
export function nll(logitSets: readonly Float32Array[], labels: Int32Array, classes: number, temperature: number): number {
  let sum = 0;
  for (const logits of logitSets) {
    for (let s = 0; s < labels.length; s++) {
      const row = logits.subarray(s * classes, (s + 1) * classes);
      let max = -Infinity;
      for (let i = 0; i < classes; i++) max = Math.max(max, row[i]! / temperature);
      let z = 0;
      for (let i = 0; i < classes; i++) z += Math.exp(row[i]! / temperature - max);
      sum += max + Math.log(z) - row[labels[s]!]! / temperature;
    }
  }
  return sum / (labels.length * logitSets.length);
}

/** At least this many calibration samples: fewer make T (and ECE) noise. */
export const MIN_CALIBRATION = 100;

/** The temperature minimising NLL, searched over [0.05, 20]. */
export function fitTemperature(logitSets: readonly Float32Array[], labels: Int32Array, classes: number): number {
  if (labels.length < MIN_CALIBRATION) throw new ImperaError('BAD_ARGUMENT', `calibration needs at least ${MIN_CALIBRATION} samples, got ${labels.length}`, 'use a larger calibration split');
  let [lo, hi] = [Math.log(0.05), Math.log(20)];
  const phi = (Math.sqrt(5) - 1) / 2;
  const f = (x: number) => nll(logitSets, labels, classes, Math.exp(x));
  let a = hi - phi * (hi - lo);
  let b = lo + phi * (hi - lo);
  let [fa, fb] = [f(a), f(b)];
  for (let i = 0; i < 60; i++) {
    if (fa < fb) {
      hi = b;
      [b, fb] = [a, fa];
      a = hi - phi * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      [a, fa] = [b, fb];
      b = lo + phi * (hi - lo);
      fb = f(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence and accuracy of the samples in the bin. */
  confidence: number;
  accuracy: number;
}

/** Expected calibration error over `bins` equal-width confidence bins, and the bins (the reliability diagram). */
export function expectedCalibrationError(logits: Float32Array, labels: Int32Array, classes: number, temperature = 1, bins = 15): { ece: number; bins: ReliabilityBin[] } {
  const acc = Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins, count: 0, conf: 0, right: 0 }));
  for (let s = 0; s < labels.length; s++) {
    const p = softmax(logits.subarray(s * classes, (s + 1) * classes), temperature);
    const best = argmax(p);
    const b = acc[Math.min(bins - 1, Math.floor(p[best]! * bins))]!;
    b.count++;
    b.conf += p[best]!;
    if (best === labels[s]) b.right++;
  }
  const n = labels.length;
  const out = acc.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, confidence: b.count ? b.conf / b.count : 0, accuracy: b.count ? b.right / b.count : 0 }));
  return { ece: out.reduce((s, b) => s + (b.count / n) * Math.abs(b.accuracy - b.confidence), 0), bins: out };
}
