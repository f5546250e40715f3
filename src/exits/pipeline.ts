/**
 * Early exits end to end: split the labelled data (train / validation / calibration from the training set, a test
 * set never used for either), cache the backbone's features at every exit in one pass per split, train a branch per
 * exit, calibrate, and measure on the test split: each exit alone, the policy sweeps before and after calibration,
 * ECE and reliability, edge outage. The trained exits are what exits/export.ts deploys.
 */
import type { Cut } from '../cuts/cuts.js';
import type { Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { tensor, type Graph } from '../graph/graph.js';
import { channelAxes, tensorLayout } from '../graph/layout.js';
import { createSession } from '../ort/session.js';
import { seededRandom, shuffledIndices } from '../util/random.js';
import { branchModel, channelStats, makeBranch, type Branch, type BranchSpec } from './branch.js';
import { expectedCalibrationError, fitTemperature, MIN_CALIBRATION, type ReliabilityBin } from './calibration.js';
import { extractFeatures, type ExitFeatures } from './features.js';
import { applyPolicy, DEFAULT_TAUS, outageProbability, sweep, type ExitLogits, type Policy, type PolicyOutcome } from './policy.js';
import { accuracyOf, branchLogits, DEFAULT_MAX_EPOCHS, trainBranch, type EpochLog, type TrainData } from './train.js';

/** A trained, deployable exit. */
export interface TrainedExit {
  cut: Cut;
  tensor: string;
  branch: Branch;
  values: Map<string, Float32Array>;
  /** Temperature dividing the logits (1: uncalibrated). */
  temperature: number;
}

export interface ExitsOptions {
  /** The branch design, or one per exit. */
  branch: BranchSpec | readonly BranchSpec[];
  /** Training samples (default: all the training set leaves after validation and calibration). */
  trainSamples?: number;
  valSamples?: number;
  calSamples?: number;
  testSamples?: number;
  /** Fit temperatures on the calibration split (default true). */
  calibrate?: boolean;
  /** The tau at which calibrated and uncalibrated policies are compared. */
  tau?: number;
  taus?: readonly number[];
  entropies?: readonly number[];
  /** Edge accuracy target of the outage probability. */
  outageTarget?: number;
  maxEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  seed?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** Where the samples come from. Without a test set, a share of `train` is held out as the test split. */
export interface ExitData {
  train: Dataset;
  test?: Dataset;
}

export interface BranchSize {
  weights: number;
  denseWeights: number;
  macs: number;
  denseMacs: number;
  bytes: number;
  denseBytes: number;
}

export interface ExitReport {
  cut: string;
  tensor: string;
  shape: number[];
  branch: BranchSpec;
  size: BranchSize;
  training: { epochs: number; bestEpoch: number; seconds: number; secondsPerEpoch: number; valAccuracy: number; history: EpochLog[] };
  /** The exit alone on every test sample. */
  testAccuracy: number;
  temperature: number;
  ece: { before: number; after: number };
  reliability: { before: ReliabilityBin[]; after: ReliabilityBin[] };
}

export type PolicyRow = Omit<PolicyOutcome, 'taken'>;

export interface ExitsResult {
  dataset: string;
  /** The test data has no labels: every accuracy is agreement with the full model's top-1 (the exits' targets). */
  distilled: boolean;
  samples: { train: number; val: number; cal: number; test: number };
  finalAccuracy: number;
  exits: ExitReport[];
  /** One temperature for all exits, fitted jointly (for comparison with per-exit temperatures). */
  globalTemperature: number;
  calibrated: boolean;
  sweeps: { softmax: { uncalibrated: PolicyRow[]; calibrated: PolicyRow[]; global: PolicyRow[] }; entropy: { uncalibrated: PolicyRow[]; calibrated: PolicyRow[] } };
  /** At the fixed tau: uncalibrated vs calibrated, with outage probabilities. */
  atTau: { tau: number; uncalibrated: PolicyRow & { outage: number }; calibrated: PolicyRow & { outage: number }; outageTarget: number };
  /** The largest early-exit share whose overall accuracy stays within 1 point of the full model (calibrated). */
  bestTradeOff: (PolicyRow & { earlyShare: number }) | null;
  seconds: { features: number; training: number };
}

export const DEFAULT_ENTROPIES = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5];

const row = ({ taken: _taken, ...rest }: PolicyOutcome): PolicyRow => rest;
const specOf = (b: ExitsOptions['branch'], k: number): BranchSpec => ('kind' in b ? b : b[k]!);
export const earlyShare = (r: Pick<PolicyRow, 'rates'>): number => r.rates.reduce((a, b) => a + b, 0);


interface Splits {
  train: number[];
  val: number[];
  cal: number[];
  test: { data: Dataset; indices: number[] };
}

/** Disjoint splits, drawn in a seeded order; the test split comes from `test` when given. */
export function splitSamples(d: ExitData, o: Pick<ExitsOptions, 'trainSamples' | 'valSamples' | 'calSamples' | 'testSamples' | 'seed' | 'calibrate'>, minCalibration = MIN_CALIBRATION): Splits {
  const order = shuffledIndices(d.train.size, seededRandom(o.seed ?? 1));
  const heldOut = d.test ? 0 : Math.min(o.testSamples ?? Math.round(order.length * 0.2), Math.round(order.length * 0.5));
  const rest = order.length - heldOut;
  const val = o.valSamples ?? Math.min(5000, Math.round(rest * 0.1));
  const cal = o.calibrate === false ? 0 : (o.calSamples ?? Math.min(5000, Math.round(rest * 0.1)));
  if (o.calibrate !== false && cal < minCalibration) {
    throw new ImperaError('BAD_ARGUMENT', `calibration needs at least ${minCalibration} samples, but ${d.train.name} leaves ${cal} for it`, `use a dataset with more images (about ${minCalibration * 10} or more), set --cal-samples, or drop --calibrate`);
  }
  const train = Math.min(o.trainSamples ?? rest - val - cal, rest - val - cal);
  if (val < 1 || train < 1) {
    throw new ImperaError('BAD_ARGUMENT', `${d.train.name} has too few samples (${d.train.size}) to train and validate exit branches: ${heldOut} held out for testing, ${val} for validation, ${cal} for calibration leave ${Math.max(0, rest - val - cal)} to train on`, 'use a larger dataset, or fewer --val-samples / --cal-samples / --test-samples');
  }
  const testIdx = d.test ? [...Array(Math.min(o.testSamples ?? d.test.size, d.test.size)).keys()] : order.slice(rest);
  return { val: order.slice(0, val), cal: order.slice(val, val + cal), train: order.slice(val + cal, val + cal + train), test: { data: d.test ?? d.train, indices: testIdx } };
}

/** Samples [from, to) of exit k's cached features, as a training set. */
export const featureRows = (f: ExitFeatures, k: number, from: number, to: number): TrainData => ({ x: f.features[k]!.subarray(from * f.width[k]!, to * f.width[k]!), y: f.labels.subarray(from, to), count: to - from, width: f.width[k]! });

function branchSize(b: Branch): BranchSize {
  const sum = (k: 'weights' | 'denseWeights' | 'bytes' | 'denseBytes') => b.layers.reduce((s, l) => s + l[k], 0);
  return { weights: sum('weights'), denseWeights: sum('denseWeights'), macs: b.macs, denseMacs: b.macs - sum('weights') + sum('denseWeights'), bytes: sum('bytes'), denseBytes: sum('denseBytes') };
}

/** Logits of trained exits on cached features (one inference session per branch). */
export async function exitLogits(exits: readonly Pick<TrainedExit, 'branch' | 'values'>[], f: ExitFeatures, from = 0, to = f.count): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const [k, e] of exits.entries()) {
    const session = await createSession(branchModel(e.branch), '.');
    try {
      out.push(await branchLogits(session, e.branch, e.values, featureRows(f, k, from, to)));
    } finally {
      await session.release();
    }
  }
  return out;
}

