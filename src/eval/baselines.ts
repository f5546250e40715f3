/**
 * Input-side baselines: what sending the input itself costs (remote computing) — the model input tensor, the raw
 * 8-bit image, the image as PNG (lossless) and as JPEG at several qualities — and the quality, under the task's
 * metric, of the full model on what the receiver decodes. Lossless forms deliver the input exactly: the full
 * model's outputs, scored against themselves. JPEG runs the model on decoded images and scores its outputs against
 * the outputs on the original input.
 */
import { modelInputs, type Dataset } from '../data/dataset.js';
import { encodePng, jpegRoundTrip } from '../data/images.js';
import type { RasterImage } from '../data/preprocess.js';
import { takesAnyBatch, type Graph } from '../graph/graph.js';
import { DataType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run } from '../ort/session.js';
import { qualityFigure } from '../task/quality.js';
import type { QualityFigure, TaskOptions } from '../task/types.js';
import { mean, quantile } from '../util/stats.js';
import { fixedBatchOne, labelsOf, sampleRows, taskOf } from './evaluate.js';

export interface BaselineEval {
  name: string;
  bytes: { mean: number; p95: number; samples: number };
  quality: QualityFigure;
}

export const DEFAULT_JPEG_QUALITIES = [95, 75, 50, 25, 10];

/** One batch of the full model: its outputs on the data's own inputs and its labels. */
interface Batch {
  indices: number[];
  full: Record<string, Tensor>;
  labels: number[] | null;
}

export async function inputBaselines(g: Graph, data: Dataset, samples: number, opts: { jpegQualities?: readonly number[]; batchSize?: number; task?: TaskOptions } = {}): Promise<BaselineEval[]> {
  const inputs = modelInputs(g);
  const [inputName, info] = [inputs[0]!.name, inputs[0]!];
  const [, channels, height, width] = info.dims as [number, number, number, number];
  const spec = { channels, height, width };
  const idx = Array.from({ length: samples }, (_, i) => i);
  const { raster, preprocess } = data;
  // arrays (audio, features, token ids) have no image form: sending them means sending the input tensors as they are
  const rasters = raster && preprocess ? idx.map((i) => raster(i)) : null;
  const session = await createSession(g.proto, g.model.dir);
  const size = takesAnyBatch(g) ? (opts.batchSize ?? 16) : fixedBatchOne(g, 'input baselines');
  try {
    const batches: Batch[] = [];
    const inputBytes: number[] = [];
    for (let start = 0; start < samples; start += size) {
      const indices = idx.slice(start, start + size);
      const feeds = data.feeds(indices, inputs);
      inputBytes.push(Object.values(feeds).reduce((sum, t) => sum + t.data.byteLength, 0) / indices.length);
      const out = await run(session, feeds);
      batches.push({ indices, full: sampleRows(g, out, Object.keys(out), 0, indices.length), labels: labelsOf(data, indices) });
    }
    const task = await taskOf(g, data, batches[0]!.full, opts.task);
    const scoreAll = async (outputs: (b: Batch) => Promise<Record<string, Tensor>>): Promise<QualityFigure> => {
      const scores: number[] = [];
      for (const b of batches) scores.push(...(await task.score({ n: b.indices.length, split: await outputs(b), full: b.full, labels: b.labels })));
      return qualityFigure(task.metric, scores);
    };
    const exact = await scoreAll(async (b) => b.full);
    const lossless = (name: string, sizes: number[]): BaselineEval => ({ name, bytes: { mean: mean(sizes), p95: quantile(sizes, 0.95), samples }, quality: exact });
    const sent = batches.flatMap((b, k) => b.indices.map(() => inputBytes[k]!));
    if (!rasters || !preprocess) return [lossless(`input tensors (${inputs.map((i) => i.name).join(', ')})`, sent)];
    const results = [
      lossless('input tensor (float32)', sent),
      lossless(`raw image (${rasters[0]!.width}x${rasters[0]!.height}x${rasters[0]!.channels} uint8)`, rasters.map((r) => r.pixels.length)),
      lossless('PNG', rasters.map((r) => encodePng(r).length)),
    ];
    for (const q of opts.jpegQualities ?? DEFAULT_JPEG_QUALITIES) {
      const coded = rasters.map((r) => jpegRoundTrip(r, q));
      const quality = await scoreAll((b) => {
        const x = new Float32Array(b.indices.length * channels * height * width);
        b.indices.forEach((i, n) => preprocess(coded[i]!.decoded as RasterImage, spec, x, n * channels * height * width, `JPEG q${q}`));
        return run(session, { [inputName]: { dtype: DataType.FLOAT, dims: [b.indices.length, channels, height, width], data: x } });
      });
      const sizes = coded.map((c) => c.bytes);
      results.push({ name: `JPEG q${q}`, bytes: { mean: mean(sizes), p95: quantile(sizes, 0.95), samples }, quality });
    }
    return results;
  } finally {
    await session.release();
  }
}

