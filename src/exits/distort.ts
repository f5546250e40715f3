/**
 * Input distortions for robustness studies (METHODS.md §5): Gaussian blur and additive Gaussian noise applied to
 * the model's input batch [N, C, H, W] (values in the model's input range, sigma in input pixels), as a camera
 * out of focus or a noisy sensor would deliver. Distorted inputs change exit confidences, so exit rates and the
 * best partition move.
 */
import { ImperaError } from '../errors.js';
import { gaussian, seededRandom } from '../util/random.js';

export type Distortion = { kind: 'blur'; sigma: number } | { kind: 'noise'; sigma: number };

export const distortionLabel = (d: Distortion): string => `${d.kind} ${d.sigma}`;

/** 'blur:1,2,3' / 'noise:0.05,0.1' (comma lists of sigmas), several groups separated by spaces or ';'. */
export function parseDistortions(text: string): Distortion[] {
  return text
    .split(/[;\s]+/)
    .filter(Boolean)
    .flatMap((group) => {
      const m = /^(blur|noise):(.+)$/.exec(group);
      if (!m) throw new ImperaError('BAD_ARGUMENT', `distortion '${group}' is not understood`, "write blur:SIGMA[,SIGMA..] or noise:SIGMA[,SIGMA..], e.g. 'blur:1,3,5 noise:0.05,0.1'");
      return m[2]!.split(',').map((s) => {
        const sigma = Number(s);
        if (!(sigma > 0) || !Number.isFinite(sigma)) throw new ImperaError('BAD_ARGUMENT', `distortion '${group}': sigma '${s}' must be a positive number`);
        return { kind: m[1] as Distortion['kind'], sigma };
      });
    });
}

/** A normalised 1-D Gaussian kernel of radius ceil(3 sigma). */
export function gaussianKernel(sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = Float32Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const z = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / z);
}

/** Separable blur of every [H, W] plane, borders replicated. */
function blur(x: Float32Array, dims: readonly number[], sigma: number): Float32Array {
  const [h, w] = [dims[dims.length - 2]!, dims[dims.length - 1]!];
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const out = new Float32Array(x.length);
  const row = new Float32Array(h * w);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let base = 0; base < x.length; base += h * w) {
    for (let y = 0; y < h; y++)
      for (let c = 0; c < w; c++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r]! * x[base + y * w + clamp(c + j, w)]!;
        row[y * w + c] = s;
      }
    for (let y = 0; y < h; y++)
      for (let c = 0; c < w; c++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r]! * row[clamp(y + j, h) * w + c]!;
        out[base + y * w + c] = s;
      }
  }
  return out;
}

/**
 * The distortion as a batch transform. Noise is drawn from a stream seeded once, so a run is reproducible, and
 * clipped to [lo, hi] (the input range, default [0, 1]).
 */
export function distorter(d: Distortion, seed = 1, range: [number, number] = [0, 1]): (x: Float32Array, dims: number[]) => Float32Array {
  if (d.kind === 'blur') return (x, dims) => blur(x, dims, d.sigma);
  const rand = seededRandom(seed);
  return (x) => x.map((v) => Math.min(range[1], Math.max(range[0], v + d.sigma * gaussian(rand))));
}
