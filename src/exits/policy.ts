/**
 * Exit policies (METHODS.md §5) and their effect: a sample leaves at the first exit whose confidence passes —
 * max softmax >= tau, or entropy <= T — and otherwise runs to the end of the model. Overall accuracy
 * sum_k a_k n_k / N + (1 - sum_k n_k / N) a_final, counted sample by sample. Temperatures (calibration) divide the
 * logits before the softmax.
 */
import { ImperaError } from '../errors.js';
import { argmax } from '../util/stats.js';

export interface ExitLogits {
  /** Per exit (in depth order): samples x classes. */
  exits: Float32Array[];
  /** The full model's logits for the same samples. */
  final: Float32Array;
  labels: Int32Array;
  classes: number;
}

export interface Policy {
  kind: 'softmax' | 'entropy';
  /** One threshold per exit: tau in (0, 1] for softmax, T >= 0 (nats) for entropy. */
  thresholds: number[];
}

export interface PolicyOutcome {
  policy: Policy;
  /** Share of all samples leaving at each exit, and reaching the end. */
  rates: number[];
  finalRate: number;
  /** Accuracy of the samples that leave at each exit (null when none does) and of those that reach the end. */
  exitAccuracy: (number | null)[];
  finalAccuracy: number | null;
  accuracy: number;
  /** Where each sample left: exit index, or exits.length for the end. */
  taken: Int32Array;
}

/** Softmax of one row of logits divided by a temperature. */
export function softmax(row: ArrayLike<number>, temperature = 1): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]! / temperature);
  const p = Float64Array.from({ length: row.length }, (_, i) => Math.exp(row[i]! / temperature - max));
  const z = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / z);
}

export const entropy = (p: Float64Array): number => -p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);

export function checkPolicy(policy: Policy, exits: number): void {
  if (policy.thresholds.length !== exits) throw new ImperaError('BAD_ARGUMENT', `the policy gives ${policy.thresholds.length} thresholds for ${exits} exits`);
  for (const t of policy.thresholds) {
    if (policy.kind === 'softmax' && !(t > 0 && t <= 1)) throw new ImperaError('BAD_ARGUMENT', `tau ${t} is outside (0, 1]`, 'a max-softmax threshold is a probability, e.g. 0.9');
    if (policy.kind === 'entropy' && !(t >= 0)) throw new ImperaError('BAD_ARGUMENT', `entropy threshold ${t} is negative`);
  }
}

export function applyPolicy(o: ExitLogits, policy: Policy, temperatures?: readonly number[]): PolicyOutcome {
  checkPolicy(policy, o.exits.length);
  const n = o.labels.length;
  const k = o.exits.length;
  const counts = new Array<number>(k + 1).fill(0);
  const correct = new Array<number>(k + 1).fill(0);
  const taken = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    let where = k;
    let predicted = argmax(o.final.subarray(s * o.classes, (s + 1) * o.classes));
    for (let e = 0; e < k; e++) {
      const p = softmax(o.exits[e]!.subarray(s * o.classes, (s + 1) * o.classes), temperatures?.[e] ?? 1);
      const confident = policy.kind === 'softmax' ? Math.max(...p) >= policy.thresholds[e]! : entropy(p) <= policy.thresholds[e]!;
      if (confident) {
        where = e;
        predicted = argmax(p);
        break;
      }
    }
    taken[s] = where;
    counts[where]!++;
    if (predicted === o.labels[s]) correct[where]!++;
  }
  const acc = (i: number) => (counts[i] ? correct[i]! / counts[i]! : null);
  return {
    policy,
    rates: counts.slice(0, k).map((c) => c / n),
    finalRate: counts[k]! / n,
    exitAccuracy: counts.slice(0, k).map((_, i) => acc(i)),
    finalAccuracy: acc(k),
    accuracy: correct.reduce((a, b) => a + b, 0) / n,
    taken,
  };
}

/** The same tau (or entropy threshold) at every exit, over a range of values. */
export function sweep(o: ExitLogits, kind: Policy['kind'], values: readonly number[], temperatures?: readonly number[]): PolicyOutcome[] {
  return values.map((v) => applyPolicy(o, { kind, thresholds: o.exits.map(() => v) }, temperatures));
}

export const DEFAULT_TAUS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999];

/**
 * Edge inference outage probability: the share of consecutive batches of `batch` samples in which the samples
 * answered at the edge are less accurate than `target` (batches where none leaves early count as no outage).
 */
export function outageProbability(o: ExitLogits, outcome: PolicyOutcome, target: number, batch = 100, temperatures?: readonly number[]): number {
  const k = o.exits.length;
  let batches = 0;
  let outages = 0;
  for (let start = 0; start + batch <= o.labels.length; start += batch) {
    batches++;
    let answered = 0;
    let right = 0;
    for (let s = start; s < start + batch; s++) {
      const e = outcome.taken[s]!;
      if (e === k) continue;
      answered++;
      if (argmax(softmax(o.exits[e]!.subarray(s * o.classes, (s + 1) * o.classes), temperatures?.[e] ?? 1)) === o.labels[s]) right++;
    }
    if (answered > 0 && right / answered < target) outages++;
  }
  return batches ? outages / batches : 0;
}

/** Missed-deadline probability: the share of samples whose path (`taken`: exit k, or the end) takes longer than `deadlineMs`. */
export function missedDeadline(taken: Int32Array, pathMs: readonly number[], deadlineMs: number): number {
  let missed = 0;
  for (const e of taken) if (pathMs[e]! > deadlineMs) missed++;
  return taken.length ? missed / taken.length : 0;
}
