/**
 * Backbone features for exit branches, computed once: one pass of the frozen model over a dataset, exposing every
 * exit's cut tensor already globally average-pooled inside ONNX Runtime (so only C floats per image and exit reach
 * JavaScript; conv exits keep the whole tensor), plus the full model's logits. Branches then train for many epochs on the cached vectors.
 * Classifier exits need class scores [N, K]; their targets are the data's labels, or, for unlabelled data, the full
 * model's top-1 (distillation: an exit's accuracy is then its agreement with the model). With `anyOutput` the model's
 * first output is cached as it is, for exits that predict it (output-pipeline.ts).
 */
import { Emitter } from '../onnx/emitter.js';
import { modelInputs, type Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { tensor, type Graph } from '../graph/graph.js';
import { channelAxes, tensorLayout, type ChannelLayout } from '../graph/layout.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType, numel } from '../onnx/dtype.js';
import { onnx } from '../onnx/proto.js';
import { createSession, run } from '../ort/session.js';
import { argmax } from '../util/stats.js';

export interface ExitFeatures {
  /** Per exit, samples x width row-major: the pooled vector (width = channels) or, for `maps`, the whole tensor. */
  features: Float32Array[];
  channels: number[];
  width: number[];
  /**
   * The full model's logits (samples x classes) and the labels: the data's, or the full model's top-1 (`distilled`).
   * With `anyOutput`, `logits` holds the model's first output whatever its shape, `classes` its values per sample,
   * and there are no labels (all 0): exits that predict the output distil it (output-branch.ts).
   */
  logits: Float32Array;
  labels: Int32Array;
  distilled: boolean;
  classes: number;
  count: number;
}

export const featureName = (t: string): string => `${t}::features`;

/**
 * The model's class scores [N, K] that exits learn to predict: an exit is a classifier whose softmax confidence
 * decides when a sample leaves early, so a map, a sequence or an embedding output is refused in one line.
 */
export function classScores(g: Graph): { name: string; classes: number } {
  const name = g.outputs[0]!.name!;
  const { shape, dataDependent } = tensor(g, name);
  if (shape.length !== 2 || shape[1]! < 2 || dataDependent) {
    throw new ImperaError('BAD_ARGUMENT', `exit branches are classifiers whose softmax confidence decides when a sample leaves early, and output '${name}' [${shape.join(', ')}] is not class scores [N, K]`, 'exits work on classifiers (with labels, or distilled from the full model without); for maps, sequences and embeddings, compare cuts and codecs with impera eval or impera plan');
  }
  return { name, classes: shape[1]! };
}

/** The top class of each row of `logits` (samples x classes), as distillation targets. */
const topClasses = (logits: Float32Array, classes: number): Int32Array => Int32Array.from({ length: logits.length / classes }, (_, n) => argmax(logits.subarray(n * classes, (n + 1) * classes)));

/** Global average pooling of an exit tensor over its positions (H, W of a map, T of tokens); a vector as is. */
export function emitPool(e: Emitter, t: string, shape: readonly number[], layout: ChannelLayout | undefined): string {
  if (!layout) throw new ImperaError('BAD_ARGUMENT', `an exit needs a feature map [N, C, H, W], token sequence [N, T, C] or vector [N, C], but '${t}' has shape [${shape}]`, 'pick a cut whose tensor has one of these shapes');
  return layout.positionAxes.length ? e.reduceMean(t, layout.positionAxes, false) : t;
}

export interface FeatureOptions {
  batchSize?: number;
  /** Per exit: keep the whole tensor instead of pooling it (conv branches). */
  maps?: readonly boolean[];
  /** Distorts each input batch (robustness studies). */
  transform?: (x: Float32Array, dims: number[]) => Float32Array;
  /** Cache the model's first output as it is (maps, sequences, embeddings) instead of class scores. */
  anyOutput?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Feature caches larger than this are refused: a conv exit on an early, wide cut can need tens of GB. */
export const MAX_FEATURE_BYTES = 6 * 2 ** 30;

/** One pass over `indices` of `data`. */
export async function extractFeatures(g: Graph, exitTensors: readonly string[], data: Dataset, indices: readonly number[], opts: FeatureOptions = {}): Promise<ExitFeatures> {
  const e = new Emitter(g.opsets.get('') ?? 13, 'exit');
  const axes = channelAxes(g);
  const outputs = exitTensors.map((t, k) => e.op('Identity', [opts.maps?.[k] ? t : emitPool(e, t, tensor(g, t).shape, tensorLayout(g, t, axes))], {}, { output: featureName(t) }));
  const { name: logitsName, classes } = opts.anyOutput ? { name: g.outputs[0]!.name!, classes: numel(tensor(g, g.outputs[0]!.name!).shape.slice(1)) } : classScores(g);
  const graph = g.proto.graph!;
  const proto = onnx.ModelProto.create({
    ...g.proto,
    graph: { ...graph, node: [...(graph.node ?? []), ...e.nodes], initializer: [...(graph.initializer ?? []), ...e.initializers], output: [valueInfo(logitsName, DataType.FLOAT), ...outputs.map((o) => valueInfo(o, DataType.FLOAT))] },
  });
  const channels = exitTensors.map((t) => tensorLayout(g, t, axes)!.channels);
  const width = exitTensors.map((t, k) => (opts.maps?.[k] ? numel(tensor(g, t).shape.slice(1)) : channels[k]!));
  const count = indices.length;
  const bytes = width.reduce((s, w) => s + w * count * 4, 0);
  if (bytes > MAX_FEATURE_BYTES) {
    throw new ImperaError('BAD_ARGUMENT', `caching the exit features of ${count} samples needs ${(bytes / 2 ** 30).toFixed(1)} GiB (limit ${MAX_FEATURE_BYTES / 2 ** 30} GiB)`, 'use fewer training samples (--train-samples), a later cut, or the linear exit, which caches pooled vectors');
  }
  const features = width.map((w) => new Float32Array(count * w));
  const logits = new Float32Array(count * classes);
  const inputs = modelInputs(g);
  const inputName = inputs[0]!.name;
  const batch = opts.batchSize ?? 32;
  const session = await createSession(proto, g.model.dir);
  try {
    for (let start = 0; start < count; start += batch) {
      const chunk = indices.slice(start, start + batch);
      const feeds = data.feeds(chunk, inputs);
      const x = feeds[inputName]!;
      // a distortion (robustness) applies to the image input; other inputs pass as they are
      if (opts.transform) feeds[inputName] = { ...x, data: opts.transform(x.data as Float32Array, [...x.dims]) };
      const out = await run(session, feeds);
      logits.set(out[logitsName]!.data as Float32Array, start * classes);
      exitTensors.forEach((t, k) => features[k]!.set(out[featureName(t)]!.data as Float32Array, start * width[k]!));
      opts.onProgress?.(start + chunk.length, count);
    }
  } finally {
    await session.release();
  }
  const labels = opts.anyOutput ? new Int32Array(count) : data.labelled ? Int32Array.from(indices, (i) => data.label(i)) : topClasses(logits, classes);
  return { features, channels, width, logits, labels, distilled: opts.anyOutput === true || !data.labelled, classes, count };
}
