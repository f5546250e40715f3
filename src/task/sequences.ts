/**
 * Sequence logits [N, T, K] (CTC, tokens): the greedy decode (argmax per step, repeats collapsed, blanks dropped,
 * as CTC's best-path decoding does), exact-sequence agreement with the full model's decode, and the token error
 * rate: the Levenshtein distance of the decodes over the length of the full model's (at least 1).
 */
import { argmax } from '../util/stats.js';
import { perSample, type MetricDef, type Numbers } from './metric.js';
import type { OutputInfo } from './types.js';

/** Best-path CTC decode of one sample's [T, K] logits. */
export function greedyDecode(logits: Numbers, steps: number, blank: number): number[] {
  const k = logits.length / steps;
  const tokens: number[] = [];
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const c = argmax(logits.subarray(t * k, (t + 1) * k));
    if (c !== previous && c !== blank) tokens.push(c);
    previous = c;
  }
  return tokens;
}

/** Levenshtein distance (insertions, deletions, substitutions each cost 1), two rows of the usual table. */
export function editDistance(a: readonly number[], b: readonly number[]): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}

/** What token scores come out of: a projection to the vocabulary, with or without a softmax. */
const TOKEN_SCORES = new Set(['Softmax', 'LogSoftmax', 'linear', 'MatMul', 'Gemm', 'Conv']);

function notASequence(out: OutputInfo): string | null {
  if (out.dims.length !== 3) return `it needs sequence logits [N, T, K], and this output has rank ${out.dims.length}`;
  if (out.dims[1]! < 2 || out.dims[2]! < 2) return `it needs more than one step and one token, and this output is [${out.dims.join(', ')}]`;
  // a hidden state [N, T, D] or a detector's [N, 4 + classes, anchors] has the shape but not the meaning
  if (out.producer !== undefined && !TOKEN_SCORES.has(out.producer)) return `this output comes from ${out.producer === 'normalized' ? 'a normalisation (a hidden state or an embedding)' : `${out.producer}, not a projection or a softmax`}, so its argmax per step is not a token`;
  return null;
}

const sequenceMetric = (name: MetricDef['name'], label: string, better: 'higher' | 'lower', kind: 'rate' | 'mean', f: (s: number[], r: number[]) => number): MetricDef => ({
  name,
  label: () => label,
  better,
  kind,
  needsLabels: false,
  readsAll: false,
  misfit: notASequence,
  score: (split, full, n, _labels, o) => {
    const steps = split.dims[1]!;
    return perSample(split, full, n, null, (s, r) => f(greedyDecode(s, steps, o.blank), greedyDecode(r, steps, o.blank)));
  },
  vacuous: (full, n, o) => perSample(full, full, n, null, (_s, r) => (greedyDecode(r, full.dims[1]!, o.blank).length === 0 ? 1 : 0)).reduce((a, b) => a + b, 0),
  vacuousNote: (o) => `the full model's greedy decode is empty (every step blank ${o.blank}: two empty decodes agree by convention; check the blank id, or use data the model reads something in)`,
});

const sameSequence = (s: number[], r: number[]): number => (s.length === r.length && s.every((t, i) => t === r[i]) ? 1 : 0);

export const sequenceMetrics: readonly MetricDef[] = [
  sequenceMetric('sequence-agreement', 'sequence agreement', 'higher', 'rate', sameSequence),
  sequenceMetric('token-error-rate', 'token error rate', 'lower', 'mean', (s, r) => editDistance(s, r) / Math.max(1, r.length)),
];
