/**
 * Training an exit branch on the frozen backbone's cached features: cross-entropy, Adam, mini-batches, early
 * stopping on a validation split. Each step is one ONNX Runtime run of impera's own backward graph of the branch
 * (loss and weight gradients); the Adam update is a loop over the weights in JavaScript, in place — cheaper than
 * appending it to the graph, which would make ONNX Runtime hand back weights and both moments every step
 * (autodiff/training.ts).
 */
import { buildBackwardGraph, gradientName, LOSS_OUTPUT, TARGETS_INPUT } from '../autodiff/backward.js';
import { argmax } from '../util/stats.js';
import { analyzeModel } from '../graph/analyze.js';
import { DataType } from '../onnx/dtype.js';
import { inMemoryModel } from '../onnx/io.js';
import type { ModelProto } from '../onnx/proto.js';
import { adamStep, BATCH_ROWS, pickRows } from '../autodiff/training.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run, type ort } from '../ort/session.js';
import { seededRandom, shuffledIndices } from '../util/random.js';
import { branchModel, initParams, type Branch, type Param } from './branch.js';

export interface TrainData {
  /** Samples x `width` features, row-major, and their labels. */
  x: Float32Array;
  y: Int32Array;
  count: number;
  width: number;
}

export interface TrainOptions {
  maxEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Epochs without a better validation accuracy before stopping. */
  patience?: number;
  seed?: number;
  onEpoch?: (log: EpochLog) => void;
}

export interface EpochLog {
  epoch: number;
  loss: number;
  valAccuracy: number;
  seconds: number;
  steps: number;
}

export interface TrainedBranch {
  values: Map<string, Float32Array>;
  history: EpochLog[];
  bestEpoch: number;
}

/** Epochs when `maxEpochs` is not given. */
export const DEFAULT_MAX_EPOCHS = 30;

/** Inputs of the training model besides the weights: every training sample and every label (fed whole; see autodiff/training.ts). */
export const ALL_FEATURES = 'train::features';
export const ALL_LABELS = 'train::labels';

/**
 * The branch's backward graph (the mean cross-entropy and its weight gradients), fed the whole training set and the
 * row numbers of one mini-batch.
 */
export async function trainingModel(branch: Branch, opset = 17): Promise<ModelProto> {
  const g = await analyzeModel(inMemoryModel(branchModel(branch, opset), 'exit branch'));
  const bwd = buildBackwardGraph(g, { wrt: branch.params.map((p) => p.name), objective: 'cross-entropy' }).proto;
  return pickRows(bwd, [
    { input: branch.input.name, whole: ALL_FEATURES, dtype: DataType.FLOAT, sampleDims: branch.input.dims.slice(1) },
    { input: TARGETS_INPUT, whole: ALL_LABELS, dtype: DataType.INT64, sampleDims: [] },
  ]);
}

/**
 * Branch sessions run single-threaded: a branch is too small to gain from threads, and ORT's idle worker threads
 * would spin on the cores the JavaScript side needs between runs.
 */
export const BRANCH_SESSION = { threads: 1 } as const;

export const tensorOf = (data: Float32Array, dims: number[]): Tensor => ({ dtype: DataType.FLOAT, dims, data });

/** A branch's output for `count` samples of `x` (samples x the input's per-sample size), batch by batch. */
export async function runInBatches(session: ort.InferenceSession, params: readonly Param[], values: ReadonlyMap<string, Float32Array>, input: { name: string; dims: readonly (number | string)[] }, x: Float32Array, count: number, output: { name: string; width: number }, batch = 1024): Promise<Float32Array> {
  const out = new Float32Array(count * output.width);
  const weights = Object.fromEntries(params.map((p) => [p.name, tensorOf(values.get(p.name)!, p.shape)]));
  const inputDims = input.dims.slice(1) as number[];
  const width = x.length / Math.max(count, 1);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const r = await run(session, { ...weights, [input.name]: tensorOf(x.subarray(start * width, (start + n) * width), [n, ...inputDims]) });
    out.set(r[output.name]!.data as Float32Array, start * output.width);
  }
  return out;
}

/** The branch's logits for every sample of `d`, batch by batch. */
export const branchLogits = (session: ort.InferenceSession, branch: Branch, values: ReadonlyMap<string, Float32Array>, d: TrainData, batch = 1024): Promise<Float32Array> =>
  runInBatches(session, branch.params, values, branch.input, d.x, d.count, { name: 'logits', width: branch.classes }, batch);

export function accuracyOf(logits: Float32Array, labels: Int32Array, classes: number): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) if (argmax(logits.subarray(n * classes, (n + 1) * classes)) === labels[n]) correct++;
  return correct / labels.length;
}

