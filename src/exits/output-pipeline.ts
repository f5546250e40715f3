/**
 * Early exits for models whose output is not class scores (docs/exits/OUTPUTS.md): the backbone's cut tensors and the
 * full model's output cached once per split, one branch per exit distilled to that output on the training split
 * (output-branch.ts, the loop of train.ts), early stopping on the distillation loss on the validation split, tau
 * calibrated on the calibration split (output-policy.ts), and on the test split each exit's metric against the full
 * model and a sweep of tau: the share leaving early and the metric on the exited samples and overall.
 */
import { tensor, type Graph } from '../graph/graph.js';
import { channelAxes, tensorLayout } from '../graph/layout.js';
import { producerInfo } from '../graph/producers.js';
import { DataType } from '../onnx/dtype.js';
import type { Cut } from '../cuts/cuts.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run } from '../ort/session.js';
import { LOSS_OUTPUT } from '../autodiff/backward.js';
import { BATCH_ROWS } from '../autodiff/training.js';
import { chooseTask } from '../task/choose.js';
import { qualityFigure } from '../task/quality.js';
import type { QualityFigure, Task, TaskOptions } from '../task/types.js';
import { channelStats, initParams } from './branch.js';
import { extractFeatures, type ExitFeatures } from './features.js';
import { distillationModel, makeOutputBranch, outputBias, outputBranchModel, outputTarget, priorBias, PREDICTION, ALL_TEACHER, type OutputBranch, type OutputTarget } from './output-branch.js';
import { applyTau, calibrateTau, confidenceName, confidences, requireConfidence, OUTPUT_TAUS, type OutputPolicyRow, type ScoredExits } from './output-policy.js';
import { checkExitCuts, splitSamples, type ExitData } from './pipeline.js';
import { ALL_FEATURES, BRANCH_SESSION, DEFAULT_MAX_EPOCHS, fitParams, runInBatches, tensorOf, type FitEpoch } from './train.js';

