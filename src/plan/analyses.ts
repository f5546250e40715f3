/**
 * The planner's expensive, link-independent analyses, each cached (util/analysis-cache.ts): quality under the
 * task's metric and bytes of every cut x codec and of the input-side baselines (eval/), the saliency curve (saliency/), and early exits
 * trained and calibrated on the data (exits/), kept per test sample so any exit subset and policy combines exactly
 * with any cut x codec on the same images.
 */
import { parseCodec } from '../codecs/spec.js';
import { singleTensorCuts, type Cut } from '../cuts/cuts.js';
import { subsetDataset, type Dataset, type DatasetOptions } from '../data/dataset.js';
import { calibrationData, labelledSplits } from '../data/policy.js';
import { ImperaError } from '../errors.js';
import { inputBaselines } from '../eval/baselines.js';
import type { AdaptiveRule, StopReason } from '../eval/adaptive.js';
import { evaluate, type CodecEval, type EvalReport } from '../eval/evaluate.js';
import { qualityFigure } from '../task/quality.js';
import { mean, quantile } from '../util/stats.js';
import { argmax, wilson } from '../util/stats.js';
import { makeBranch, type BranchSpec } from '../exits/branch.js';
import { softmax } from '../exits/policy.js';
import { splitSamples, trainExits, type TrainedExit } from '../exits/pipeline.js';
import { tensor, type Graph } from '../graph/graph.js';
import { tensorLayout } from '../graph/layout.js';
import { numel } from '../onnx/dtype.js';
import { modelFingerprint } from '../profile/profile-file.js';
import { findPeaks } from '../saliency/cui.js';
import { runSaliency } from '../saliency/dataset-saliency.js';
import type { QualityFigure, TaskOptions } from '../task/types.js';
import type { AnalysisCache } from '../util/analysis-cache.js';
import { rankCuts } from './ranking.js';
import type { RankSummary, SaliencySummary } from './types.js';

/** Where the images come from: quality and saliency on `test`, codecs fitted on `calibration`, exits trained on `train`. */
export interface PlanData {
  name: string;
  test: Dataset;
  samples: number;
  calibration: Dataset;
  /** Training images for exits and, for a folder, the held-out test indices. */
  train: Dataset;
  folder: boolean;
  /** Indices of `train` the evaluation tests on (a folder is one set): what a learned bottleneck must not train on. */
  testedInTrain?: number[];
}

/** Resolve the scenario's data; with exits on a folder, the test images are a held-out share the exits never see. */
export function planData(source: string, o: { baseDir: string; samples: number; calibration?: string; exits: boolean; seed?: number; options?: DatasetOptions }, warnings: string[]): PlanData {
  const splits = labelledSplits(source, o.baseDir, o.options);
  const data = splits.test?.() ?? splits.train();
  const calibration = calibrationData(o.calibration, { what: 'the evaluation images', data: () => data, source }, warnings, 'give calibration: with other images', o.baseDir, o.options);
  if (splits.test) return { name: data.name, test: data, samples: Math.min(o.samples, data.size), calibration, train: splits.train(), folder: false, testedInTrain: [] };
  const samples = Math.min(o.samples, data.size);
  if (!o.exits) return { name: data.name, test: data, samples, calibration, train: data, folder: true, testedInTrain: Array.from({ length: samples }, (_, i) => i) };
  // the same split trainExits makes for these options, so exits are tested on exactly these images
  const held = splitSamples({ train: data }, { seed: o.seed ?? 1, testSamples: o.samples }).test.indices;
  const test = subsetDataset(data, held);
  return { name: test.name, test, samples: Math.min(o.samples, test.size), calibration, train: data, folder: true, testedInTrain: held.slice(0, Math.min(o.samples, test.size)) };
}