/** What the training loop fits: the weights, the training model (backward graph fed whole sets) and its whole-set inputs. */
export interface Fit {
  params: readonly Param[];
  trainer: ModelProto;
  /** The whole training set's inputs (features, targets), picked per mini-batch by BATCH_ROWS. */
  whole: Record<string, Tensor>;
  count: number;
  /** The validation score of weights (higher is better): accuracy, or the task's metric oriented upwards. */
  validate(values: ReadonlyMap<string, Float32Array>): Promise<number>;
}

export interface FitEpoch {
  epoch: number;
  loss: number;
  valScore: number;
  seconds: number;
  steps: number;
}

const copy = (v: ReadonlyMap<string, Float32Array>) => new Map([...v].map(([k, a]) => [k, a.slice()]));

/** Mini-batch Adam on `fit` from initial `values`, early stopping on the validation score; the best epoch's weights. */
export async function fitParams(fit: Fit, values: Map<string, Float32Array>, opts: Omit<TrainOptions, 'onEpoch'> & { onEpoch?: (log: FitEpoch) => void }): Promise<{ values: Map<string, Float32Array>; history: FitEpoch[]; bestEpoch: number }> {
  const batch = opts.batchSize ?? 256;
  const lr = opts.learningRate ?? 1e-3;
  const rand = seededRandom(opts.seed ?? 1);
  const trainer = await createSession(fit.trainer, '.', BRANCH_SESSION);
  const moments = fit.params.map((p) => [new Float32Array(values.get(p.name)!.length), new Float32Array(values.get(p.name)!.length)] as const);
  const history: FitEpoch[] = [];
  let best = { score: -Infinity, epoch: 0, values: copy(values) };
  let step = 0;
  try {
    for (let epoch = 1; epoch <= (opts.maxEpochs ?? DEFAULT_MAX_EPOCHS); epoch++) {
      const started = performance.now();
      const order = Int32Array.from(shuffledIndices(fit.count, rand));
      let lossSum = 0;
      let steps = 0;
      for (let start = 0; start + batch <= fit.count || (start === 0 && fit.count > 0); start += batch) {
        const rows = order.slice(start, start + batch);
        const feeds: Record<string, Tensor> = { ...fit.whole, [BATCH_ROWS]: { dtype: DataType.INT32, dims: [rows.length], data: rows } };
        for (const p of fit.params) feeds[p.name] = tensorOf(values.get(p.name)!, p.shape);
        const out = await run(trainer, feeds);
        lossSum += (out[LOSS_OUTPUT]!.data as Float32Array)[0]!;
        steps++;
        step++;
        fit.params.forEach((p, k) => adamStep(values.get(p.name)!, out[gradientName(p.name)]!.data as Float32Array, moments[k]![0], moments[k]![1], lr, step, p.mask));
      }
      const valScore = await fit.validate(values);
      const log = { epoch, loss: lossSum / steps, valScore, seconds: (performance.now() - started) / 1000, steps };
      history.push(log);
      opts.onEpoch?.(log);
      if (valScore > best.score) best = { score: valScore, epoch, values: copy(values) };
      else if (epoch - best.epoch >= (opts.patience ?? 3)) break;
    }
  } finally {
    await trainer.release();
  }
  return { values: best.values, history, bestEpoch: best.epoch };
}

const asAccuracy = ({ valScore, ...rest }: FitEpoch): EpochLog => ({ ...rest, valAccuracy: valScore });

export async function trainBranch(branch: Branch, train: TrainData, val: TrainData, opts: TrainOptions = {}): Promise<TrainedBranch> {
  const infer = await createSession(branchModel(branch), '.', BRANCH_SESSION);
  const inputDims = branch.input.dims.slice(1) as number[];
  const fit: Fit = {
    params: branch.params,
    trainer: await trainingModel(branch),
    whole: {
      [ALL_FEATURES]: tensorOf(train.x, [train.count, ...inputDims]),
      [ALL_LABELS]: { dtype: DataType.INT64, dims: [train.count], data: BigInt64Array.from(train.y, (y) => BigInt(y)) },
    },
    count: train.count,
    validate: async (values) => accuracyOf(await branchLogits(infer, branch, values, val), val.y, branch.classes),
  };
  try {
    const r = await fitParams(fit, initParams(branch, opts.seed ?? 1), { ...opts, onEpoch: (log) => opts.onEpoch?.(asAccuracy(log)) });
    return { values: r.values, history: r.history.map(asAccuracy), bestEpoch: r.bestEpoch };
  } finally {
    await infer.release();
  }
}
