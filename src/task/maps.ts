/**
 * Probability or score maps [N, C, H, W] (detection, segmentation): IoU and F1 of the map thresholded at
 * `threshold` against the full model's map thresholded the same way, per sample over every channel and pixel.
 * Two empty masks agree perfectly (1). A map whose values leave [0, 1] is not a probability map: the default
 * threshold is then refused (see `choose.ts`), an explicit one is the user's scale.
 *
 * Class scores per pixel [N, C, H, W], C >= 2 (a semantic segmenter's logits or softmax): the class map is the
 * argmax over C at each pixel; its mean IoU over the classes present in either map (the segmentation mIoU, against
 * the full model's map instead of ground truth), or the share of pixels whose class agrees.
 */
import { PIXEL_CLASS_PRODUCERS } from '../graph/producers.js';
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

/** The class of each of `pixels` positions: argmax over the C channels (channel c of pixel p at c * pixels + p). */
function classMap(v: Numbers, channels: number): Uint16Array {
  const pixels = v.length / channels;
  const out = new Uint16Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let best = v[p]!;
    for (let c = 1; c < channels; c++) {
      if (v[c * pixels + p]! > best) {
        best = v[c * pixels + p]!;
        out[p] = c;
      }
    }
  }
  return out;
}

/** Mean over the classes present in either class map of |A_c ∩ B_c| / |A_c ∪ B_c|. */
export function classMapMiou(s: Numbers, r: Numbers, channels: number): number {
  const [a, b] = [classMap(s, channels), classMap(r, channels)];
  const both = new Float64Array(channels);
  const either = new Float64Array(channels);
  for (let p = 0; p < a.length; p++) {
    either[a[p]!]!++;
    if (a[p] === b[p]) both[a[p]!]!++;
    else either[b[p]!]!++;
  }
  let sum = 0;
  let present = 0;
  for (let c = 0; c < channels; c++) {
    if (either[c] === 0) continue;
    sum += both[c]! / either[c]!;
    present++;
  }
  return sum / present;
}

export function pixelAgreement(s: Numbers, r: Numbers, channels: number): number {
  const [a, b] = [classMap(s, channels), classMap(r, channels)];
  let same = 0;
  for (let p = 0; p < a.length; p++) if (a[p] === b[p]) same++;
  return same / a.length;
}


/** Why an output is not class scores per pixel [N, C >= 2, H, W], or null. */
function notClassMaps(out: OutputInfo): string | null {
  const { dims } = out;
  if (dims.length !== 4) return `it needs class scores per pixel [N, C, H, W], and this output has rank ${dims.length}`;
  if (dims[1]! < 2) return `it needs at least 2 classes per pixel, and this output has ${dims[1]} channel`;
  if (dims[2]! * dims[3]! < 2) return 'it needs a map of more than one position';
  if (out.producer !== undefined && !PIXEL_CLASS_PRODUCERS.has(out.producer)) return `this output comes from ${out.producer === 'normalized' ? 'a normalisation' : out.producer}, not a convolution, a projection or a softmax, so its argmax per pixel is not a class`;
  return null;
}

const classMapMetric = (name: MetricDef['name'], label: string, f: (s: Numbers, r: Numbers, channels: number) => number): MetricDef => ({
  name,
  label: () => label,
  better: 'higher',
  kind: 'mean',
  needsLabels: false,
  readsAll: false,
  misfit: (out) => notClassMaps(out),
  // a segmenter that puts one class on every pixel (untrained, or data with nothing to segment) makes the metric easy
  vacuous: (full, n) => perSample(full, full, n, null, (_x, r) => (classMap(r, full.dims[1]!).every((c, _p, m) => c === m[0]) ? 1 : 0)).reduce((a, b) => a + b, 0),
  vacuousNote: () => `the full model's class map is one class on every pixel (${label} then only asks whether the split model keeps that class: use data where the model segments something)`,
  score: (split, full, n) => perSample(split, full, n, null, (x, r) => f(x, r, split.dims[1]!)),
});

export const mapMetrics: readonly MetricDef[] = [
  mapMetric('map-iou', 'IoU', mapIou),
  mapMetric('map-f1', 'F1', mapF1),
  classMapMetric('class-map-miou', 'class-map mIoU', classMapMiou),
  classMapMetric('pixel-agreement', 'pixel agreement', pixelAgreement),
];
