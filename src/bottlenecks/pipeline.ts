/**
 * A learned bottleneck from start to finish: refuse what cannot be trained, cache the head features, train with the
 * backbone frozen, insert the trained bottleneck into the model, quantise its latent with a codec of codecs/
 * (n-bit with ranges fitted on training data, optionally deflated) and measure quality on the test data and bytes
 * at batch 1 through the real wire format, with the exported head+encoder / decoder+tail pair as a deployment runs it.
 */
import { fitCodecs } from '../codecs/calibrate.js';
import type { FittedCodec } from '../codecs/fitted.js';
import { parseCodec } from '../codecs/spec.js';
import { describeCut, type Cut } from '../cuts/cuts.js';
import { cutFromTensors } from '../cuts/enumerate.js';
import { modelInputs, subsetDataset, type Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { attachCodec, runCodecPair } from '../export/codec.js';
import type { ExportedPart } from '../export/extract.js';
import { splitModel } from '../export/split.js';
import { analyzeModel } from '../graph/analyze.js';
import { tensor, type Graph } from '../graph/graph.js';
import { producerInfo } from '../graph/producers.js';
import { tensorLayout } from '../graph/layout.js';
import { DataType } from '../onnx/dtype.js';
import { Emitter } from '../onnx/emitter.js';
import { inMemoryModel } from '../onnx/io.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { createSession, run } from '../ort/session.js';
import { chooseTask } from '../task/choose.js';
import { qualityFigure } from '../task/quality.js';
import type { QualityFigure, Task } from '../task/types.js';
import { checkpointPath, removeCheckpoint } from './checkpoint.js';
import { designBottleneck, emitBottleneck, type BottleneckDesign, type DesignOptions } from './design.js';
import { bytesPerSample, cacheFeatures, defaultCacheBytes, samplesThatFit, sliceFeatures } from './features.js';
import { trainWeights, type BottleneckLoss, type EpochLog } from './train.js';

export interface BottleneckOptions extends DesignOptions {
  /** Default: ce on labelled class outputs, kd on unlabelled ones, fidelity for any other output. */
  loss?: BottleneckLoss;
  /** Bits of the latent on the wire (default 8) and whether its packed bytes are deflated (default true). */
  bits?: number;
  deflate?: boolean;
  /** Training samples (default: all that fit in `cacheBytes`), of which `validationShare` (default 0.1) validate. */
  trainSamples?: number;
  validationShare?: number;
  /** Test samples (default: all). */
  testSamples?: number;
  /** Training samples the latent's quantisation ranges are fitted on (default 256). */
  calibrationSamples?: number;
  cacheBytes?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  seed?: number;
  threads?: number;
  /** Folder of the checkpoint (written every epoch, removed when training ends) and whether to resume from it. */
  checkpointDir?: string;
  resume?: boolean;
  onProgress?: (stage: 'features' | 'train' | 'test', done: number, total: number, epoch?: number) => void;
  onEpoch?: (log: EpochLog) => void;
}

export interface TrainedBottleneck {
  cut: string;
  /** The latent tensor and the restored cut tensor in `model`. */
  latent: string;
  restored: string;
  design: BottleneckDesign;
  loss: BottleneckLoss;
  /** Quality of the model with the quantised bottleneck on the test data; the full model's for reference. */
  quality: QualityFigure;
  fullQuality: QualityFigure;
  /** Mean bytes per sample on the wire at batch 1, and the cut tensor's float32 bytes. */
  bytesPerSample: number;
  rawBytes: number;
  elementsRatio: number;
  epochs: number;
  bestEpoch: number;
  history: EpochLog[];
  trainSamples: number;
  /** The whole model with the bottleneck inside, the encoder and decoder alone, the deployed pair and its codec. */
  model: ModelProto;
  encoder: ModelProto;
  decoder: ModelProto;
  parts: [ExportedPart, ExportedPart];
  codec: FittedCodec;
  warnings: string[];
}

const CLASS_METRICS = new Set(['accuracy', 'top1-agreement', 'top5-agreement']);

/** The loss to train with: the one asked, if the task allows it, else the task's default. */
export function chooseLoss(task: Task, labelled: boolean, asked?: BottleneckLoss): BottleneckLoss {
  const classes = CLASS_METRICS.has(task.metric.name);
  if (!asked) return classes ? (labelled ? 'ce' : 'kd') : 'fidelity';
  if (asked !== 'fidelity' && !classes) throw new ImperaError('BAD_ARGUMENT', `loss ${asked} needs class scores, but this model's output is scored by ${task.metric.label} (${task.reason})`, 'use --loss fidelity');
  if (asked === 'ce' && !labelled) throw new ImperaError('BAD_ARGUMENT', 'loss ce needs labelled training data, and this data has no labels', 'use --loss kd (distillation to the full model) or give labelled data');
  return asked;
}

/** The model with the bottleneck's weights as initializers inserted at `cutTensor`: the tail reads its reconstruction. */
export function insertBottleneck(g: Graph, d: BottleneckDesign, cutTensor: string, values: ReadonlyMap<string, Float32Array>): { proto: ModelProto; latent: string; restored: string } {
  const latent = `${cutTensor}::latent`;
  const restored = `${cutTensor}::restored`;
  const e = new Emitter(Math.max(g.opsets.get('') ?? 13, 11), 'bottleneck');
  const shapes = new Map([...d.params.map((p) => [p.name, p.shape] as const), ...d.norms.flatMap((s) => [[s.mean, s.shape], [s.variance, s.shape]] as const)]);
  emitBottleneck(e, d, cutTensor, 'infer', (n) => e.initializer(n, DataType.FLOAT, shapes.get(n)!, values.get(n)!), { latent, output: restored });
  const graph = g.proto.graph!;
  const reread = (n: onnx.INodeProto) => ({ ...n, input: (n.input ?? []).map((x) => (x === cutTensor ? restored : x)) });
  const at = (graph.node ?? []).findIndex((n) => (n.output ?? []).includes(cutTensor));
  const nodes = graph.node ?? [];
  const proto = onnx.ModelProto.create({
    ...g.proto,
    opsetImport: (g.proto.opsetImport ?? []).map((o) => (o.domain ? o : { ...o, version: Math.max(Number(o.version), 11) })),
    graph: { ...graph, node: [...nodes.slice(0, at + 1), ...e.nodes, ...nodes.slice(at + 1).map(reread)], initializer: [...(graph.initializer ?? []), ...e.initializers] },
  });
  return { proto, latent, restored };
}

/** The encoder or the decoder alone, weights inside: the cut tensor to the latent, or the latent to the restored tensor. */
export function halfModel(full: Graph, from: string, to: string, name: string): ModelProto {
  const cut = (t: string) => describeCut(full, cutFromTensors(full, [t]).cut, -1);
  const part = splitModel(full, [cut(from), cut(to)]).parts[1]!.proto;
  return onnx.ModelProto.create({ ...part, graph: { ...part.graph!, name } });
}

export async function trainBottleneck(g: Graph, cut: Cut, data: { train: Dataset; test: Dataset }, options: BottleneckOptions = {}): Promise<TrainedBottleneck> {
  if (cut.tensors.length !== 1) throw new ImperaError('BAD_ARGUMENT', `cut ${cut.id} crosses ${cut.tensors.length} tensors: a bottleneck compresses one tensor with one encoder (tensors of different shapes share no convolution)`, 'pick a single-tensor cut (impera inspect --width 1)');
  if (!data.train.size) throw new ImperaError('BAD_ARGUMENT', 'no training data: a bottleneck is trained on samples of the model\'s input', 'give training data with --data');
  const cutTensor = cut.tensors[0]!;
  const d = designBottleneck(tensor(g, cutTensor).shape, tensorLayout(g, cutTensor), options);
  const outputName = g.outputs[0]!.name!;
  const task = await chooseTask([{ name: outputName, dims: tensor(g, outputName).shape, ...producerInfo(g, outputName) }], { labelled: data.train.labelled && data.test.labelled, classes: data.train.classes.length });
  const loss = chooseLoss(task, data.train.labelled, options.loss);
  const batchSize = options.batchSize ?? 32;
  const warnings: string[] = [];
  const wanted = Math.min(options.trainSamples ?? data.train.size, data.train.size);
  const count = samplesThatFit(bytesPerSample(g, cutTensor), wanted, options.cacheBytes ?? defaultCacheBytes(), batchSize + 1);
  if (count < wanted) warnings.push(`${count} of ${wanted} training samples fit in the feature cache at this cut; training on ${count}`);
  const features = await cacheFeatures(g, cutTensor, data.train, Array.from({ length: count }, (_, i) => i), { onProgress: (a, b) => options.onProgress?.('features', a, b) });
  const valCount = Math.max(1, Math.round(count * (options.validationShare ?? 0.1)));
  const train = sliceFeatures(features, 0, count - valCount);
  const val = sliceFeatures(features, count - valCount, count);
  const tail = splitModel(g, [cut]).parts[1]!.proto;
  const ckpt = options.checkpointDir ? checkpointPath(options.checkpointDir) : undefined;
  const fingerprint = JSON.stringify({ model: g.model.source, cut: cutTensor, shape: d.shape, ratio: d.ratio, hidden: d.hidden, stride: d.stride, loss, seed: options.seed ?? 1, count, batchSize });
  const trained = await trainWeights(d, tail, cutTensor, train, val, {
    loss,
    ...(options.epochs ? { maxEpochs: options.epochs } : {}),
    batchSize,
    ...(options.learningRate ? { learningRate: options.learningRate } : {}),
    ...(options.patience ? { patience: options.patience } : {}),
    ...(options.seed ? { seed: options.seed } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    ...(ckpt ? { checkpoint: { path: ckpt, fingerprint, resume: options.resume ?? false } } : {}),
    ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}),
    onStep: (s, n, epoch) => options.onProgress?.('train', s, n, epoch),
  }, g.model.dir);
  const inserted = insertBottleneck(g, d, cutTensor, trained.values);
  const full = await analyzeModel({ ...inMemoryModel(inserted.proto, `${g.model.source} with a bottleneck at ${cutTensor}`), dir: g.model.dir });
  const latentCut = describeCut(full, cutFromTensors(full, [inserted.latent]).cut, -1);
  const spec = parseCodec(`int${options.bits ?? 8}${options.deflate === false ? '' : '+deflate'}`);
  const calibration = subsetDataset(data.train, Array.from({ length: Math.min(options.calibrationSamples ?? 256, count) }, (_, i) => i), `${data.train.name} (calibration)`);
  const codec = (await fitCodecs(full, [latentCut], [spec], calibration)).get(latentCut.id)![0]!;
  const split = splitModel(full, [latentCut]).parts as [ExportedPart, ExportedPart];
  const parts = attachCodec(full, split, codec);
  const measured = await measure(g, parts, codec, task, data.test, Math.min(options.testSamples ?? data.test.size, data.test.size), (a, b) => options.onProgress?.('test', a, b));
  const encoder = halfModel(full, cutTensor, inserted.latent, 'bottleneck_encoder');
  const decoder = halfModel(full, inserted.latent, inserted.restored, 'bottleneck_decoder');
  if (ckpt) removeCheckpoint(ckpt);
  return {
    cut: cutTensor,
    latent: inserted.latent,
    restored: inserted.restored,
    design: d,
    loss,
    ...measured,
    rawBytes: cut.wireBytes.float32,
    elementsRatio: d.elementsRatio,
    epochs: trained.history.length,
    bestEpoch: trained.bestEpoch,
    history: trained.history,
    trainSamples: train.count,
    model: inserted.proto,
    encoder,
    decoder,
    parts,
    codec,
    warnings,
  };
}

