/**
 * Training a bottleneck with the backbone frozen, on cached head features: each step is one ONNX Runtime run of
 * impera's backward graph of bottleneck + frozen tail (the loss and the bottleneck's weight gradients, the tail's
 * weights constant), then Adam in JavaScript (autodiff/training.ts, shared with exit branches). Losses:
 * ce — cross-entropy against the labels; kd — distillation without labels, cross-entropy against the full model's
 * predicted class; fidelity — squared error to the full model's outputs (any output: maps, sequences, vectors).
 * Early stopping on a validation split, seeded, checkpointed at every epoch (checkpoint.ts).
 */
import { buildBackwardGraph, gradientName, LOSS_OUTPUT, TARGETS_INPUT } from '../autodiff/backward.js';
import { adamStep, BATCH_ROWS, pickRows } from '../autodiff/training.js';
import { ImperaError } from '../errors.js';
import { analyzeModel } from '../graph/analyze.js';
import { valueInfo, type Dim } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';
import { Emitter } from '../onnx/emitter.js';
import { inMemoryModel } from '../onnx/io.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run, type ort } from '../ort/session.js';
import { seededRandom, shuffledIndices } from '../util/random.js';
import { argmax } from '../util/stats.js';
import { startingState, writeCheckpoint, type TrainingState } from './checkpoint.js';
import { emitBottleneck, initParams, NORM_MOMENTUM, type BottleneckDesign, type NormMode } from './design.js';
import type { CachedFeatures } from './features.js';

export type BottleneckLoss = 'ce' | 'kd' | 'fidelity';
export const LOSSES: readonly BottleneckLoss[] = ['ce', 'kd', 'fidelity'];

/** The bottleneck's input (the cut tensor) in the models built here. */
export const CUT_INPUT = 'bottleneck::input';
const TEACHER_INPUT = 'bottleneck::teacher';
const RESIDUAL = 'bottleneck::residual';
const ALL_INPUTS = 'train::inputs';
const ALL_TARGETS = 'train::targets';

/**
 * Bottleneck + frozen tail as one model: the cut tensor in, the tail's first output out (or, with `teacher`, its
 * difference from the teacher's output, whose squared norm is the fidelity loss). Weights and, at inference, the
 * running statistics are inputs. The tail must read nothing but the cut tensor.
 */
export function bottleneckedTail(d: BottleneckDesign, tail: ModelProto, cutTensor: string, mode: NormMode, teacher = false, batch = 1): { proto: ModelProto; batchStats: { mean: string; variance: string }[] } {
  const graph = tail.graph!;
  const others = (graph.input ?? []).filter((i) => i.name !== cutTensor);
  if (others.length) throw new ImperaError('BAD_ARGUMENT', `the tail after this cut also reads ${others.map((i) => `'${i.name}'`).join(', ')}: a bottleneck replaces one tensor the tail reads alone`, 'pick a cut whose tensor is all the tail reads');
  const opset = tail.opsetImport?.find((o) => !o.domain)?.version ?? 13;
  const e = new Emitter(Math.max(opset, 11), 'bottleneck');
  const emitted = emitBottleneck(e, d, CUT_INPUT, mode, (n) => n, { output: cutTensor, batch });
  const output = graph.output![0]!;
  const post = new Emitter(Math.max(opset, 11), 'bottleneck_loss');
  if (teacher) post.op('Sub', [output.name!, TEACHER_INPUT], {}, { output: RESIDUAL });
  const batchDims: Dim[] = [mode === 'train' ? batch : 'batch', ...d.shape.slice(1)];
  const weights = [...d.params.map((p) => valueInfo(p.name, DataType.FLOAT, p.shape)), ...(mode === 'infer' ? d.norms.flatMap((s) => [valueInfo(s.mean, DataType.FLOAT, s.shape), valueInfo(s.variance, DataType.FLOAT, s.shape)]) : [])];
  const outputDims = (output.type?.tensorType?.shape?.dim ?? []).map((x, i) => (i === 0 ? 'batch' : Number(x.dimValue ?? 0)));
  const proto = onnx.ModelProto.create({
    ...tail,
    // ReduceMean, Sub and ConvTranspose's output_padding as the emitter writes them need opset 11 at least
    opsetImport: [...(tail.opsetImport ?? []).filter((o) => o.domain), { domain: '', version: Math.max(opset, 11) }],
    graph: {
      ...graph,
      node: [...e.nodes, ...(graph.node ?? []), ...post.nodes],
      initializer: [...(graph.initializer ?? []), ...e.initializers, ...post.initializers],
      input: [valueInfo(CUT_INPUT, DataType.FLOAT, batchDims), ...(teacher ? [valueInfo(TEACHER_INPUT, DataType.FLOAT, outputDims)] : []), ...weights],
      output: [teacher ? valueInfo(RESIDUAL, DataType.FLOAT, outputDims) : output],
    },
  });
  return { proto, batchStats: emitted.batchStats };
}