export interface CodecFigure {
  cut: string;
  codec: string;
  lossy: boolean;
  bytesMean: number;
  bytesP95: number;
  quality: QualityFigure;
  /** Share of samples whose top-1 class is the full model's (null where the task has no classes). */
  agreement: number | null;
  /** What the device stores for head + encoder, bytes. */
  encoderBytes: number;
  /** FLOPs per sample the codec adds on the device (encoding) and the server (decoding): a learned bottleneck's (absent in older cached entries: none). */
  codecFlops?: { encode: number; decode: number };
  /** Each sample's predicted class (empty where the task has no classes). */
  predictions: number[];
  /** Each measured sample's score, and the bytes of each sample whose bytes were measured (what a top-up extends). */
  scores: number[];
  byteSizes: number[];
  /** Why measuring stopped before every sample (adaptive evaluation); null: measured on all. */
  stopped: StopReason | null;
}

export interface InputFigure {
  name: string;
  bytesMean: number;
  bytesP95: number;
  quality: QualityFigure;
}

export interface QualityAnalysis {
  dataset: string;
  samples: number;
  /** The metric and why it was chosen. */
  task: EvalReport['task'];
  /** Labels of the samples where the metric reads them (accuracy), else null. */
  labels: number[] | null;
  /** The full model's quality (for fidelity metrics: the lossless codec's, the reference itself) and its classes. */
  full: { quality: QualityFigure; predictions: number[] };
  codecs: CodecFigure[];
  inputs: InputFigure[];
}

export const dataKey = (d: PlanData) => ({ test: d.test.name, size: d.test.size, samples: d.samples, calibration: d.calibration.name });

/** Samples whose bytes are measured per configuration. */
export const BYTE_SAMPLES = 50;

/** Settings of a quality analysis: also the input-side baselines (remote placements), the task, and the adaptive rule (null: exhaustive). */
export interface QualityOptions {
  inputs: boolean;
  task: TaskOptions;
  adaptive?: AdaptiveRule | null;
}

const qualityKey = (g: Graph, cuts: readonly Cut[], codecs: readonly string[], data: PlanData, o: QualityOptions) => ({ model: modelFingerprint(g.model), cuts: cuts.map((c) => c.id), codecs: codecs.map((c) => parseCodec(c).name), data: dataKey(data), inputs: o.inputs, task: o.task, adaptive: o.adaptive });

/**
 * A stopped configuration's quality: the full model's on every sample plus the paired difference on the samples it
 * was measured on (a difference estimate; its own figure on those few samples would compare easier or harder
 * samples with the others' figures on all).
 */
const differenceEstimate = (full: QualityFigure, e: CodecEval): QualityFigure => ({ ...e.quality, value: full.value + e.paired.value, ci: [full.value + e.paired.ci[0], full.value + e.paired.ci[1]] });

/** A codec's figures as the plan keeps them (`full`: the full model's figure on every sample, which a stopped codec's estimate needs). */
export function codecFigure(cut: string, e: CodecEval, full?: QualityFigure): CodecFigure {
  return { cut, codec: e.codec, lossy: e.lossy, bytesMean: e.bytes.mean, bytesP95: e.bytes.p95, quality: e.stopped && full ? differenceEstimate(full, e) : e.quality, agreement: e.agreement, encoderBytes: e.encoderBytes, codecFlops: e.codecFlops, predictions: e.predictions ?? [], scores: e.scores ?? [], byteSizes: e.byteSizes ?? [], stopped: e.stopped };
}

/**
 * `cuts` may be empty (only local and remote placements): the full model's figures then come from the raw
 * float32 codec at `fallback`, which costs nothing beyond the full model's pass. `inputs`: also the input-side
 * baselines remote placements send (raw, PNG, JPEG), scored under the same metric.
 */