/** Features of the test split (optionally distorted) with the full model's logits, as the policies need them. */
export async function testLogits(g: Graph, exits: readonly TrainedExit[], data: Dataset, indices: readonly number[], opts: { transform?: (x: Float32Array, dims: number[]) => Float32Array; onProgress?: (done: number, total: number) => void } = {}): Promise<ExitLogits> {
  const f = await extractFeatures(
    g,
    exits.map((e) => e.tensor),
    data,
    indices,
    { maps: exits.map((e) => e.branch.spec.kind === 'conv'), ...opts },
  );
  return { exits: await exitLogits(exits, f), final: f.logits, labels: f.labels, classes: f.classes };
}

/** The exit cuts must be single tensors, distinct, in depth order (a sample meets them in that order). */
export function checkExitCuts(cuts: readonly Cut[]): void {
  if (cuts.length === 0) throw new ImperaError('BAD_ARGUMENT', 'no exit given', 'name at least one cut with --at');
  for (const c of cuts) if (c.tensors.length !== 1) throw new ImperaError('BAD_ARGUMENT', `an exit reads one tensor, but cut '${c.id}' has ${c.tensors.length}`, 'pick a single-tensor cut (impera inspect lists them)');
  for (let i = 1; i < cuts.length; i++) {
    if (cuts[i]!.index <= cuts[i - 1]!.index) throw new ImperaError('BAD_ARGUMENT', `exits must be distinct and in depth order, but '${cuts[i]!.id}' comes after '${cuts[i - 1]!.id}'`, 'list the cuts from the input towards the output');
  }
}