export interface TrainingModel {
  proto: ModelProto;
  /** Per BatchNorm, the outputs holding the batch's mean and variance. */
  batchStats: { mean: string; variance: string }[];
}

/** The backward graph of bottleneck + tail under `loss`, fed the whole training set and the rows of one mini-batch of `batch`. */
export async function trainingModel(d: BottleneckDesign, tail: ModelProto, cutTensor: string, loss: BottleneckLoss, batch: number, dir = '.'): Promise<TrainingModel> {
  const { proto, batchStats } = bottleneckedTail(d, tail, cutTensor, 'train', loss === 'fidelity', batch);
  const g = await analyzeModel({ ...inMemoryModel(proto, 'bottleneck training model'), dir });
  const keep = batchStats.flatMap((s) => [s.mean, s.variance]);
  const bwd = buildBackwardGraph(g, { wrt: d.params.map((p) => p.name), objective: loss === 'fidelity' ? 'l2' : 'cross-entropy', keep }).proto;
  const outDims = g.outputs[0]!.type?.tensorType?.shape?.dim?.slice(1).map((x) => Number(x.dimValue ?? 0)) ?? [];
  return {
    proto: pickRows(bwd, [
      { input: CUT_INPUT, whole: ALL_INPUTS, dtype: DataType.FLOAT, sampleDims: d.shape.slice(1) },
      loss === 'fidelity' ? { input: TEACHER_INPUT, whole: ALL_TARGETS, dtype: DataType.FLOAT, sampleDims: outDims } : { input: TARGETS_INPUT, whole: ALL_TARGETS, dtype: DataType.INT64, sampleDims: [] },
    ]),
    batchStats,
  };
}

export interface TrainOptions {
  loss: BottleneckLoss;
  maxEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Epochs without a better validation score before stopping (default 3). */
  patience?: number;
  seed?: number;
  /** Intra-op threads of the training session (default: ONNX Runtime's). */
  threads?: number;
  /** Where the checkpoint is written after every epoch, and whether to resume from it. */
  checkpoint?: { path: string; fingerprint: string; resume: boolean };
  onEpoch?: (log: EpochLog) => void;
  onStep?: (step: number, stepsPerEpoch: number, epoch: number) => void;
}

export interface EpochLog {
  epoch: number;
  loss: number;
  /** Validation score: agreement with the targets (ce, kd) or minus the mean squared error (fidelity). */
  valScore: number;
  seconds: number;
  steps: number;
}

export interface TrainedWeights {
  values: Map<string, Float32Array>;
  history: EpochLog[];
  bestEpoch: number;
  /** Epoch the run resumed after (0: a fresh run). */
  resumedAt: number;
}

export const DEFAULT_EPOCHS = 20;

const floatTensor = (data: Float32Array, dims: number[]): Tensor => ({ dtype: DataType.FLOAT, dims, data });

/** Targets of a loss per sample: labels (ce), the teacher's class (kd), the teacher's outputs (fidelity). */
export function targetsOf(f: CachedFeatures, loss: BottleneckLoss): Tensor {
  if (loss === 'fidelity') return floatTensor(f.teacher, [f.count, f.outputWidth]);
  if (loss === 'ce' && !f.labels) throw new ImperaError('BAD_ARGUMENT', 'loss ce needs labelled data', 'use --loss kd (distillation to the full model) on unlabelled data');
  const classes = Array.from({ length: f.count }, (_, n) => (loss === 'ce' ? f.labels![n]! : argmax(f.teacher.subarray(n * f.outputWidth, (n + 1) * f.outputWidth))));
  return { dtype: DataType.INT64, dims: [f.count], data: BigInt64Array.from(classes, (c) => BigInt(c)) };
}

/** The bottlenecked tail's outputs for every sample of `f` at inference, batch by batch. */
export async function bottleneckedOutputs(session: ort.InferenceSession, d: BottleneckDesign, values: ReadonlyMap<string, Float32Array>, f: CachedFeatures, batch = 64): Promise<Float32Array> {
  const out = new Float32Array(f.count * f.outputWidth);
  const weights = Object.fromEntries([...d.params.map((p) => [p.name, floatTensor(values.get(p.name)!, p.shape)] as const), ...d.norms.flatMap((s) => [[s.mean, floatTensor(values.get(s.mean)!, s.shape)] as const, [s.variance, floatTensor(values.get(s.variance)!, s.shape)] as const])]);
  for (let start = 0; start < f.count; start += batch) {
    const n = Math.min(batch, f.count - start);
    const r = await run(session, { ...weights, [CUT_INPUT]: floatTensor(f.x.subarray(start * f.width, (start + n) * f.width), [n, ...d.shape.slice(1)]) });
    out.set(Object.values(r)[0]!.data as Float32Array, start * f.outputWidth);
  }
  return out;
}