export async function qualityAnalysis(g: Graph, cuts: readonly Cut[], fallback: Cut, codecs: readonly string[], data: PlanData, o: QualityOptions, cache: AnalysisCache, onProgress?: (stage: string, done: number, total: number) => void): Promise<{ value: QualityAnalysis; cached: boolean }> {
  const specs = codecs.map((c) => parseCodec(c));
  return cache.get('quality', qualityKey(g, cuts, codecs, data, o), async () => {
    const raw = parseCodec('fp32');
    const evalCodecs = specs.some((s) => s.name === raw.name) ? specs : [raw, ...specs];
    const report = await evaluate(g, { cuts: cuts.length ? cuts : [fallback], codecs: evalCodecs, data: data.test, calibration: data.calibration, samples: data.samples, byteSamples: Math.min(BYTE_SAMPLES, data.samples), task: o.task, detail: true, timeCodecs: false, ...(o.adaptive && cuts.length ? { adaptive: o.adaptive } : {}), ...(onProgress ? { onProgress } : {}) });
    const rawEval = report.cuts[0]!.codecs.find((c) => c.codec === raw.name)!;
    const full = report.full ?? rawEval.quality;
    const accuracy = report.task.metric === 'accuracy';
    const wanted = new Set(specs.map((s) => s.name));
    const inputs = o.inputs ? await inputBaselines(g, data.test, report.samples, { jpegQualities: [90, 50], task: o.task }) : [];
    return {
      dataset: report.dataset,
      samples: report.samples,
      task: report.task,
      labels: accuracy ? Array.from({ length: report.samples }, (_, i) => data.test.label(i)) : null,
      full: { quality: full, predictions: rawEval.predictions ?? [] },
      codecs: (cuts.length ? report.cuts : []).flatMap((c) => c.codecs.filter((e) => wanted.has(e.codec)).map((e) => codecFigure(c.id, e, full))),
      inputs: inputs.map((b) => ({ name: b.name, bytesMean: b.bytes.mean, bytesP95: b.bytes.p95, quality: b.quality })),
    };
  });
}

/** A cut x codec the adaptive evaluation stopped early, to be measured on the rest of the samples. */
export interface TopUp {
  cut: Cut;
  codec: string;
}

/**
 * The analysis with the `arms` measured on every sample: each continues from the sample where it stopped (the
 * codecs are fitted again on the same calibration images, which gives the same fit), its scores, predictions and
 * bytes extended and its figures recomputed. Cached under the analysis and the arms.
 */
export async function topUpAnalysis(g: Graph, q: QualityAnalysis, arms: readonly TopUp[], all: { cuts: readonly Cut[]; codecs: readonly string[] }, data: PlanData, o: QualityOptions, cache: AnalysisCache, onProgress?: (stage: string, done: number, total: number) => void): Promise<{ value: QualityAnalysis; cached: boolean }> {
  const figureOf = (a: TopUp) => q.codecs.find((c) => c.cut === a.cut.id && c.codec === a.codec)!;
  const key = { analysis: qualityKey(g, all.cuts, all.codecs, data, o), arms: arms.map((a) => [a.cut.id, a.codec]).sort() };
  // a configuration the screen settled counts as measured on no first samples (eval/adaptive.ts: its figures are bounds)
  const prefix = (f: CodecFigure) => (f.stopped === 'outclassed' ? 0 : f.quality.samples);
  return cache.get('quality-topup', key, async () => {
    const from = Math.min(...arms.map((a) => prefix(figureOf(a))));
    const rest = subsetDataset(data.test, Array.from({ length: q.samples - from }, (_, i) => from + i));
    const cuts = [...new Map(arms.map((a) => [a.cut.id, a.cut])).values()];
    const report = await evaluate(g, { cuts, codecs: [...new Set(arms.map((a) => a.codec))].map((c) => parseCodec(c)), data: rest, calibration: data.calibration, byteSamples: Math.max(0, Math.min(BYTE_SAMPLES, q.samples) - from), task: o.task, detail: true, timeCodecs: false, ...(onProgress ? { onProgress } : {}) });
    const measured = new Map(report.cuts.flatMap((c) => c.codecs.map((e) => [`${c.id}|${e.codec}`, e] as const)));
    const metric = { name: q.task.metric, label: q.task.label, better: q.task.better, kind: q.task.kind };
    const extend = (f: CodecFigure): CodecFigure => {
      const e = measured.get(`${f.cut}|${f.codec}`);
      if (!e || !f.stopped) return f;
      const skip = prefix(f) - from;
      const scores = [...f.scores.slice(0, prefix(f)), ...e.scores!.slice(skip)];
      const predictions = [...f.predictions.slice(0, prefix(f)), ...(e.predictions ?? []).slice(skip)];
      const byteSizes = [...f.byteSizes, ...e.byteSizes!.slice(Math.max(0, f.byteSizes.length - from))];
      const full = q.full.predictions;
      const agreement = f.agreement === null ? null : predictions.filter((p, i) => p === full[i]).length / predictions.length;
      return { ...f, scores, predictions, byteSizes, bytesMean: mean(byteSizes), bytesP95: quantile(byteSizes, 0.95), quality: qualityFigure(metric, scores), agreement, stopped: null };
    };
    return { ...q, codecs: q.codecs.map(extend) };
  });
}

