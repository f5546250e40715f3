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
import { branchModel, initParams, type Branch } from './branch.js';

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

const tensorOf = (data: Float32Array, dims: number[]): Tensor => ({ dtype: DataType.FLOAT, dims, data });

/** The branch's logits for every sample of `d`, batch by batch. */
export async function branchLogits(session: ort.InferenceSession, branch: Branch, values: ReadonlyMap<string, Float32Array>, d: TrainData, batch = 1024): Promise<Float32Array> {
  const out = new Float32Array(d.count * branch.classes);
  const weights = Object.fromEntries(branch.params.map((p) => [p.name, tensorOf(values.get(p.name)!, p.shape)]));
  const inputDims = branch.input.dims.slice(1) as number[];
  for (let start = 0; start < d.count; start += batch) {
    const idx = Array.from({ length: Math.min(batch, d.count - start) }, (_, i) => start + i);
    const r = await run(session, { ...weights, [branch.input.name]: tensorOf(d.x.subarray(start * d.width, (start + idx.length) * d.width), [idx.length, ...inputDims]) });
    out.set(r.logits!.data as Float32Array, start * branch.classes);
  }
  return out;
}

export function accuracyOf(logits: Float32Array, labels: Int32Array, classes: number): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) if (argmax(logits.subarray(n * classes, (n + 1) * classes)) === labels[n]) correct++;
  return correct / labels.length;
}

export async function trainBranch(branch: Branch, train: TrainData, val: TrainData, opts: TrainOptions = {}): Promise<TrainedBranch> {
  const batch = opts.batchSize ?? 256;
  const lr = opts.learningRate ?? 1e-3;
  const rand = seededRandom(opts.seed ?? 1);
  const [trainer, infer] = [await createSession(await trainingModel(branch), '.', BRANCH_SESSION), await createSession(branchModel(branch), '.', BRANCH_SESSION)];
  const values = initParams(branch, opts.seed ?? 1);
  const moments = branch.params.map((p) => [new Float32Array(values.get(p.name)!.length), new Float32Array(values.get(p.name)!.length)] as const);
  const inputDims = branch.input.dims.slice(1) as number[];
  const whole: Record<string, Tensor> = {
    [ALL_FEATURES]: tensorOf(train.x, [train.count, ...inputDims]),
    [ALL_LABELS]: { dtype: DataType.INT64, dims: [train.count], data: BigInt64Array.from(train.y, (y) => BigInt(y)) },
  };
  const history: EpochLog[] = [];
  const copy = (v: ReadonlyMap<string, Float32Array>) => new Map([...v].map(([k, a]) => [k, a.slice()]));
  let best = { accuracy: -1, epoch: 0, values: copy(values) };
  let step = 0;
  try {
    for (let epoch = 1; epoch <= (opts.maxEpochs ?? DEFAULT_MAX_EPOCHS); epoch++) {
      const started = performance.now();
      const order = Int32Array.from(shuffledIndices(train.count, rand));
      let lossSum = 0;
      let steps = 0;
      for (let start = 0; start + batch <= train.count || (start === 0 && train.count > 0); start += batch) {
        const rows = order.slice(start, start + batch);
        const feeds: Record<string, Tensor> = { ...whole, [BATCH_ROWS]: { dtype: DataType.INT32, dims: [rows.length], data: rows } };
        for (const p of branch.params) feeds[p.name] = tensorOf(values.get(p.name)!, p.shape);
        const out = await run(trainer, feeds);
        lossSum += (out[LOSS_OUTPUT]!.data as Float32Array)[0]!;
        steps++;
        step++;
        branch.params.forEach((p, k) => adamStep(values.get(p.name)!, out[gradientName(p.name)]!.data as Float32Array, moments[k]![0], moments[k]![1], lr, step, p.mask));
      }
      const valAccuracy = accuracyOf(await branchLogits(infer, branch, values, val), val.y, branch.classes);
      const log = { epoch, loss: lossSum / steps, valAccuracy, seconds: (performance.now() - started) / 1000, steps };
      history.push(log);
      opts.onEpoch?.(log);
      if (valAccuracy > best.accuracy) best = { accuracy: valAccuracy, epoch, values: copy(values) };
      else if (epoch - best.epoch >= (opts.patience ?? 3)) break;
    }
  } finally {
    await Promise.all([trainer.release(), infer.release()]);
  }
  return { values: best.values, history, bestEpoch: best.epoch };
}