export interface TrainedExits {
  result: ExitsResult;
  exits: TrainedExit[];
  /** Test-split logits, and where each test sample leaves under the calibrated policy at the fixed tau. */
  test: ExitLogits;
  taken: Int32Array;
}

/** Backbone features of every split, cached once: train, validation and calibration rows in one array, then the test split. */
export interface CachedFeatures {
  fit: ExitFeatures;
  test: ExitFeatures;
  counts: { train: number; val: number; cal: number };
  dataset: string;
  seconds: number;
}

export async function cacheFeatures(g: Graph, cuts: readonly Cut[], data: ExitData, o: Pick<ExitsOptions, 'branch' | 'trainSamples' | 'valSamples' | 'calSamples' | 'testSamples' | 'seed' | 'calibrate' | 'onProgress'>): Promise<CachedFeatures> {
  checkExitCuts(cuts);
  const splits = splitSamples(data, o);
  const tensors = cuts.map((c) => c.tensors[0]!);
  const maps = cuts.map((_, k) => specOf(o.branch, k).kind === 'conv');
  const t0 = performance.now();
  const fit = await extractFeatures(g, tensors, data.train, [...splits.train, ...splits.val, ...splits.cal], { maps, onProgress: (d, t) => o.onProgress?.('features (train, val, cal)', d, t) });
  const test = await extractFeatures(g, tensors, splits.test.data, splits.test.indices, { maps, onProgress: (d, t) => o.onProgress?.('features (test)', d, t) });
  return {
    fit,
    test,
    counts: { train: splits.train.length, val: splits.val.length, cal: splits.cal.length },
    dataset: data.train.name + (data.test ? ` / ${data.test.name}` : ''),
    seconds: (performance.now() - t0) / 1000,
  };
}

export async function trainExits(g: Graph, cuts: readonly Cut[], data: ExitData, o: ExitsOptions): Promise<TrainedExits> {
  return fitExits(g, cuts, await cacheFeatures(g, cuts, data, o), o);
}