export async function saliencyAnalysis(g: Graph, data: PlanData, cache: AnalysisCache, onProgress?: (done: number, total: number) => void): Promise<{ value: SaliencySummary; cached: boolean }> {
  const key = { model: modelFingerprint(g.model), data: dataKey(data) };
  return cache.get('saliency-v2', key, async () => {
    const r = await runSaliency(g, data.test, { samples: data.samples, ...(onProgress ? { onProgress } : {}) });
    const cutOf = new Map(singleTensorCuts(g).map((c) => [c.tensors[0]!, c.index]));
    return { curve: r.curve.map((p) => ({ index: p.index, layer: p.layer, log10: p.log10, peak: p.peak, best: p.best, cut: cutOf.get(p.layer) ?? null })), samples: r.samples, source: 'measured' as const };
  });
}

/** The saliency layers ranked by the bottleneck predictor (the CUI is the saliency pass's, not recomputed). */
export async function rankAnalysis(g: Graph, data: PlanData, layers: readonly string[], o: { samples: number; ratio: number }, cache: AnalysisCache, onProgress?: (done: number, total: number) => void): Promise<{ value: RankSummary; cached: boolean }> {
  const key = { model: modelFingerprint(g.model), data: dataKey(data), layers, samples: o.samples, ratio: o.ratio };
  return cache.get('rank', key, async () => {
    const cutOf = new Map(singleTensorCuts(g).map((c) => [c.tensors[0]!, c]));
    const cuts = layers.flatMap((l) => (cutOf.has(l) ? [cutOf.get(l)!] : []));
    const r = await rankCuts(g, cuts, { data: data.test, calibration: data.calibration, ratio: o.ratio, samples: Math.min(o.samples, data.samples), cui: false, ...(onProgress ? { onProgress: (_p, d, t) => onProgress(d, t) } : {}) });
    const { peaks } = findPeaks(r.candidates.map((c) => c.predicted));
    return { ratio: r.ratio, samples: r.samples, metric: r.task.metric, layers: r.candidates.map((c, i) => ({ layer: c.tensor, cut: c.cut, predicted: c.predicted, proxies: c.proxies as Record<string, number>, peak: peaks.includes(i), rank: c.rank })) };
  });
}

/** A trained exit as cached: enough to rebuild the branch (masks come from the seed) and deploy it. */
export interface CachedExit {
  cut: string;
  spec: BranchSpec;
  seed: number;
  norm: { mean: number[]; std: number[] };
  values: Record<string, number[]>;
  temperature: number;
  /** FLOPs of the branch per sample (pooling included), and its weights' bytes. */
  flops: number;
  paramBytes: number;
}

export interface ExitAnalysis {
  exits: CachedExit[];
  samples: number;
  /** Per tau: per exit and test sample, whether the exit is confident enough (calibrated) and what it predicts. */
  taus: { tau: number; passes: number[][]; preds: number[][] }[];
  testAccuracy: number[];
  ece: { before: number; after: number }[];
}

export interface ExitOptions {
  cuts: readonly Cut[];
  hidden: number;
  taus: readonly number[];
  calibrate: boolean;
  trainSamples?: number;
  valSamples: number;
  calSamples: number;
}

