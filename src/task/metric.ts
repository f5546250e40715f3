/**
 * What every built-in metric is made of: a definition that says whether it fits an output and the data (and why
 * not), and scores one output of a batch sample by sample. The family files (classification, fidelity, maps,
 * sequences) each export their definitions; `choose.ts` holds the list and turns a definition into a `Task`.
 */
import type { Tensor, TypedArray } from '../onnx/tensor.js';
import type { BuiltinMetric, DataInfo, OutputInfo, TaskOptions } from './types.js';

/** A tensor's values as plain numbers (64-bit integer outputs converted once). */
export type Numbers = Exclude<TypedArray, BigInt64Array | BigUint64Array>;

export const numbersOf = (t: Tensor): Numbers => (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array ? Float64Array.from(t.data, Number) : t.data);

/** Sample i of n, as a view of the batch's values. */
export function sampleOf(values: Numbers, n: number, i: number): Numbers {
  const per = values.length / n;
  return values.subarray(i * per, (i + 1) * per) as Numbers;
}

/** Per-sample scores of one output: `f` sees the split and full values of each sample (and its label). */
export function perSample(split: Tensor, full: Tensor, n: number, labels: readonly number[] | null, f: (s: Numbers, r: Numbers, label: number | null) => number): number[] {
  const s = numbersOf(split);
  const r = numbersOf(full);
  if (s.length !== r.length) throw new Error(`split and full outputs differ in size (${s.length} vs ${r.length})`);
  return Array.from({ length: n }, (_, i) => f(sampleOf(s, n, i), sampleOf(r, n, i), labels ? labels[i]! : null));
}

/** The options a metric's label and scores depend on, with defaults applied. */
export interface MetricSettings {
  threshold: number;
  /** Whether the user set the threshold (a map outside [0, 1] then has the user's scale). */
  thresholdGiven: boolean;
  blank: number;
}

export const settingsOf = (o: TaskOptions): MetricSettings => ({ threshold: o.threshold ?? 0.5, thresholdGiven: o.threshold !== undefined, blank: o.blank ?? 0 });

export interface MetricDef {
  name: BuiltinMetric;
  label(s: MetricSettings): string;
  better: 'higher' | 'lower';
  kind: 'rate' | 'mean';
  needsLabels: boolean;
  /** Fidelity metrics read every output (averaged); the others read one. */
  readsAll: boolean;
  /** What the output or the data lacks for this metric, or null when it fits. */
  misfit(out: OutputInfo, data: DataInfo, s: MetricSettings): string | null;
  /** How many of the n samples of the full model's output say nothing under this metric (an empty map), when that can happen. */
  vacuous?(full: Tensor, n: number, s: MetricSettings): number;
  /** What `vacuous` samples mean, for the report: 'the full model's map was empty at 0.5'. */
  vacuousNote?(s: MetricSettings): string;
  /** Per-sample scores of one output of a batch of n. */
  score(split: Tensor, full: Tensor, n: number, labels: readonly number[] | null, s: MetricSettings): number[];
}