/** The validation score of outputs against a loss's targets (higher is better). */
export function validationScore(outputs: Float32Array, f: CachedFeatures, loss: BottleneckLoss): number {
  if (loss === 'fidelity') {
    let s = 0;
    for (let i = 0; i < outputs.length; i++) s += (outputs[i]! - f.teacher[i]!) ** 2;
    return -s / Math.max(outputs.length, 1);
  }
  const t = targetsOf(f, loss).data as BigInt64Array;
  let correct = 0;
  for (let n = 0; n < f.count; n++) if (BigInt(argmax(outputs.subarray(n * f.outputWidth, (n + 1) * f.outputWidth))) === t[n]) correct++;
  return correct / Math.max(f.count, 1);
}

const copy = (v: ReadonlyMap<string, Float32Array>) => new Map([...v].map(([k, a]) => [k, a.slice()]));

/** Trains the bottleneck `d` in front of the frozen `tail` on cached features. */
export async function trainWeights(d: BottleneckDesign, tail: ModelProto, cutTensor: string, train: CachedFeatures, val: CachedFeatures, opts: TrainOptions, dir = '.'): Promise<TrainedWeights> {
  const batch = Math.min(opts.batchSize ?? 32, train.count);
  const lr = opts.learningRate ?? 1e-3;
  const seed = opts.seed ?? 1;
  const model = await trainingModel(d, tail, cutTensor, opts.loss, batch, dir);
  const sessionOptions = opts.threads ? { threads: opts.threads } : {};
  const [trainer, infer] = [await createSession(model.proto, dir, sessionOptions), await createSession(bottleneckedTail(d, tail, cutTensor, 'infer').proto, dir, sessionOptions)];
  const fresh = (): TrainingState => {
    const values = initParams(d, seed);
    return { fingerprint: opts.checkpoint?.fingerprint ?? '', epoch: 0, step: 0, values, moments: new Map(d.params.map((p) => [p.name, [new Float32Array(values.get(p.name)!.length), new Float32Array(values.get(p.name)!.length)]])), best: { score: -Infinity, epoch: 0, values: copy(values) }, history: [] };
  };
  const state = (opts.checkpoint && startingState(opts.checkpoint.path, opts.checkpoint.fingerprint, opts.checkpoint.resume)) || fresh();
  const resumedAt = state.epoch;
  const whole = { [ALL_INPUTS]: floatTensor(train.x, [train.count, ...d.shape.slice(1)]), [ALL_TARGETS]: targetsOf(train, opts.loss) };
  const history = state.history as EpochLog[];
  const stepsPerEpoch = Math.floor(train.count / batch);
  try {
    for (let epoch = state.epoch + 1; epoch <= (opts.maxEpochs ?? DEFAULT_EPOCHS); epoch++) {
      if (epoch - state.best.epoch > (opts.patience ?? 3)) break;
      const started = performance.now();
      // one seeded shuffle per epoch, so a resumed run draws the same batches as an uninterrupted one
      const order = Int32Array.from(shuffledIndices(train.count, seededRandom(seed * 7919 + epoch)));
      let lossSum = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        const feeds: Record<string, Tensor> = { ...whole, [BATCH_ROWS]: { dtype: DataType.INT32, dims: [batch], data: order.slice(s * batch, (s + 1) * batch) } };
        for (const p of d.params) feeds[p.name] = floatTensor(state.values.get(p.name)!, p.shape);
        const out = await run(trainer, feeds);
        lossSum += (out[LOSS_OUTPUT]!.data as Float32Array)[0]! / (opts.loss === 'fidelity' ? batch : 1);
        state.step++;
        for (const p of d.params) {
          const [m, v] = state.moments.get(p.name)!;
          adamStep(state.values.get(p.name)!, out[gradientName(p.name)]!.data as Float32Array, m, v, lr, state.step);
        }
        d.norms.forEach((n, k) => {
          for (const [running, batchValue] of [[n.mean, model.batchStats[k]!.mean], [n.variance, model.batchStats[k]!.variance]] as const) {
            const r = state.values.get(running)!;
            const b = out[batchValue]!.data as Float32Array;
            for (let i = 0; i < r.length; i++) r[i] = (1 - NORM_MOMENTUM) * r[i]! + NORM_MOMENTUM * b[i]!;
          }
        });
        opts.onStep?.(s + 1, stepsPerEpoch, epoch);
      }
      const valScore = validationScore(await bottleneckedOutputs(infer, d, state.values, val), val, opts.loss);
      const log = { epoch, loss: lossSum / Math.max(stepsPerEpoch, 1), valScore, seconds: (performance.now() - started) / 1000, steps: stepsPerEpoch };
      history.push(log);
      if (valScore > state.best.score) state.best = { score: valScore, epoch, values: copy(state.values) };
      state.epoch = epoch;
      if (opts.checkpoint) writeCheckpoint(opts.checkpoint.path, state);
      opts.onEpoch?.(log);
    }
  } finally {
    await Promise.all([trainer.release(), infer.release()]);
  }
  return { values: state.best.values, history, bestEpoch: state.best.epoch, resumedAt };
}
