/**
 * Input-side baselines: what sending the input itself costs (remote computing) — the model input tensor, the raw
 * 8-bit image, the image as PNG (lossless) and as JPEG at several qualities — and the full model's accuracy on what
 * the receiver decodes. Lossless forms keep the full model's accuracy; JPEG runs the model on decoded images.
 */
import type { Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { encodePng, jpegRoundTrip } from '../data/images.js';
import type { RasterImage } from '../data/preprocess.js';
import type { Graph } from '../graph/graph.js';
import { DataType } from '../onnx/dtype.js';
import { createSession, run } from '../ort/session.js';
import { argmax, mean, quantile, wilson } from '../util/stats.js';

export interface BaselineEval {
  name: string;
  bytes: { mean: number; p95: number; samples: number };
  accuracy: number;
  ci: [number, number];
}

export const DEFAULT_JPEG_QUALITIES = [95, 75, 50, 25, 10];

export async function inputBaselines(g: Graph, data: Dataset, samples: number, fullAccuracy: number, opts: { jpegQualities?: readonly number[]; batchSize?: number } = {}): Promise<BaselineEval[]> {
  const [inputName, info] = [...g.inputShapes][0]!;
  const [, channels, height, width] = info.shape as [number, number, number, number];
  const spec = { channels, height, width };
  const idx = Array.from({ length: samples }, (_, i) => i);
  const { raster, preprocess } = data;
  if (!raster || !preprocess) throw new ImperaError('DATASET', `input baselines (PNG, JPEG) compress images, and '${data.name}' holds arrays`, 'leave the input baselines out for array data');
  const rasters = idx.map((i) => raster(i));
  const fullCorrect = Math.round(fullAccuracy * samples);
  const lossless = (name: string, sizes: number[]): BaselineEval => ({ name, bytes: { mean: mean(sizes), p95: quantile(sizes, 0.95), samples }, accuracy: fullAccuracy, ci: wilson(fullCorrect, samples) });
  const results = [
    lossless('input tensor (float32)', idx.map(() => channels * height * width * 4)),
    lossless(`raw image (${rasters[0]!.width}x${rasters[0]!.height}x${rasters[0]!.channels} uint8)`, rasters.map((r) => r.pixels.length)),
    lossless('PNG', rasters.map((r) => encodePng(r).length)),
  ];
  const session = await createSession(g.proto, g.model.dir);
  const batch = opts.batchSize ?? 16;
  const classes = (g.tensors.get(g.outputs[0]!.name!)?.shape[1]) ?? 0;
  try {
    for (const q of opts.jpegQualities ?? DEFAULT_JPEG_QUALITIES) {
      const coded = rasters.map((r) => jpegRoundTrip(r, q));
      let correct = 0;
      for (let start = 0; start < samples; start += batch) {
        const chunk = coded.slice(start, start + batch);
        const x = new Float32Array(chunk.length * channels * height * width);
        chunk.forEach((c, n) => preprocess(c.decoded as RasterImage, spec, x, n * channels * height * width, `JPEG q${q}`));
        const logits = (await run(session, { [inputName]: { dtype: DataType.FLOAT, dims: [chunk.length, channels, height, width], data: x } }))[g.outputs[0]!.name!]!.data as Float32Array;
        chunk.forEach((_, n) => argmax(logits.subarray(n * classes, (n + 1) * classes)) === data.label(start + n) && correct++);
      }
      const sizes = coded.map((c) => c.bytes);
      results.push({ name: `JPEG q${q}`, bytes: { mean: mean(sizes), p95: quantile(sizes, 0.95), samples }, accuracy: correct / samples, ci: wilson(correct, samples) });
    }
  } finally {
    await session.release();
  }
  return results;
}