/** Train, calibrate and evaluate one branch per exit on cached features (the same cache serves several branch designs). */
export async function fitExits(g: Graph, cuts: readonly Cut[], cache: CachedFeatures, o: ExitsOptions): Promise<TrainedExits> {
  const { fit, test } = cache;
  const { train: nTrain, val: nVal, cal: nCal } = cache.counts;
  const calibrate = o.calibrate !== false && nCal > 0;
  const tensors = cuts.map((c) => c.tensors[0]!);
  const axes = channelAxes(g);

  const t1 = performance.now();
  const exits: TrainedExit[] = [];
  const trainings: { history: EpochLog[]; bestEpoch: number; seconds: number }[] = [];
  for (const [k, cut] of cuts.entries()) {
    const shape = tensor(g, tensors[k]!).shape;
    const trainSet = featureRows(fit, k, 0, nTrain);
    const norm = channelStats(trainSet.x, nTrain, fit.channels[k]!);
    const branch = makeBranch(specOf(o.branch, k), `exit${k}`, shape, fit.classes, (o.seed ?? 1) + k, norm, tensorLayout(g, tensors[k]!, axes));
    const started = performance.now();
    const trained = await trainBranch(branch, trainSet, featureRows(fit, k, nTrain, nTrain + nVal), {
      ...(o.maxEpochs ? { maxEpochs: o.maxEpochs } : {}),
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
      ...(o.learningRate ? { learningRate: o.learningRate } : {}),
      ...(o.patience ? { patience: o.patience } : {}),
      seed: (o.seed ?? 1) + k,
      onEpoch: (log) => o.onProgress?.(`training exit ${k} at ${cut.id} (val ${(100 * log.valAccuracy).toFixed(1)} %)`, log.epoch, o.maxEpochs ?? DEFAULT_MAX_EPOCHS),
    });
    trainings.push({ history: trained.history, bestEpoch: trained.bestEpoch, seconds: (performance.now() - started) / 1000 });
    exits.push({ cut, tensor: tensors[k]!, branch, values: trained.values, temperature: 1 });
  }
  const trainingSeconds = (performance.now() - t1) / 1000;

  const testSet: ExitLogits = { exits: await exitLogits(exits, test), final: test.logits, labels: test.labels, classes: test.classes };
  const calLogits = calibrate ? await exitLogits(exits, fit, nTrain + nVal, nTrain + nVal + nCal) : [];
  const calLabels = fit.labels.subarray(nTrain + nVal, nTrain + nVal + nCal);
  const temperatures = calibrate ? calLogits.map((l) => fitTemperature([l], calLabels, fit.classes)) : exits.map(() => 1);
  const globalTemperature = calibrate ? fitTemperature(calLogits, calLabels, fit.classes) : 1;
  exits.forEach((e, k) => (e.temperature = temperatures[k]!));

  const reports: ExitReport[] = exits.map((e, k) => {
    const before = expectedCalibrationError(testSet.exits[k]!, testSet.labels, testSet.classes);
    const after = expectedCalibrationError(testSet.exits[k]!, testSet.labels, testSet.classes, e.temperature);
    const t = trainings[k]!;
    return {
      cut: e.cut.id,
      tensor: e.tensor,
      shape: [...tensor(g, e.tensor).shape],
      branch: e.branch.spec,
      size: branchSize(e.branch),
      training: { epochs: t.history.length, bestEpoch: t.bestEpoch, seconds: t.seconds, secondsPerEpoch: t.seconds / t.history.length, valAccuracy: t.history[t.bestEpoch - 1]!.valAccuracy, history: t.history },
      testAccuracy: accuracyOf(testSet.exits[k]!, testSet.labels, testSet.classes),
      temperature: e.temperature,
      ece: { before: before.ece, after: after.ece },
      reliability: { before: before.bins, after: after.bins },
    };
  });

  const taus = o.taus ?? DEFAULT_TAUS;
  const tau = o.tau ?? 0.9;
  const target = o.outageTarget ?? 0.9;
  const policy: Policy = { kind: 'softmax', thresholds: exits.map(() => tau) };
  const [raw, cal] = [applyPolicy(testSet, policy), applyPolicy(testSet, policy, temperatures)];
  const calibratedSweep = sweep(testSet, 'softmax', taus, temperatures).map(row);
  const finalAccuracy = accuracyOf(testSet.final, testSet.labels, testSet.classes);
  const within = calibratedSweep.filter((r) => r.accuracy >= finalAccuracy - 0.01).sort((a, b) => earlyShare(b) - earlyShare(a))[0];
  const result: ExitsResult = {
    dataset: cache.dataset,
    distilled: test.distilled,
    samples: { train: nTrain, val: nVal, cal: nCal, test: test.count },
    finalAccuracy,
    exits: reports,
    globalTemperature,
    calibrated: calibrate,
    sweeps: {
      softmax: { uncalibrated: sweep(testSet, 'softmax', taus).map(row), calibrated: calibratedSweep, global: sweep(testSet, 'softmax', taus, exits.map(() => globalTemperature)).map(row) },
      entropy: { uncalibrated: sweep(testSet, 'entropy', o.entropies ?? DEFAULT_ENTROPIES).map(row), calibrated: sweep(testSet, 'entropy', o.entropies ?? DEFAULT_ENTROPIES, temperatures).map(row) },
    },
    atTau: {
      tau,
      outageTarget: target,
      uncalibrated: { ...row(raw), outage: outageProbability(testSet, raw, target) },
      calibrated: { ...row(cal), outage: outageProbability(testSet, cal, target, 100, temperatures) },
    },
    bestTradeOff: within ? { ...within, earlyShare: earlyShare(within) } : null,
    seconds: { features: cache.seconds, training: trainingSeconds },
  };
  return { result, exits, test: testSet, taken: cal.taken };
}
