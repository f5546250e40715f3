/**
 * Head features for bottleneck training, computed once: one pass of the frozen model over the training samples
 * keeps the cut tensor (whole: the bottleneck reads every element) and the full model's output (the teacher of
 * distillation and fidelity losses). The cache is sized to memory first, so a wide, early cut trains on as many
 * samples as fit instead of failing.
 */
import { totalmem } from 'node:os';
import { modelInputs, type Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { tensor, type Graph } from '../graph/graph.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType, numel } from '../onnx/dtype.js';
import { onnx } from '../onnx/proto.js';
import { createSession, run } from '../ort/session.js';

export interface CachedFeatures {
  /** Samples x `width` cut-tensor values, row-major. */
  x: Float32Array;
  width: number;
  /** Samples x `outputWidth` values of the full model's first output. */
  teacher: Float32Array;
  outputWidth: number;
  /** Labels, or null for unlabelled data. */
  labels: Int32Array | null;
  count: number;
}

/** Memory the cache may take by default: a quarter of the machine's, at most 8 GiB. */
export const defaultCacheBytes = (): number => Math.min(totalmem() / 4, 8 * 2 ** 30);

/** Bytes one sample of the cache takes at this cut. */
export function bytesPerSample(g: Graph, cutTensor: string): number {
  return 4 * (numel(tensor(g, cutTensor).shape.slice(1)) + numel(tensor(g, g.outputs[0]!.name!).shape.slice(1)));
}

/** How many of `wanted` samples fit in `budget` bytes; a refusal when not even a mini-batch does. */
export function samplesThatFit(perSample: number, wanted: number, budget: number, minimum: number): number {
  const fit = Math.floor(budget / perSample);
  if (fit < minimum) throw new ImperaError('BAD_ARGUMENT', `caching the cut tensor takes ${(perSample / 2 ** 20).toFixed(1)} MiB per sample: ${fit} samples fit in ${(budget / 2 ** 30).toFixed(1)} GiB, fewer than one mini-batch (${minimum})`, 'pick a later (smaller) cut, or a smaller --batch-size');
  return Math.min(wanted, fit);
}

export interface FeatureOptions {
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** One pass of the model over `indices` of `data`, keeping the cut tensor and the first output. */
export async function cacheFeatures(g: Graph, cutTensor: string, data: Dataset, indices: readonly number[], opts: FeatureOptions = {}): Promise<CachedFeatures> {
  const outputName = g.outputs[0]!.name!;
  const graph = g.proto.graph!;
  const proto = onnx.ModelProto.create({ ...g.proto, graph: { ...graph, output: [valueInfo(outputName, DataType.FLOAT), valueInfo(cutTensor, DataType.FLOAT)] } });
  const width = numel(tensor(g, cutTensor).shape.slice(1));
  const outputWidth = numel(tensor(g, outputName).shape.slice(1));
  const count = indices.length;
  const x = new Float32Array(count * width);
  const teacher = new Float32Array(count * outputWidth);
  const inputs = modelInputs(g);
  const batch = opts.batchSize ?? 32;
  const session = await createSession(proto, g.model.dir);
  try {
    for (let start = 0; start < count; start += batch) {
      const chunk = indices.slice(start, start + batch);
      const out = await run(session, data.feeds(chunk, inputs));
      x.set(out[cutTensor]!.data as Float32Array, start * width);
      teacher.set(out[outputName]!.data as Float32Array, start * outputWidth);
      opts.onProgress?.(start + chunk.length, count);
    }
  } finally {
    await session.release();
  }
  return { x, width, teacher, outputWidth, labels: data.labelled ? Int32Array.from(indices, (i) => data.label(i)) : null, count };
}

/** Rows `from`..`to` of a cache, sharing its memory. */
export function sliceFeatures(f: CachedFeatures, from: number, to: number): CachedFeatures {
  return {
    x: f.x.subarray(from * f.width, to * f.width),
    width: f.width,
    teacher: f.teacher.subarray(from * f.outputWidth, to * f.outputWidth),
    outputWidth: f.outputWidth,
    labels: f.labels ? f.labels.subarray(from, to) : null,
    count: to - from,
  };
}
