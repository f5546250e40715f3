/**
 * Class scores [N, K]: top-1 accuracy against labels, and top-1 / top-5 agreement with the full model where there
 * are no labels. `topClass` is the one place a predicted class is taken (eval's predictions and agreement use it).
 */
import type { Tensor } from '../onnx/tensor.js';
import { argmax } from '../util/stats.js';
import { numbersOf, perSample, sampleOf, type MetricDef, type Numbers } from './metric.js';
import type { DataInfo, OutputInfo } from './types.js';

/** The predicted class of every sample of a [N, K] output. */
export function topClass(t: Tensor, n: number): number[] {
  const v = numbersOf(t);
  return Array.from({ length: n }, (_, i) => argmax(sampleOf(v, n, i)));
}

/** Whether class `c` is among the k largest scores of a row (ties count against it: strictly larger ones). */
function inTopK(row: Numbers, c: number, k: number): boolean {
  let larger = 0;
  for (let i = 0; i < row.length; i++) if (row[i]! > row[c]!) larger++;
  return larger < k;
}

/** Why an output is not class scores with at least `min` classes, or null. */
function notClassScores(out: OutputInfo, min: number): string | null {
  if (out.dims.length !== 2) return `it needs class scores [N, classes], and this output has rank ${out.dims.length}`;
  if (out.dims[1]! < min) return `it needs at least ${min} class scores, and this output has ${out.dims[1]}`;
  if (out.producer === 'normalized') return 'this output is normalised (a layer norm or an L2 normalisation: an embedding or a hidden state), not class scores';
  return null;
}

function labelMisfit(out: OutputInfo, data: DataInfo): string | null {
  if (!data.labelled) return 'it needs labelled data, and this data has no labels';
  if (data.classes > out.dims[1]!) return `the data's labels have ${data.classes} classes and the output scores only ${out.dims[1]}`;
  return null;
}

const hit = (b: boolean): number => (b ? 1 : 0);

export const classificationMetrics: readonly MetricDef[] = [
  {
    name: 'accuracy',
    label: () => 'top-1 accuracy',
    better: 'higher',
    kind: 'rate',
    needsLabels: true,
    readsAll: false,
    misfit: (out, data) => notClassScores(out, 2) ?? labelMisfit(out, data),
    score: (split, full, n, labels) =>
      perSample(split, full, n, labels, (s, _r, label) => {
        if (label === null || label >= s.length) throw new Error(`label ${label} is not one of the output's ${s.length} classes`);
        return hit(argmax(s) === label);
      }),
  },
  {
    name: 'top1-agreement',
    label: () => 'top-1 agreement',
    better: 'higher',
    kind: 'rate',
    needsLabels: false,
    readsAll: false,
    misfit: (out) => notClassScores(out, 2),
    score: (split, full, n) => perSample(split, full, n, null, (s, r) => hit(argmax(s) === argmax(r))),
  },
  {
    name: 'top5-agreement',
    label: () => 'top-5 agreement',
    better: 'higher',
    kind: 'rate',
    needsLabels: false,
    readsAll: false,
    misfit: (out) => notClassScores(out, 6),
    score: (split, full, n) => perSample(split, full, n, null, (s, r) => hit(inTopK(s, argmax(r), 5))),
  },
];
