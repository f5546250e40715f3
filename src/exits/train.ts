/**
 * Training an exit branch on the frozen backbone's cached features: cross-entropy, Adam, mini-batches, early
 * stopping on a validation split. Each step is one ONNX Runtime run of impera's own backward graph of the branch
 * (loss and weight gradients); the Adam update is a loop over the weights in JavaScript, in place — cheaper than
 * appending it to the graph, which would make ONNX Runtime hand back weights and both moments every step.
 */
import { buildBackwardGraph, gradientName, LOSS_OUTPUT, TARGETS_INPUT } from '../autodiff/backward.js';
import { argmax } from '../util/stats.js';
import { analyzeModel } from '../graph/analyze.js';
import { DataType } from '../onnx/dtype.js';
import { inMemoryModel } from '../onnx/io.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { valueInfo } from '../onnx/builder.js';
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

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;

/** Inputs of the training model besides the weights: every training sample, every label, and this step's rows. */
export const ALL_FEATURES = 'train::features';
export const ALL_LABELS = 'train::labels';
export const BATCH_ROWS = 'train::rows';

/**
 * The branch's backward graph (the mean cross-entropy and its weight gradients), fed the whole training set and the
 * row numbers of one mini-batch: Gather picks the batch inside ONNX Runtime, which reads the set in place, so a
 * step costs no copying in JavaScript.
 */
export async function trainingModel(branch: Branch, opset = 17): Promise<ModelProto> {
  const g = await analyzeModel(inMemoryModel(branchModel(branch, opset), 'exit branch'));
  const bwd = buildBackwardGraph(g, { wrt: branch.params.map((p) => p.name), objective: 'cross-entropy' }).proto;
  const graph = bwd.graph!;
  const pick = (from: string, to: string) => onnx.NodeProto.create({ opType: 'Gather', input: [from, BATCH_ROWS], output: [to], name: `pick ${to}`, attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] });
  const replaced = new Set([branch.input.name, TARGETS_INPUT]);
  return onnx.ModelProto.create({
    ...bwd,
    graph: {
      ...graph,
      node: [pick(ALL_FEATURES, branch.input.name), pick(ALL_LABELS, TARGETS_INPUT), ...(graph.node ?? [])],
      input: [
        valueInfo(ALL_FEATURES, DataType.FLOAT, ['samples', ...branch.input.dims.slice(1)]),
        valueInfo(ALL_LABELS, DataType.INT64, ['samples']),
        valueInfo(BATCH_ROWS, DataType.INT32, ['batch']),
        ...(graph.input ?? []).filter((i) => !replaced.has(i.name!)),
      ],
    },
  });
}

/** One Adam step in place; a predefined-sparse weight keeps its absent connections at zero. */
export function adamStep(w: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, lr: number, step: number, mask?: Float32Array): void {
  // w -= lr m^ / (sqrt(v^) + eps), with m^ = m / (1 - b1^t) and v^ = v / (1 - b2^t) folded into two constants
  const rate = lr / (1 - BETA1 ** step);
  const scale = 1 / Math.sqrt(1 - BETA2 ** step);
  for (let i = 0; i < w.length; i++) {
    const g = grad[i]!;
    const mi = BETA1 * m[i]! + (1 - BETA1) * g;
    const vi = BETA2 * v[i]! + (1 - BETA2) * g * g;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i]! - (rate * mi) / (Math.sqrt(vi) * scale + EPS);
  }
  if (mask) for (let i = 0; i < w.length; i++) if (mask[i] === 0) w[i] = 0;
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