export interface OutputExitsOptions {
  /** Channels of the map branch's 3x3 convolution (0: default). */
  hidden?: number;
  trainSamples?: number;
  valSamples?: number;
  calSamples?: number;
  testSamples?: number;
  maxEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  seed?: number;
  /** The metric's target on the samples that leave early (default: defaultTarget); setting it asks for a tau policy. */
  target?: number;
  taus?: readonly number[];
  task?: TaskOptions;
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface OutputExitReport {
  cut: string;
  tensor: string;
  shape: number[];
  design: string;
  weights: number;
  macs: number;
  /** Early stopping on the validation loss (each epoch's valScore is minus it); the task's metric on validation at the best epoch. */
  training: { epochs: number; bestEpoch: number; seconds: number; valLoss: number; valMetric: number; history: FitEpoch[] };
  /** The exit alone on every test sample, against the full model. */
  test: QualityFigure;
}

export interface OutputExitsResult {
  dataset: string;
  output: { name: string; shape: number[]; kind: OutputTarget['kind']; activation: OutputTarget['activation'] };
  metric: { name: string; label: string; better: 'higher' | 'lower'; reason: string };
  samples: { train: number; val: number; cal: number; test: number };
  exits: OutputExitReport[];
  /** The tau policy, or why there is none (an output without confidence). */
  policy: { confidence: string; target: number; tau: number | null; atTau: OutputPolicyRow | null; sweep: OutputPolicyRow[] } | { refused: string };
  seconds: { features: number; training: number };
}

/** The metric's default target on exited samples: 90 % of a score in [0, 1], 10 % of an error, 20 dB. */
export function defaultTarget(metric: string, better: 'higher' | 'lower'): number {
  if (metric.endsWith('-db')) return 20;
  return better === 'higher' ? 0.9 : 0.1;
}

const rowsOf = (f: ExitFeatures, k: number, from: number, to: number) => ({ x: f.features[k]!.subarray(from * f.width[k]!, to * f.width[k]!), teacher: f.logits.subarray(from * f.classes, to * f.classes), count: to - from });

/** Per-sample scores of predictions against the teacher's outputs under the task. */
async function scoresOf(task: Task, t: OutputTarget, predictions: Float32Array, teacher: Float32Array, count: number): Promise<number[]> {
  const dims = [count, ...t.shape.slice(1)];
  const as = (data: Float32Array): Record<string, Tensor> => ({ [t.name]: { dtype: DataType.FLOAT, dims, data } });
  return task.score({ n: count, split: as(predictions), full: as(teacher), labels: null });
}

const meanOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

/** Train and evaluate one output-predicting exit per cut. */
export async function trainOutputExits(g: Graph, cuts: readonly Cut[], data: ExitData, o: OutputExitsOptions = {}): Promise<{ result: OutputExitsResult; branches: OutputBranch[]; values: Map<string, Float32Array>[] }> {
  checkExitCuts(cuts);
  const target = outputTarget(g);
  const confidence = confidenceName(target);
  if (o.target !== undefined) requireConfidence(target);
  const axes = channelAxes(g);
  const tensors = cuts.map((c) => c.tensors[0]!);
  const layouts = tensors.map((t) => tensorLayout(g, t, axes));
  const maps = tensors.map(() => target.kind !== 'vector');
  // the branches are checked (shapes, layouts) before the long feature pass
  tensors.forEach((t, k) => makeOutputBranch(target, `exit${k}`, tensor(g, t).shape, layouts[k], o.hidden));
  const splits = splitSamples(data, { ...o, calibrate: true }, 1);
  const t0 = performance.now();
  const fit = await extractFeatures(g, tensors, data.train, [...splits.train, ...splits.val, ...splits.cal], { maps, anyOutput: true, onProgress: (d, t) => o.onProgress?.('features (train, val, cal)', d, t) });
  const test = await extractFeatures(g, tensors, splits.test.data, splits.test.indices, { maps, anyOutput: true, onProgress: (d, t) => o.onProgress?.('features (test)', d, t) });
  const featureSeconds = (performance.now() - t0) / 1000;
  const [nTrain, nVal, nCal] = [splits.train.length, splits.val.length, splits.cal.length];
  const range = fit.logits.reduce((r, v) => [Math.min(r[0], v), Math.max(r[1], v)] as [number, number], [Infinity, -Infinity] as [number, number]);
  const task = await chooseTask([{ name: target.name, dims: target.shape, range, ...producerInfo(g, target.name) }], { labelled: false, classes: 0 }, o.task ?? {});

  const t1 = performance.now();
  const branches: OutputBranch[] = [];
  const values: Map<string, Float32Array>[] = [];
  const reports: OutputExitReport[] = [];
  const scored = { cal: { confidence: [], scores: [], fullScores: [] } as ScoredExits, test: { confidence: [], scores: [], fullScores: [] } as ScoredExits };
  for (const [k, cut] of cuts.entries()) {
    const train = rowsOf(fit, k, 0, nTrain);
    const norm = channelStats(train.x, nTrain, fit.channels[k]!);
    const b = makeOutputBranch(target, `exit${k}`, tensor(g, tensors[k]!).shape, layouts[k], o.hidden, norm);
    const infer = await createSession(outputBranchModel(b), '.', BRANCH_SESSION);
    const predict = (x: Float32Array, count: number, v: ReadonlyMap<string, Float32Array>) => runInBatches(infer, b.params, v, b.input, x, count, { name: PREDICTION, width: fit.classes }, 64);
    try {
      const val = rowsOf(fit, k, nTrain, nTrain + nVal);
      const started = performance.now();
      const trainer = await distillationModel(b);
      const whole = (r: ReturnType<typeof rowsOf>): Record<string, Tensor> => ({ [ALL_FEATURES]: tensorOf(r.x, [r.count, ...(b.input.dims.slice(1) as number[])]), [ALL_TEACHER]: tensorOf(r.teacher, [r.count, ...target.shape.slice(1)]) });
      // early stopping on the validation loss: exact-match metrics (sequence agreement) stay flat for many epochs
      const validation = await createSession(trainer, '.', BRANCH_SESSION);
      const valFeeds = { ...whole(val), [BATCH_ROWS]: { dtype: DataType.INT32, dims: [val.count], data: Int32Array.from({ length: val.count }, (_, i) => i) } };
      const trained = await fitParams(
        {
          params: b.params,
          trainer,
          whole: whole(train),
          count: nTrain,
          validate: async (v) => -((await run(validation, { ...valFeeds, ...Object.fromEntries(b.params.map((p) => [p.name, tensorOf(v.get(p.name)!, p.shape)])) }))[LOSS_OUTPUT]!.data as Float32Array)[0]!,
        },
        new Map([...initParams(b, (o.seed ?? 1) + k), [outputBias(b).name, priorBias(target, train.teacher, nTrain)]]),
        {
          ...(o.maxEpochs ? { maxEpochs: o.maxEpochs } : {}),
          ...(o.batchSize ? { batchSize: o.batchSize } : {}),
          ...(o.learningRate ? { learningRate: o.learningRate } : {}),
          ...(o.patience ? { patience: o.patience } : {}),
          seed: (o.seed ?? 1) + k,
          onEpoch: (log) => o.onProgress?.(`training exit ${k} at ${cut.id} (val loss ${(-log.valScore).toPrecision(3)})`, log.epoch, o.maxEpochs ?? DEFAULT_MAX_EPOCHS),
        },
      );
      await validation.release();
      const valMetric = meanOf(await scoresOf(task, target, await predict(val.x, val.count, trained.values), val.teacher, val.count));
      const seconds = (performance.now() - started) / 1000;
      const testRows = rowsOf(test, k, 0, test.count);
      const testPredictions = await predict(testRows.x, test.count, trained.values);
      const testScores = await scoresOf(task, target, testPredictions, testRows.teacher, test.count);
      if (confidence) {
        const cal = rowsOf(fit, k, nTrain + nVal, nTrain + nVal + nCal);
        const calPredictions = await predict(cal.x, cal.count, trained.values);
        scored.cal.confidence.push(confidences(target, calPredictions, cal.count));
        scored.cal.scores.push(await scoresOf(task, target, calPredictions, cal.teacher, cal.count));
        scored.test.confidence.push(confidences(target, testPredictions, test.count));
        scored.test.scores.push(testScores);
      }
      branches.push(b);
      values.push(trained.values);
      reports.push({
        cut: cut.id,
        tensor: tensors[k]!,
        shape: [...tensor(g, tensors[k]!).shape],
        design: b.design,
        weights: b.params.reduce((s, p) => s + p.shape.reduce((a, c) => a * c, 1), 0),
        macs: b.macs,
        training: { epochs: trained.history.length, bestEpoch: trained.bestEpoch, seconds, valLoss: -trained.history[trained.bestEpoch - 1]!.valScore, valMetric, history: trained.history },
        test: qualityFigure(task.metric, testScores),
      });
    } finally {
      await infer.release();
    }
  }
  const trainingSeconds = (performance.now() - t1) / 1000;

  let policy: OutputExitsResult['policy'];
  if (confidence) {
    const full = async (f: ExitFeatures, from: number, to: number) => task.scoreFull({ n: to - from, full: { [target.name]: { dtype: DataType.FLOAT, dims: [to - from, ...target.shape.slice(1)], data: f.logits.subarray(from * f.classes, to * f.classes) } }, labels: null });
    scored.cal.fullScores = await full(fit, nTrain + nVal, nTrain + nVal + nCal);
    scored.test.fullScores = await full(test, 0, test.count);
    const goal = o.target ?? defaultTarget(task.metric.name, task.metric.better);
    const taus = o.taus ?? OUTPUT_TAUS;
    const tau = calibrateTau(scored.cal, taus, goal, task.metric.better);
    policy = { confidence, target: goal, tau, atTau: tau === null ? null : applyTau(scored.test, tau), sweep: taus.map((t) => applyTau(scored.test, t)) };
  } else {
    policy = { refused: `output '${target.name}' ends in no Sigmoid or Softmax: an exit has no confidence of its own, so no tau policy (the exit's fidelity is reported alone)` };
  }
  return {
    result: {
      dataset: data.train.name + (data.test ? ` / ${data.test.name}` : ''),
      output: { name: target.name, shape: target.shape, kind: target.kind, activation: target.activation },
      metric: { name: task.metric.name, label: task.metric.label, better: task.metric.better, reason: task.reason },
      samples: { train: nTrain, val: nVal, cal: nCal, test: test.count },
      exits: reports,
      policy,
      seconds: { features: featureSeconds, training: trainingSeconds },
    },
    branches,
    values,
  };
}
