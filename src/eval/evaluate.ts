/**
 * Accuracy and bytes of every cut x codec on a labelled dataset. The work is the unavoidable minimum: one forward
 * pass of the full model per image batch, exposing every cut tensor at once (each head computed once), then for
 * every lossy codec one codec round trip and one tail pass per batch; lossless codecs reuse the full model's
 * predictions. Bytes are measured per sample (batch 1, as sc2bench reports) on the first `byteSamples` images by
 * running the real wire encoder.
 */
import { emitStackedRoundTrips, multiEncoderModel, sourceName } from '../codecs/onnx.js';
import { Emitter } from '../onnx/emitter.js';
import { valueInfo } from '../onnx/builder.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { fitCodecs } from '../codecs/calibrate.js';
import type { FittedCodec, FittedTensorCodec } from '../codecs/fitted.js';
import { isLossy, type CodecSpec } from '../codecs/spec.js';
import { packWire, encodeWire, type WireValues } from '../codecs/wire.js';
import type { Cut, CutTensor } from '../cuts/cuts.js';
import type { Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { splitModel } from '../export/split.js';
import { symbolicShape, tensor, type Graph } from '../graph/graph.js';
import { DataType } from '../onnx/dtype.js';
import { exposeTensors } from '../onnx/expose.js';
import type { Tensor } from '../onnx/tensor.js';
import type { MetricName, QualityFigure, TaskOptions } from '../task/types.js';
import { createSession, run as runSession, type ort } from '../ort/session.js';
import { argmax, mean, quantile, wilson } from '../util/stats.js';
import { paretoFront } from './pareto.js';

export interface EvaluateOptions {
  cuts: readonly Cut[];
  codecs: readonly CodecSpec[];
  data: Dataset;
  /** Images the codecs are fitted on (keep them apart from `data`). */
  calibration: Dataset;
  samples?: number;
  byteSamples?: number;
  calibrationSamples?: number;
  batchSize?: number;
  /** How quality is measured (only accuracy here, until the task layer lands). */
  task?: TaskOptions;
  /** Keep each image's predicted class and each measured sample's bytes (CodecEval.predictions, .byteSizes). */
  detail?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface CodecEval {
  codec: string;
  lossy: boolean;
  /** The task's metric on the split model's outputs. */
  quality: QualityFigure;
  /** Share of images predicted as the full model predicts them (null where the task has no classes). */
  agreement: number | null;
  /** Bytes per sample on the wire (batch 1). */
  bytes: { mean: number; p95: number; samples: number };
  /** Mean bytes before the entropy stage. */
  packedBytes: number;
  /** What the device stores: the head's weights plus the codec's parameters. */
  encoderBytes: number;
  /** Share of variance the PCA stage keeps (the least over the cut's tensors). */
  pcaExplained?: number;
  /** With `detail`: the predicted class of every image, and the bytes of every measured sample. */
  predictions?: number[];
  byteSizes?: number[];
}

export interface CutEval {
  index: number;
  id: string;
  tensors: CutTensor[];
  /** Bytes of the cut tensors as float32. */
  floatBytes: number;
  codecs: CodecEval[];
  /** Codecs on the rate-accuracy Pareto front, by increasing bytes. */
  front: string[];
}

export interface EvalTiming {
  wallS: number;
  calibrationS: number;
  /** ONNX Runtime running the full model and the tails (the unavoidable passes). */
  fullS: number;
  tailS: number;
  /**
   * The tail passes include decoding (they are the codec's round trip plus the tail, fused); codecS estimates the
   * share of that spent in the round trips, from one timed batch per cut. bytesS: encoder runs and the wire encoder.
   */
  codecS: number;
  bytesS: number;
}

export interface EvalReport {
  dataset: string;
  samples: number;
  /** The metric used, and why. */
  task: { metric: MetricName; label: string; better: 'higher' | 'lower'; reason: string };
  /** The full model's quality (null for fidelity metrics, where the full model is the reference). */
  full: QualityFigure | null;
  cuts: CutEval[];
  timing: EvalTiming;
}

const rowsOf = (t: Tensor, n: number): number => t.data.length / n;

/** Interface dims of a codec model: the tensor's own, with the channel count k on the wire after PCA. */
function codecDims(g: Graph) {
  return (fit: FittedTensorCodec, wire: boolean) => {
    const dims = symbolicShape(g, fit.tensor);
    if (wire && fit.pca) dims[fit.channelAxis] = fit.pca.k;
    return dims;
  };
}

/** The model's one image input [N, C, H, W], its logits and classes, and the opset codec models are built in. */
interface ImageModel {
  inputName: string;
  channels: number;
  height: number;
  width: number;
  logitsName: string;
  classes: number;
  opset: number;
}

/** What one codec at one cut has scored so far. */
interface Tally {
  correct: number;
  agree: number;
  bytes: number[];
  packed: number[];
  predictions: number[];
}

/** One evaluation while it runs: its settings, fitted codecs, open sessions, tallies and time spent. */
interface EvalRun {
  g: Graph;
  model: ImageModel;
  options: EvaluateOptions;
  total: number;
  byteSamples: number;
  batch: number;
  fitted: Map<string, FittedCodec[]>;
  full: ort.InferenceSession;
  /** Per cut: the tail behind every lossy codec's round trip, stacked along the batch. */
  fused: Map<string, ort.InferenceSession>;
  /** Per cut, while bytes are measured: every codec's encoder. */
  encoders: Map<string, ort.InferenceSession>;
  tallies: Tally[][];
  fullCorrect: number;
  timing: { fullS: number; tailS: number; codecS: number; bytesS: number };
}

export async function evaluate(g: Graph, options: EvaluateOptions): Promise<EvalReport> {
  const started = performance.now();
  if (options.task?.metric !== undefined && options.task.metric !== 'accuracy') throw new ImperaError('BAD_ARGUMENT', `metric ${options.task.metric} is not available yet: evaluation measures accuracy`);
  const model = imageModel(g);
  const total = Math.min(options.samples ?? options.data.size, options.data.size);
  checkLabels(options.data, total, model.classes);
  const t0 = performance.now();
  const fitted = await fitCodecs(g, options.cuts, options.codecs, options.calibration, { samples: options.calibrationSamples ?? 256, onProgress: (d, t) => options.onProgress?.('calibrate', d, t) });
  const calibrationS = (performance.now() - t0) / 1000;
  const run: EvalRun = {
    g,
    model,
    options,
    total,
    byteSamples: Math.min(options.byteSamples ?? 100, total),
    batch: options.batchSize ?? 16,
    fitted,
    full: await createSession(exposeTensors(g.proto, options.cuts.flatMap((c) => c.tensors)), g.model.dir),
    fused: new Map(),
    encoders: new Map(),
    tallies: options.cuts.map((cut) => fitted.get(cut.id)!.map(() => ({ correct: 0, agree: 0, bytes: [], packed: [], predictions: [] }))),
    fullCorrect: 0,
    timing: { fullS: 0, tailS: 0, codecS: 0, bytesS: 0 },
  };
  try {
    await openCodecSessions(run);
    for (let start = 0; start < total; start += run.batch) await evaluateBatch(run, start);
  } finally {
    await Promise.all([run.full, ...run.fused.values(), ...run.encoders.values()].map((s) => s.release()));
  }
  return {
    dataset: options.data.name,
    samples: total,
    task: { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', reason: 'chosen: class logits and labelled data' },
    full: accuracyFigure(run.fullCorrect, total),
    cuts: options.cuts.map((cut, c) => cutEval(cut, fitted.get(cut.id)!, run.tallies[c]!, total, options.detail === true)),
    timing: { wallS: (performance.now() - started) / 1000, calibrationS, ...run.timing },
  };
}

function imageModel(g: Graph): ImageModel {
  const inputs = [...g.inputShapes];
  if (inputs.length !== 1 || inputs[0]![1].shape.length !== 4) throw new ImperaError('BAD_ARGUMENT', 'evaluation needs a model with one image input [N, C, H, W]');
  const [inputName, inputInfo] = inputs[0]!;
  const [, channels, height, width] = inputInfo.shape as [number, number, number, number];
  const logitsName = g.outputs[0]!.name!;
  return { inputName, channels, height, width, logitsName, classes: tensor(g, logitsName).shape[1]!, opset: g.opsets.get('') ?? 13 };
}

function checkLabels(data: Dataset, total: number, classes: number): void {
  for (let i = 0; i < total; i++) {
    const label = data.label(i);
    if (label >= classes) throw new ImperaError('DATASET', `'${data.name}' has class index ${label} (${data.classes[label]}), but the model only has ${classes} classes`);
  }
}

/** Time `work` under `key` of the run's timing. */
async function timed<T>(run: EvalRun, key: keyof EvalRun['timing'], work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await work();
  } finally {
    run.timing[key] += (performance.now() - t) / 1000;
  }
}

/** The indices of a cut's lossy codecs (lossless ones reuse the full model's predictions). */
const lossyOf = (run: EvalRun, cut: Cut): number[] => run.fitted.get(cut.id)!.flatMap((f, k) => (isLossy(f.spec) ? [k] : []));

async function openCodecSessions(run: EvalRun): Promise<void> {
  const { g } = run;
  // many sessions live at once: without arenas each returns its activation memory after every run
  const sessionOptions = { memoryArena: false };
  for (const cut of run.options.cuts) {
    const fits = run.fitted.get(cut.id)!;
    const lossy = lossyOf(run, cut);
    if (lossy.length) run.fused.set(cut.id, await createSession(fusedTail(g, cut, lossy.map((k) => fits[k]!.tensors), run.model.opset), g.model.dir, sessionOptions));
    if (run.byteSamples > 0) run.encoders.set(cut.id, await createSession(multiEncoderModel(fits.map((f) => f.tensors), run.model.opset, codecDims(g)), '.', sessionOptions));
  }
}

/** One batch of images from `start`: the full model once, then each cut's bytes, lossless and lossy codecs. */
async function evaluateBatch(run: EvalRun, start: number): Promise<void> {
  const { model, options } = run;
  const idx = Array.from({ length: Math.min(run.batch, run.total - start) }, (_, i) => start + i);
  const labels = idx.map((i) => options.data.label(i));
  const { channels, height, width } = model;
  const feeds = { [model.inputName]: { dtype: DataType.FLOAT, dims: [idx.length, channels, height, width], data: options.data.load(idx, { channels, height, width }) } };
  const out = await timed(run, 'fullS', () => runSession(run.full, feeds));
  const logits = out[model.logitsName]!;
  const fullPred = idx.map((_, n) => argmax(logits.data.subarray(n * model.classes, (n + 1) * model.classes) as Float32Array));
  fullPred.forEach((p, n) => p === labels[n] && run.fullCorrect++);
  for (const [c, cut] of options.cuts.entries()) {
    await measureCutBytes(run, c, cut, out, start, idx.length);
    scoreLossless(run, c, cut, labels, fullPred);
    await scoreLossy(run, c, cut, out, labels, fullPred);
    const lossy = lossyOf(run, cut);
    const fits = run.fitted.get(cut.id)!;
    if (start === 0 && lossy.length) run.timing.codecS += (await codecShare(cut, lossy.map((k) => fits[k]!.tensors), out, model.opset, run.g)) * Math.ceil(run.total / run.batch);
  }
  options.onProgress?.('evaluate', start + idx.length, run.total);
}

/** Wire bytes of the batch's images that are among the first `byteSamples`; the encoders close after the last. */
async function measureCutBytes(run: EvalRun, c: number, cut: Cut, out: Record<string, Tensor>, start: number, size: number): Promise<void> {
  const measure = Math.max(0, Math.min(size, run.byteSamples - start));
  if (measure === 0) return;
  const fits = run.fitted.get(cut.id)!;
  const encoder = run.encoders.get(cut.id)!;
  const wire = await timed(run, 'bytesS', () => runSession(encoder, Object.fromEntries(cut.tensors.map((t) => [t, out[t]!]))));
  await timed(run, 'bytesS', async () => fits.forEach((fit, k) => measureBytes(fit, cut.tensors.map((t) => wire[`${t}::wire::${k}`]!), measure, run.tallies[c]![k]!)));
  if (start + run.batch >= run.byteSamples) {
    await encoder.release();
    run.encoders.delete(cut.id);
  }
}

/** Lossless codecs deliver the cut tensors exactly: they predict what the full model predicts. */
function scoreLossless(run: EvalRun, c: number, cut: Cut, labels: readonly number[], fullPred: readonly number[]): void {
  run.fitted.get(cut.id)!.forEach((fit, k) => {
    if (isLossy(fit.spec)) return;
    const tally = run.tallies[c]![k]!;
    fullPred.forEach((p, n) => {
      if (p === labels[n]) tally.correct++;
      tally.agree++;
    });
    if (run.options.detail) tally.predictions.push(...fullPred);
  });
}

/** One tail run for every lossy codec of the cut: the batch is codec after codec. */
async function scoreLossy(run: EvalRun, c: number, cut: Cut, out: Record<string, Tensor>, labels: readonly number[], fullPred: readonly number[]): Promise<void> {
  const lossy = lossyOf(run, cut);
  if (!lossy.length) return;
  const { logitsName, classes } = run.model;
  const tailOut = await timed(run, 'tailS', () => runSession(run.fused.get(cut.id)!, Object.fromEntries(cut.tensors.map((t) => [sourceName(t), out[t]!])), [logitsName]));
  const tl = tailOut[logitsName]!.data as Float32Array;
  lossy.forEach((k, j) => {
    const tally = run.tallies[c]![k]!;
    labels.forEach((label, n) => {
      const row = (j * labels.length + n) * classes;
      const p = argmax(tl.subarray(row, row + classes));
      if (p === label) tally.correct++;
      if (p === fullPred[n]) tally.agree++;
      if (run.options.detail) tally.predictions.push(p);
    });
  });
}

const accuracyFigure = (correct: number, total: number): QualityFigure => ({ metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', value: correct / total, ci: wilson(correct, total), samples: total });

function cutEval(cut: Cut, fits: readonly FittedCodec[], tallies: readonly Tally[], total: number, detail: boolean): CutEval {
  const evals = fits.map((fit, k): CodecEval => {
    const a = tallies[k]!;
    const explained = fit.tensors.filter((t) => t.pca).map((t) => t.pca!.explained);
    return {
      codec: fit.spec.name,
      lossy: isLossy(fit.spec),
      quality: accuracyFigure(a.correct, total),
      agreement: a.agree / total,
      bytes: { mean: mean(a.bytes), p95: quantile(a.bytes, 0.95), samples: a.bytes.length },
      packedBytes: mean(a.packed),
      encoderBytes: cut.headCost.paramBytes + fit.paramBytes,
      ...(explained.length ? { pcaExplained: Math.min(...explained) } : {}),
      ...(detail ? { predictions: a.predictions, byteSizes: a.bytes } : {}),
    };
  });
  return {
    index: cut.index,
    id: cut.id,
    tensors: cut.detail,
    floatBytes: cut.wireBytes.float32,
    codecs: evals,
    front: paretoFront(evals.map((e) => ({ label: e.codec, bytes: e.bytes.mean, accuracy: e.quality.value }))).map((p) => p.label),
  };
}

/** The tail of `cut` preceded by the round trips of several codecs, stacked along the batch (see emitStackedRoundTrips). */
function fusedTail(g: Graph, cut: Cut, codecs: readonly (readonly FittedTensorCodec[])[], opset: number): ModelProto {
  const tail = splitModel(g, [cut]).parts[1]!.proto;
  const graph = tail.graph!;
  const e = new Emitter(opset, 'codec');
  emitStackedRoundTrips(e, codecs);
  const inputs = (graph.input ?? []).map((vi) => (cut.tensors.includes(vi.name!) ? onnx.ValueInfoProto.create({ ...vi, name: sourceName(vi.name!) }) : vi));
  return onnx.ModelProto.create({ ...tail, graph: { ...graph, input: inputs, node: [...e.nodes, ...(graph.node ?? [])], initializer: [...(graph.initializer ?? []), ...e.initializers] } });
}

/** Seconds the codec round trips alone take on one batch (what the fused tail runs spend decoding). */
async function codecShare(cut: Cut, codecs: readonly (readonly FittedTensorCodec[])[], out: Record<string, Tensor>, opset: number, g: Graph): Promise<number> {
  const e = new Emitter(opset, 'codec');
  emitStackedRoundTrips(e, codecs);
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'roundtrips', node: e.nodes, initializer: e.initializers, input: cut.tensors.map((t) => valueInfo(sourceName(t), DataType.FLOAT, symbolicShape(g, t))), output: cut.tensors.map((t) => valueInfo(t, DataType.FLOAT)) },
  });
  const session = await createSession(proto, '.', { memoryArena: false });
  try {
    const feeds = Object.fromEntries(cut.tensors.map((t) => [sourceName(t), out[t]!]));
    await runSession(session, feeds); // warm-up
    const t0 = performance.now();
    await runSession(session, feeds);
    return (performance.now() - t0) / 1000;
  } finally {
    await session.release();
  }
}

/** Wire bytes of the first `count` samples of a batch, one sample at a time. */
function measureBytes(fit: FittedCodec, wire: readonly Tensor[], count: number, into: { bytes: number[]; packed: number[] }): void {
  for (let n = 0; n < count; n++) {
    const sample = wire.map((t) => {
      const per = rowsOf(t, t.dims[0]!);
      return t.data.subarray(n * per, (n + 1) * per) as WireValues;
    });
    const packed = packWire(fit, sample);
    into.packed.push(packed.length);
    into.bytes.push(encodeWire(fit, sample, packed).length);
  }
}
