/**
 * Probability or score maps [N, C, H, W] (detection, segmentation): IoU and F1 of the map thresholded at
 * `threshold` against the full model's map thresholded the same way, per sample over every channel and pixel.
 * Two empty masks agree perfectly (1). A map whose values leave [0, 1] is not a probability map: the default
 * threshold is then refused (see `choose.ts`), an explicit one is the user's scale.
 */
import { perSample, type MetricDef, type MetricSettings, type Numbers } from './metric.js';
import type { OutputInfo } from './types.js';

/** |A ∩ B|, |A| and |B| of the masks (s > t) and (r > t). */
function overlap(s: Numbers, r: Numbers, t: number) {
  let both = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < s.length; i++) {
    const x = s[i]! > t;
    const y = r[i]! > t;
    if (x) a++;
    if (y) b++;
    if (x && y) both++;
  }
  return { both, a, b };
}

export const mapIou = (s: Numbers, r: Numbers, t: number): number => {
  const o = overlap(s, r, t);
  const union = o.a + o.b - o.both;
  return union === 0 ? 1 : o.both / union;
};

export const mapF1 = (s: Numbers, r: Numbers, t: number): number => {
  const o = overlap(s, r, t);
  return o.a + o.b === 0 ? 1 : (2 * o.both) / (o.a + o.b);
};

/** Why an output is not a map [N, C, H, W] with more than one position (of probabilities, unless thresholded on the user's scale), or null. */
function notAMap(out: OutputInfo, s: MetricSettings): string | null {
  const { dims, range } = out;
  if (dims.length !== 4) return `it needs a map [N, C, H, W], and this output has rank ${dims.length}`;
  if (dims[2]! * dims[3]! < 2) return 'it needs a map of more than one position';
  if (!s.thresholdGiven && range && (range[0] < 0 || range[1] > 1)) return `its values run from ${range[0].toPrecision(3)} to ${range[1].toPrecision(3)}, not probabilities in [0, 1] (set a threshold on their scale)`;
  return null;
}

const mapMetric = (name: MetricDef['name'], what: string, f: (s: Numbers, r: Numbers, t: number) => number): MetricDef => ({
  name,
  label: (s) => `map ${what} @${s.threshold}`,
  better: 'higher',
  kind: 'mean',
  needsLabels: false,
  readsAll: false,
  misfit: (out, _data, s) => notAMap(out, s),
  score: (split, full, n, _labels, s) => perSample(split, full, n, null, (x, r) => f(x, r, s.threshold)),
  vacuous: (full, n, s) => perSample(full, full, n, null, (_x, r) => (r.some((v) => v > s.threshold) ? 0 : 1)).reduce((a, b) => a + b, 0),
  vacuousNote: (s) => `the full model's map is empty at threshold ${s.threshold} (${what} 1 by convention there: lower the threshold, or use data where the model finds something)`,
});

export const mapMetrics: readonly MetricDef[] = [mapMetric('map-iou', 'IoU', mapIou), mapMetric('map-f1', 'F1', mapF1)];