/** Quality and bytes of the deployed pair on `count` test samples, against the full model. */
async function measure(g: Graph, parts: [ExportedPart, ExportedPart], codec: FittedCodec, task: Task, test: Dataset, count: number, onProgress: (done: number, total: number) => void): Promise<{ quality: QualityFigure; fullQuality: QualityFigure; bytesPerSample: number }> {
  const inputs = modelInputs(g);
  const outputName = g.outputs[0]!.name!;
  const sessions = [await createSession(parts[0].proto, g.model.dir), await createSession(parts[1].proto, g.model.dir)] as const;
  const reference = await createSession(g.proto, g.model.dir);
  const scores: number[] = [];
  const fullScores: number[] = [];
  let bytes = 0;
  try {
    for (let start = 0; start < count; start += 32) {
      const idx = Array.from({ length: Math.min(32, count - start) }, (_, i) => start + i);
      const feeds = test.feeds(idx, inputs);
      const [pair, ref] = [await runCodecPair(parts, sessions, codec, feeds), await run(reference, feeds, [outputName])];
      const labels = test.labelled ? idx.map((i) => test.label(i)) : null;
      const full = { [outputName]: ref[outputName]! };
      scores.push(...(await task.score({ n: idx.length, split: { [outputName]: pair.outputs[parts[1].outputs[0]!]! }, full, labels })));
      fullScores.push(...(await task.scoreFull({ n: idx.length, full, labels })));
      bytes += pair.bytes.reduce((a, b) => a + b, 0);
      onProgress(start + idx.length, count);
    }
  } finally {
    await Promise.all([...sessions, reference].map((s) => s.release()));
  }
  return { quality: qualityFigure(task.metric, scores), fullQuality: qualityFigure(task.metric, fullScores), bytesPerSample: bytes / Math.max(count, 1) };
}