export async function exitAnalysis(g: Graph, data: PlanData, o: ExitOptions, cache: AnalysisCache, onProgress?: (phase: string, done: number, total: number) => void): Promise<{ value: ExitAnalysis; cached: boolean }> {
  const key = { model: modelFingerprint(g.model), data: dataKey(data), train: data.train.name, cuts: o.cuts.map((c) => c.id), hidden: o.hidden, taus: o.taus, calibrate: o.calibrate, trainSamples: o.trainSamples ?? null, val: o.valSamples, cal: o.calSamples };
  return cache.get('exits', key, async () => {
    const { exits, test, result } = await trainExits(
      g,
      o.cuts,
      data.folder ? { train: data.train } : { train: data.train, test: data.test },
      { branch: { kind: 'linear', hidden: o.hidden }, calibrate: o.calibrate, testSamples: data.samples, valSamples: o.valSamples, calSamples: o.calSamples, ...(o.trainSamples ? { trainSamples: o.trainSamples } : {}), ...(onProgress ? { onProgress } : {}) },
    );
    if (test.labels.length !== data.samples) throw new ImperaError('BAD_ARGUMENT', `exits were tested on ${test.labels.length} images but quality is measured on ${data.samples}`);
    const probs = test.exits.map((l, k) => Array.from({ length: test.labels.length }, (_, s) => softmax(l.subarray(s * test.classes, (s + 1) * test.classes), exits[k]!.temperature)));
    return {
      exits: exits.map((e, k) => cachedExit(e, k)),
      samples: test.labels.length,
      taus: o.taus.map((tau) => ({ tau, passes: probs.map((rows) => rows.map((p) => (Math.max(...p) >= tau ? 1 : 0))), preds: probs.map((rows) => rows.map((p) => argmax(p))) })),
      testAccuracy: result.exits.map((e) => e.testAccuracy),
      ece: result.exits.map((e) => e.ece),
    };
  });
}

function cachedExit(e: TrainedExit, k: number): CachedExit {
  const elements = numel(e.cut.detail[0]!.shape);
  return {
    cut: e.cut.id,
    spec: e.branch.spec,
    seed: 1 + k,
    norm: { mean: [...(e.branch.norm?.mean ?? [])], std: [...(e.branch.norm?.std ?? [])] },
    values: Object.fromEntries([...e.values].map(([n, v]) => [n, [...v]])),
    temperature: e.temperature,
    flops: 2 * e.branch.macs + elements,
    paramBytes: e.branch.params.reduce((s, p) => s + 4 * numel(p.shape), 0),
  };
}

/** Rebuild deployable exits from the cache. */
export function restoreExits(g: Graph, cuts: readonly Cut[], cached: readonly CachedExit[]): TrainedExit[] {
  return cached.map((c, k) => {
    const cut = cuts.find((x) => x.id === c.cut)!;
    const classes = tensor(g, g.outputs[0]!.name!).shape[1]!;
    const branch = makeBranch(c.spec, `exit${k}`, cut.detail[0]!.shape, classes, c.seed, { mean: Float32Array.from(c.norm.mean), std: Float32Array.from(c.norm.std) }, tensorLayout(g, cut.tensors[0]!));
    return { cut, tensor: cut.tensors[0]!, branch, values: new Map(Object.entries(c.values).map(([n, v]) => [n, Float32Array.from(v)])), temperature: c.temperature };
  });
}

/**
 * Accuracy and exit shares with the first `active` exits on the device (those in the head) at one tau, combined
 * sample by sample with the predictions of the path that runs to the end.
 */
export function combineExits(a: ExitAnalysis, tauIndex: number, active: number, labels: readonly number[], endPredictions: readonly number[]): { accuracy: number; ci: [number, number]; rates: number[] } {
  const t = a.taus[tauIndex]!;
  const counts = new Array<number>(active).fill(0);
  let correct = 0;
  for (let s = 0; s < labels.length; s++) {
    let pred = endPredictions[s]!;
    for (let k = 0; k < active; k++) {
      if (t.passes[k]![s]) {
        counts[k]!++;
        pred = t.preds[k]![s]!;
        break;
      }
    }
    if (pred === labels[s]) correct++;
  }
  return { accuracy: correct / labels.length, ci: wilson(correct, labels.length), rates: counts.map((c) => c / labels.length) };
}
