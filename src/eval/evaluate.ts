/**
 * Quality and bytes of every cut x codec on a dataset, under the task's metric (task/): accuracy for a classifier
 * with labels, agreement or fidelity to the full model otherwise. The work is the unavoidable minimum: one forward
 * pass of the full model per batch, exposing every cut tensor at once (each head computed once), then for every
 * lossy codec one codec round trip and one tail pass per batch returning the outputs the metric reads; lossless
 * codecs reuse the full model's outputs. Bytes are measured per sample (batch 1, as sc2bench reports) on the first
 * `byteSamples` samples by running the real wire encoder. With an adaptive rule (adaptive.ts) the samples come in
 * rounds and a configuration that cannot matter stops being measured: its round trips leave the stacked tail run
 * and its bytes are no longer encoded. Where the rule can screen (adaptive.ts: a metric of 0/1 scores and the
 * planner's `outclassed`), one pass first runs the full model on every sample and measures every codec's bytes, and
 * the lossy codecs' tails run on the samples where the full model's score is not the best there is (the only ones a
 * codec can win); a codec the screen settles reports the upper bound of its quality (the full model's plus its gain
 * there) and is measured no further. When the screen settles every lossy codec, no round runs.
 *
 * Samples stack along each tensor's batch axis (dim 0, or an RNN state's dim 1: graph.batchAxis), and the metric
 * reads outputs samples first. A model with a fixed batch of 1 runs one sample at a time, and its tail once per
 * lossy codec (stacked codecs would not fit its batch).
 */
import { measureInRounds, roundEnds, type AdaptiveRule, type ArmFigure, type ArmStop, type RoundProgress, type Screen, type StopReason } from './adaptive.js';
import { emitStackedRoundTrips, multiEncoderModel, sourceName } from '../codecs/onnx.js';
import { Emitter } from '../onnx/emitter.js';
import { valueInfo } from '../onnx/builder.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { fitCodecs } from '../codecs/calibrate.js';
import { codecFlops, wireDimsOf, type FittedCodec, type FittedTensorCodec } from '../codecs/fitted.js';
import { isLossy, type CodecSpec } from '../codecs/spec.js';
import { packWire, encodeWire, type WireValues } from '../codecs/wire.js';
import type { Cut, CutTensor } from '../cuts/cuts.js';
import { modelInputs, type Dataset, type InputSpec } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { splitModel } from '../export/split.js';
import { batchAxis, symbolicShape, takesAnyBatch, tensor, type Graph } from '../graph/graph.js';
import { producerInfo } from '../graph/producers.js';
import { exposeTensors } from '../onnx/expose.js';
import { axisFirst, sliceAlong, type Tensor } from '../onnx/tensor.js';
import { createSession, run as runSession, type ort } from '../ort/session.js';
import { chooseTask } from '../task/choose.js';
import { pairedDifference, qualityFigure, type PairedDifference } from '../task/quality.js';
import type { MetricName, OutputInfo, QualityFigure, Task, TaskOptions } from '../task/types.js';
import { mean, quantile } from '../util/stats.js';
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
  /** Keep each sample's score, predicted class (where classes) and measured bytes (CodecEval.scores, .predictions, .byteSizes). */
  detail?: boolean;
  /** The metric, or how to choose it (default: chosen from the outputs and the data). */
  task?: TaskOptions;
  /** Measure in rounds and stop configurations that cannot matter (absent: every configuration on every sample). */
  adaptive?: AdaptiveRule;
  /** Time the codecs' round trips apart (EvalTiming.codecS: one more session and run per cut); default true, the planner, which reads no timing, says false. */
  timeCodecs?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface CodecEval {
  codec: string;
  lossy: boolean;
  /** The task's metric over the samples it was measured on (quality.samples), with its 95 % interval. */
  quality: QualityFigure;
  /** Why measuring stopped before every sample (adaptive evaluation), or null when it was measured on all. */
  stopped: StopReason | null;
  /** Its difference from the full model (lossless) on the samples it was measured on: this minus the full model. */
  paired: PairedDifference;
  /** Where the metric reads class scores: the share of samples predicted as the full model predicts them. */
  agreement: number | null;
  /** Bytes per sample on the wire (batch 1). */
  bytes: { mean: number; p95: number; samples: number };
  /** Mean bytes before the entropy stage. */
  packedBytes: number;
  /** What the device stores: the head's weights plus the codec's parameters. */
  encoderBytes: number;
  /** FLOPs per sample the codec adds to the head (encoding, on the device) and to the tail (decoding): a learned bottleneck's. */
  codecFlops: { encode: number; decode: number };
  /** Share of variance the PCA stage keeps (the least over the cut's tensors). */
  pcaExplained?: number;
  /** With `detail`: the predicted class of every sample (where classes), the bytes of every measured sample, every sample's score. */
  predictions?: number[];
  byteSizes?: number[];
  scores?: number[];
}

export interface CutEval {
  index: number;
  id: string;
  tensors: CutTensor[];
  /** Bytes of the cut tensors as float32. */
  floatBytes: number;
  codecs: CodecEval[];
  /** Codecs on the rate-quality Pareto front (better quality as the metric has it), by increasing bytes. */
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
  /** The metric every figure speaks, and why it was chosen. */
  task: { metric: MetricName; label: string; better: 'higher' | 'lower'; kind: 'rate' | 'mean'; reason: string };
  /** The full model's own figure; null where the metric compares with the full model (it is the reference). */
  full: QualityFigure | null;
  cuts: CutEval[];
  timing: EvalTiming;
}

const rowsOf = (t: Tensor, n: number): number => t.data.length / n;

/** Interface dims of a codec model: the tensor's own, with the channel count k on the wire after PCA. */
function codecDims(g: Graph) {
  return (fit: FittedTensorCodec, wire: boolean) => (wire ? wireDimsOf(fit, symbolicShape(g, fit.tensor)) : symbolicShape(g, fit.tensor));
}

/** Labels of a batch, or null for unlabelled data (metrics comparing with the full model need none). */
export const labelsOf = (data: Dataset, indices: readonly number[]): number[] | null => (data.labelled ? indices.map((i) => data.label(i)) : null);

/** Least and greatest value of a tensor (what tells a probability map from logits). */
function rangeOf(t: Tensor): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of t.data) {
    lo = Math.min(lo, Number(v));
    hi = Math.max(hi, Number(v));
  }
  return [lo, hi];
}

/** A shape with its batch axis moved to the front, as the metric reads the tensor. */
const samplesFirst = (dims: readonly number[], axis: number): number[] => [dims[axis] ?? 1, ...dims.filter((_, i) => i !== axis)];

/** The task of a model on its data, chosen from its outputs (shapes, and values on a first batch `out`) unless set. */
export function taskOf(g: Graph, data: Dataset, out: Record<string, Tensor>, options: TaskOptions = {}): Promise<Task> {
  const outputs: OutputInfo[] = g.outputs.map((o) => ({ name: o.name!, dims: samplesFirst(tensor(g, o.name!).shape, batchAxis(g, o.name!)), ...(out[o.name!] ? { range: rangeOf(out[o.name!]!) } : {}), ...producerInfo(g, o.name!) }));
  return chooseTask(outputs, { labelled: data.labelled, classes: data.labelled ? data.classes.length : 0 }, options);
}

/** What one codec at one cut has scored so far. */
interface Tally {
  scores: number[];
  agree: number;
  bytes: number[];
  packed: number[];
  predictions: number[];
}

/** One evaluation while it runs: its settings, task, fitted codecs, open sessions, tallies and time spent. */
interface EvalRun {
  g: Graph;
  task: Task;
  inputs: InputSpec[];
  opset: number;
  options: EvaluateOptions;
  total: number;
  byteSamples: number;
  batch: number;
  fitted: Map<string, FittedCodec[]>;
  /** The full model exposing the cut tensors the evaluation reads. */
  full: ort.InferenceSession;
  /** Per cut: the tail behind the round trips of its live lossy codecs stacked along the batch (all at once, or one by one for a fixed batch), with the codecs (indices) each runs. */
  fused: Map<string, { codecs: number[]; session: ort.InferenceSession }[]>;
  /** Per cut and codec: whether it is still measured. */
  alive: boolean[][];
  /** Per cut, while bytes are measured: every codec's encoder. */
  encoders: Map<string, ort.InferenceSession>;
  tallies: Tally[][];
  fullScores: number[];
  /** Every sample's score of the full model's outputs as a configuration's (what lossless codecs score): the reference of paired differences. */
  referenceScores: number[];
  /** Whether every byte sample's bytes are measured already (by the screen): the rounds measure none. */
  bytesDone: boolean;
  /** What the screen found (null: none ran): per cut and codec the summed score difference from the full model on the samples screened. */
  screen: { headroom: Set<number>; difference: number[][]; disagree: number[][]; screened: boolean[][] } | null;
  timing: { fullS: number; tailS: number; codecS: number; bytesS: number };
}

const indicesFrom = (start: number, count: number): number[] => Array.from({ length: count }, (_, i) => start + i);

export async function evaluate(g: Graph, options: EvaluateOptions): Promise<EvalReport> {
  const started = performance.now();
  if (!options.cuts.length) throw new ImperaError('BAD_ARGUMENT', 'evaluation has no cut to evaluate', 'where every cut carries several tensors (an RNN state beside each activation), list wider ones: `impera inspect --width 3`, then --width 3 or the cut named by its tensors');
  const inputs = modelInputs(g);
  const total = Math.min(options.samples ?? options.data.size, options.data.size);
  const batch = takesAnyBatch(g) ? (options.batchSize ?? 16) : fixedBatchOne(g, 'evaluation');
  const timing = { fullS: 0, tailS: 0, codecS: 0, bytesS: 0 };
  const full = await createSession(exposeTensors(g.proto, options.cuts.flatMap((c) => c.tensors)), g.model.dir);
  const sessions: ort.InferenceSession[] = [full];
  try {
    // the first batch decides the metric (value ranges tell maps from logits) before the codecs are fitted
    const t = performance.now();
    const first = await runSession(full, options.data.feeds(indicesFrom(0, Math.min(batch, total)), inputs));
    timing.fullS += (performance.now() - t) / 1000;
    const task = await taskOf(g, options.data, first, options.task);
    const t0 = performance.now();
    const fitted = await fitCodecs(g, options.cuts, options.codecs, options.calibration, { samples: options.calibrationSamples ?? 256, onProgress: (d, n) => options.onProgress?.('calibrate', d, n) });
    const calibrationS = (performance.now() - t0) / 1000;
    const run: EvalRun = {
      g,
      task,
      inputs,
      opset: g.opsets.get('') ?? 13,
      options,
      total,
      byteSamples: Math.min(options.byteSamples ?? 100, total),
      batch,
      fitted,
      full,
      fused: new Map(),
      encoders: new Map(),
      tallies: options.cuts.map((cut) => fitted.get(cut.id)!.map(() => ({ scores: [], agree: 0, bytes: [], packed: [], predictions: [] }))),
      alive: options.cuts.map((cut) => fitted.get(cut.id)!.map(() => true)),
      fullScores: [],
      referenceScores: [],
      bytesDone: false,
      screen: null,
      timing,
    };
    let stops: ArmStop[];
    try {
      await openEncoders(run);
      stops = await measureInRounds(roundDriver(run, first, roundEnds(total, options.adaptive ?? null).length), options.adaptive ?? null);
    } finally {
      sessions.push(...[...run.fused.values()].flat().map((f) => f.session), ...run.encoders.values(), ...(run.full !== full ? [run.full] : []));
    }
    const stopsOf = unflatten(options.cuts.map((cut) => fitted.get(cut.id)!.length), stops);
    const m = task.metric;
    return {
      dataset: options.data.name,
      samples: total,
      task: { metric: m.name, label: m.label, better: m.better, kind: m.kind, reason: [task.reason, ...(task.notes?.() ?? [])].join('; ') },
      full: comparesWithFull(task) ? null : qualityFigure(m, run.fullScores),
      cuts: options.cuts.map((cut, c) => cutEval(run, cut, fitted.get(cut.id)!, run.tallies[c]!, stopsOf[c]!)),
      timing: { wallS: (performance.now() - started) / 1000, calibrationS, ...timing },
    };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}

/**
 * The batch of a model that runs at one batch size only: 1, one sample per run. A fixed batch of several samples
 * is refused in one line (its last run would need padding, and each run's samples scored apart).
 */
export function fixedBatchOne(g: Graph, what: string): 1 {
  const [name, info] = [...g.inputShapes][0] ?? [];
  const size = info?.shape[0] ?? 1;
  if (size === 1) return 1;
  throw new ImperaError('BAD_ARGUMENT', `${what} runs a fixed-batch model one sample at a time, but input '${name}' [${info!.shape.join(', ')}] takes a fixed batch of ${size}`, 'export the model with a dynamic batch dim or with batch 1');
}

/** Metrics that measure the split against the full model (no labels, built in): the full model is their reference. */
const comparesWithFull = (task: Task): boolean => !task.metric.needsLabels && !task.metric.name.startsWith('custom:');

/** Time `work` under `key` of the run's timing. */
async function timed<T>(run: EvalRun, key: keyof EvalRun['timing'], work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await work();
  } finally {
    run.timing[key] += (performance.now() - t) / 1000;
  }
}

/** The indices of a cut's lossy codecs (lossless ones reuse the full model's outputs). */
const lossyOf = (run: EvalRun, cut: Cut): number[] => run.fitted.get(cut.id)!.flatMap((f, k) => (isLossy(f.spec) ? [k] : []));

// many sessions live at once: without arenas each returns its activation memory after every run
const SESSION_OPTIONS = { memoryArena: false };

async function openEncoders(run: EvalRun): Promise<void> {
  if (run.byteSamples === 0) return;
  for (const cut of run.options.cuts) run.encoders.set(cut.id, await createSession(multiEncoderModel(run.fitted.get(cut.id)!.map((f) => f.tensors), run.opset, codecDims(run.g)), '.', SESSION_OPTIONS));
}

/** The cut's fused tails for its live lossy codecs, rebuilt when some stopped since the last ones (empty: none live). */
async function fusedFor(run: EvalRun, c: number, cut: Cut): Promise<{ codecs: number[]; session: ort.InferenceSession }[]> {
  const live = lossyOf(run, cut).filter((k) => run.alive[c]![k]);
  const open = run.fused.get(cut.id);
  if (open && open.flatMap((f) => f.codecs).join() === live.join()) return open;
  if (open) {
    run.fused.delete(cut.id);
    for (const f of open) await f.session.release();
  }
  if (!live.length) return [];
  const fits = run.fitted.get(cut.id)!;
  // a model with a fixed batch of 1 runs each codec's round trip alone: stacked codecs would not fit its batch
  const groups = takesAnyBatch(run.g) ? [live] : live.map((k) => [k]);
  // after a screen the few tails left run on every sample, and ONNX Runtime's arena saves a fifth to a third of
  // their CPU (docs/BENCHMARKS.md bench:plan); with every cut's tail open at once, its peaks would add up
  const settings = run.screen ? { memoryArena: true } : SESSION_OPTIONS;
  const fused = [];
  for (const codecs of groups) fused.push({ codecs, session: await createSession(fusedTail(run.g, cut, codecs.map((k) => fits[k]!.tensors), run.opset), run.g.model.dir, settings) });
  run.fused.set(cut.id, fused);
  return fused;
}

/** How many samples a run's outputs hold (along the first output's batch axis). */
function samplesIn(g: Graph, out: Record<string, Tensor>): number {
  const name = Object.keys(out)[0]!;
  return out[name]!.dims[batchAxis(g, name)]!;
}

/** `flat` cut into consecutive lists of the given lengths. */
function unflatten<T>(lengths: readonly number[], flat: readonly T[]): T[][] {
  let at = 0;
  return lengths.map((n) => flat.slice(at, (at += n)));
}

/**
 * The rounds' view of a run: every cut x codec an arm, lossless ones pinned (they cost nothing beyond the full
 * pass). Progress after every batch names the round, the configurations still measured and, from the pace so far,
 * at most how long the rest takes (every live lossy configuration on every remaining sample).
 */
function roundDriver(run: EvalRun, first: Record<string, Tensor>, rounds: number): Parameters<typeof measureInRounds>[0] {
  const { options, task } = run;
  const arms = options.cuts.flatMap((cut, c) => run.fitted.get(cut.id)!.map((fit, k) => ({ c, k, cut, lossy: isLossy(fit.spec) })));
  const started = performance.now();
  let lossySamples = 0;
  let round = 1;
  return {
    arms: arms.length,
    total: run.total,
    pinned: arms.map((a) => !a.lossy),
    async measure(alive, from, to) {
      arms.forEach((a, i) => (run.alive[a.c]![a.k] = alive[i]!));
      if (from === 0 && run.screen) await narrowFull(run);
      const live = alive.filter(Boolean).length;
      const liveLossy = arms.filter((a, i) => alive[i] && a.lossy).length;
      for (let start = from; start < to; start += run.batch) {
        const size = Math.min(run.batch, to - start);
        // the first batch's full outputs were computed to choose the metric: reused when the batch is the same
        await evaluateBatch(run, start, size, start === 0 && size === samplesIn(run.g, first) ? first : undefined);
        lossySamples += size * liveLossy;
        const left = ((performance.now() - started) / 1000 / Math.max(1, lossySamples)) * (run.total - start - size) * liveLossy;
        options.onProgress?.(`evaluate: round ${round}/${rounds}, ${live} of ${arms.length} configurations measured, at most ${Math.ceil(left)} s left`, start + size, run.total);
      }
    },
    figures: () =>
      arms.map((a): ArmFigure => {
        const { scores, bytes } = run.tallies[a.c]![a.k]!;
        const gain = run.screen?.screened[a.c]![a.k] ? { gainBound: (task.metric.better === 'higher' ? 1 : -1) * screenedDifference(run, a.c, a.k, scores) } : {};
        return { group: a.cut.id, bytes: mean(bytes), quality: qualityFigure(task.metric, scores), paired: pairedDifference(task.metric, scores, run.referenceScores), ...gain };
      }),
    onRound(p: RoundProgress) {
      round = p.round + 1;
    },
    ...(task.metric.kind === 'rate' && options.adaptive?.outclassed ? screenDriver(run, first, arms) : {}),
  };
}

/**
 * After a screen the rounds read only the cut tensors of codecs still measured (bytes are measured, lossless codecs
 * read the model's outputs): the full model exposing those alone spares copying out the rest.
 */
async function narrowFull(run: EvalRun): Promise<void> {
  const live = run.options.cuts.filter((cut, c) => lossyOf(run, cut).some((k) => run.alive[c]![k]));
  if (live.length < run.options.cuts.length) run.full = await createSession(exposeTensors(run.g.proto, live.flatMap((c) => c.tensors)), run.g.model.dir);
}

/** The full model's side of every sample, as the screen computes it once. */
interface ScreenReference {
  fullScores: number[];
  self: number[];
  predictions: number[];
}

/**
 * The screen (module comment) and, when it settles every lossy codec, the lossless codecs' figures from its pass:
 * one pass of the full model over every sample (bytes of every codec on the byte samples), then every lossy codec's
 * tail on the samples where the full model's 0/1 score is not the best (1 for higher-is-better, 0 for lower).
 */
function screenDriver(run: EvalRun, first: Record<string, Tensor>, arms: readonly { c: number; k: number; cut: Cut; lossy: boolean }[]): Pick<Parameters<typeof measureInRounds>[0], 'screen' | 'settle'> {
  const { options, task } = run;
  const reference: ScreenReference = { fullScores: [], self: [], predictions: [] };
  return {
    screen: {
      arms: arms.map((a) => ({ group: a.cut.id })),
      async run(): Promise<Screen> {
        // past the byte samples only the model's outputs are read: the plain model spares copying out every cut tensor
        const plain = run.byteSamples < run.total ? await createSession(run.g.proto, run.g.model.dir) : null;
        try {
          for (let start = 0; start < run.total; start += run.batch) {
            const idx = indicesFrom(start, Math.min(run.batch, run.total - start));
            const session = plain && start >= run.byteSamples ? plain : run.full;
            const out = start === 0 && idx.length === samplesIn(run.g, first) ? first : await timed(run, 'fullS', () => runSession(session, options.data.feeds(idx, run.inputs)));
            const ref = await referenceOf(run, out, idx);
            reference.fullScores.push(...(await task.scoreFull({ n: ref.n, full: ref.full, labels: ref.labels })));
            reference.self.push(...ref.self);
            reference.predictions.push(...(ref.predictions ?? []));
            for (const [c, cut] of options.cuts.entries()) await measureCutBytes(run, c, cut, out, start, idx.length);
            options.onProgress?.('evaluate: screen, the full model and bytes', start + idx.length, run.total);
          }
        } finally {
          await plain?.release();
        }
        run.bytesDone = true;
        // only codecs the planner says the lossless input beats at their bytes can be settled: the others' tails wait for the rounds
        const candidates = arms.map((a) => a.lossy && options.adaptive!.outclassed!(a.cut.id, mean(run.tallies[a.c]![a.k]!.bytes)));
        arms.forEach((a, i) => (run.alive[a.c]![a.k] = candidates[i]!));
        const best = task.metric.better === 'higher' ? 1 : 0;
        const headroom = reference.self.flatMap((v, i) => (v !== best ? [i] : []));
        const screened = options.cuts.map((_, c) => arms.filter((a) => a.c === c).map((a) => candidates[arms.indexOf(a)]!));
        const screen = { headroom: new Set(headroom), screened, difference: options.cuts.map((cut) => run.fitted.get(cut.id)!.map(() => 0)), disagree: options.cuts.map((cut) => run.fitted.get(cut.id)!.map(() => 0)) };
        for (let at = 0; at < headroom.length; at += run.batch) {
          const idx = headroom.slice(at, at + run.batch);
          const out = await timed(run, 'fullS', () => runSession(run.full, options.data.feeds(idx, run.inputs)));
          const ref = await referenceOf(run, out, idx);
          for (const [c, cut] of options.cuts.entries()) {
            await tailScores(run, c, cut, out, ref, (k, scores, predictions) => {
              screen.difference[c]![k]! += scores.reduce((s, v, i) => s + v - ref.self[i]!, 0);
              if (predictions && ref.predictions) screen.disagree[c]![k]! += predictions.filter((p, i) => p !== ref.predictions![i]).length;
            });
          }
          options.onProgress?.(`evaluate: screen, ${candidates.filter(Boolean).length} lossy configurations on the ${headroom.length} samples the full model can lose`, at + idx.length, headroom.length);
        }
        run.screen = screen;
        arms.forEach((a) => (run.alive[a.c]![a.k] = true));
        const sign = task.metric.better === 'higher' ? 1 : -1;
        // the planner ties qualities of accuracy or of a model with classes only (planner.ts), so only there does the screen
        const ties = task.metric.name === 'accuracy' || task.predict !== undefined;
        return { gains: arms.map((a, i) => (candidates[i] ? (sign * screen.difference[a.c]![a.k]!) / run.total : Infinity)), bytes: arms.map((a) => mean(run.tallies[a.c]![a.k]!.bytes)), full: mean(reference.self), samples: headroom.length, ...(ties ? {} : { tie: 0 }) };
      },
    },
    async settle() {
      run.fullScores.push(...reference.fullScores);
      run.referenceScores.push(...reference.self);
      const ref = { predictions: reference.predictions } as Reference;
      for (const [c, cut] of options.cuts.entries()) {
        for (const [k, fit] of run.fitted.get(cut.id)!.entries()) if (!isLossy(fit.spec)) tallyBatch(run, run.tallies[c]![k]!, reference.self, ref, task.predict ? reference.predictions : undefined);
      }
    },
  };
}

/** Outputs `names` of a run's results, samples `from` to `from + n` along each one's batch axis, samples first (as metrics read them). */
export const sampleRows = (g: Graph, out: Record<string, Tensor>, names: readonly string[], from: number, n: number): Record<string, Tensor> =>
  Object.fromEntries(names.map((o) => [o, axisFirst(sliceAlong(out[o]!, batchAxis(g, o), from, from + n), batchAxis(g, o))]));

/** The outputs the metric reads, out of a run's results (samples `from` to `from + n`), samples first. */
const metricOutputs = (run: EvalRun, out: Record<string, Tensor>, from: number, n: number): Record<string, Tensor> => sampleRows(run.g, out, run.task.metric.outputs, from, n);

/** `size` samples from `start` (`first`: their full outputs, already computed): the full model once, then each cut's bytes and live codecs. */
async function evaluateBatch(run: EvalRun, start: number, size: number, first?: Record<string, Tensor>): Promise<void> {
  const { options, task } = run;
  const idx = indicesFrom(start, size);
  const n = idx.length;
  const out = first ?? (await timed(run, 'fullS', () => runSession(run.full, options.data.feeds(idx, run.inputs))));
  const reference = await referenceOf(run, out, idx);
  run.fullScores.push(...(await task.scoreFull({ n, full: reference.full, labels: reference.labels })));
  run.referenceScores.push(...reference.self);
  for (const [c, cut] of options.cuts.entries()) {
    await measureCutBytes(run, c, cut, out, start, n);
    await scoreLossless(run, c, cut, reference);
    await scoreLossy(run, c, cut, out, reference);
    // the live ones only: a codec the screen settled has no tail runs to take a share of
    const lossy = lossyOf(run, cut).filter((k) => run.alive[c]![k]);
    const fits = run.fitted.get(cut.id)!;
    if (start === 0 && lossy.length && options.timeCodecs !== false) run.timing.codecS += (await codecShare(run.g, cut, lossy.map((k) => fits[k]!.tensors), out, run.opset)) * Math.ceil(run.total / run.batch);
  }
}

/** A batch's full-model side: its outputs and labels, the scores of those outputs against themselves, its predicted classes. */
interface Reference {
  n: number;
  full: Record<string, Tensor>;
  labels: number[] | null;
  self: number[];
  predictions?: number[] | undefined;
}

/** The full model's side of the samples `idx` whose outputs are `out`: what each configuration of them is scored against. */
async function referenceOf(run: EvalRun, out: Record<string, Tensor>, idx: readonly number[]): Promise<Reference> {
  const n = idx.length;
  const full = metricOutputs(run, out, 0, n);
  const labels = labelsOf(run.options.data, idx);
  return { n, full, labels, self: await run.task.score({ n, split: full, full, labels }), predictions: run.task.predict?.(full, n) };
}

/** Wire bytes of the batch's samples that are among the first `byteSamples`; the encoders close after the last. */
async function measureCutBytes(run: EvalRun, c: number, cut: Cut, out: Record<string, Tensor>, start: number, size: number): Promise<void> {
  const measure = run.bytesDone ? 0 : Math.max(0, Math.min(size, run.byteSamples - start));
  if (measure === 0) return;
  const fits = run.fitted.get(cut.id)!;
  const encoder = run.encoders.get(cut.id)!;
  const wire = await timed(run, 'bytesS', () => runSession(encoder, Object.fromEntries(cut.tensors.map((t) => [t, out[t]!]))));
  const wireOf = (k: number) => cut.tensors.map((t) => axisFirst(wire[`${t}::wire::${k}`]!, batchAxis(run.g, t)));
  await timed(run, 'bytesS', async () => fits.forEach((fit, k) => run.alive[c]![k] && measureBytes(fit, wireOf(k), measure, run.tallies[c]![k]!)));
  if (start + size >= run.byteSamples) {
    await encoder.release();
    run.encoders.delete(cut.id);
  }
}

/** Add one codec's scores (and predictions) of a batch to its tally. */
function tallyBatch(run: EvalRun, tally: Tally, scores: readonly number[], ref: Reference, predictions: readonly number[] | undefined): void {
  tally.scores.push(...scores);
  if (predictions && ref.predictions) {
    tally.agree += predictions.filter((p, i) => p === ref.predictions![i]).length;
    if (run.options.detail) tally.predictions.push(...predictions);
  }
}

/** Lossless codecs deliver the cut tensors exactly: their outputs are the full model's, scored against themselves (once per batch). */
async function scoreLossless(run: EvalRun, c: number, cut: Cut, ref: Reference): Promise<void> {
  for (const [k, fit] of run.fitted.get(cut.id)!.entries()) {
    if (isLossy(fit.spec)) continue;
    tallyBatch(run, run.tallies[c]![k]!, ref.self, ref, ref.predictions);
  }
}

/** One tail run per group of live lossy codecs of the cut (the batch is codec after codec): each codec's scores and predicted classes. */
async function tailScores(run: EvalRun, c: number, cut: Cut, out: Record<string, Tensor>, ref: Reference, each: (k: number, scores: number[], predictions: number[] | undefined) => void): Promise<void> {
  const { task } = run;
  for (const { session, codecs } of await fusedFor(run, c, cut)) {
    const tailOut = await timed(run, 'tailS', () => runSession(session, Object.fromEntries(cut.tensors.map((t) => [sourceName(t), out[t]!])), task.metric.outputs));
    for (const [j, k] of codecs.entries()) {
      const split = metricOutputs(run, tailOut, j * ref.n, ref.n);
      each(k, await task.score({ n: ref.n, split, full: ref.full, labels: ref.labels }), task.predict?.(split, ref.n));
    }
  }
}

/** The live lossy codecs of the cut on a batch, added to their tallies. */
const scoreLossy = (run: EvalRun, c: number, cut: Cut, out: Record<string, Tensor>, ref: Reference): Promise<void> => tailScores(run, c, cut, out, ref, (k, scores, predictions) => tallyBatch(run, run.tallies[c]![k]!, scores, ref, predictions));

function cutEval(run: EvalRun, cut: Cut, fits: readonly FittedCodec[], tallies: readonly Tally[], stops: readonly ArmStop[]): CutEval {
  const { metric } = run.task;
  const detail = run.options.detail === true;
  const classes = run.task.predict !== undefined;
  const c = run.options.cuts.indexOf(cut);
  const evals = fits.map((fit, k): CodecEval => {
    const a = tallies[k]!;
    const explained = fit.tensors.filter((t) => t.pca).map((t) => t.pca!.explained);
    const screened = stops[k]!.reason === 'outclassed' && run.screen ? screenedFigures(run, c, k, a.scores) : null;
    return {
      codec: fit.spec.name,
      lossy: isLossy(fit.spec),
      quality: screened?.quality ?? qualityFigure(metric, a.scores),
      stopped: stops[k]!.reason,
      paired: screened?.paired ?? pairedDifference(metric, a.scores, run.referenceScores),
      agreement: classes ? (screened?.agreement ?? a.agree / a.scores.length) : null,
      bytes: { mean: mean(a.bytes), p95: quantile(a.bytes, 0.95), samples: a.bytes.length },
      packedBytes: mean(a.packed),
      encoderBytes: cut.headCost.paramBytes + fit.paramBytes,
      codecFlops: codecFlops(fit),
      ...(explained.length ? { pcaExplained: Math.min(...explained) } : {}),
      ...(detail ? { ...(classes ? { predictions: a.predictions } : {}), byteSizes: a.bytes, scores: a.scores } : {}),
    };
  });
  return {
    index: cut.index,
    id: cut.id,
    tensors: cut.detail,
    floatBytes: cut.wireBytes.float32,
    codecs: evals,
    front: paretoFront(
      evals.map((e) => ({ label: e.codec, bytes: e.bytes.mean, quality: e.quality.value })),
      metric.better,
    ).map((p) => p.label),
  };
}

/** A lossy codec's exact upper bound of its difference from the full model on every sample, from the screen and its `scores` of the first samples since (on the rest it can only lose). */
function screenedDifference(run: EvalRun, c: number, k: number, scores: readonly number[]): number {
  const { headroom, difference } = run.screen!;
  let sum = difference[c]![k]!;
  scores.forEach((v, i) => !headroom.has(i) && (sum += v - run.referenceScores[i]!));
  return sum / run.total;
}

/**
 * A codec the screen settled, as upper bounds: its quality is at most the full model's plus its difference on the
 * samples measured (the screened ones and any first samples since; on every other sample it can only lose), its
 * difference from the full model at most that (at least that minus every other sample lost), its agreement at most
 * all but its disagreements on the screened samples.
 */
function screenedFigures(run: EvalRun, c: number, k: number, scores: readonly number[]): { quality: QualityFigure; paired: PairedDifference; agreement: number } {
  const { metric } = run.task;
  const n = run.total;
  const { headroom, disagree } = run.screen!;
  const screened = headroom.size + scores.filter((_, i) => !headroom.has(i)).length;
  const d = screenedDifference(run, c, k, scores);
  const worst = (n - screened) / n;
  const ci: [number, number] = metric.better === 'higher' ? [d - worst, d] : [d, d + worst];
  const full = mean(run.referenceScores);
  return { quality: { metric: metric.name, label: metric.label, better: metric.better, value: full + d, ci: [full + ci[0], full + ci[1]], samples: screened }, paired: { value: d, ci, samples: screened }, agreement: (n - disagree[c]![k]!) / n };
}

/** The tail of `cut` preceded by the round trips of several codecs, stacked along the batch (see emitStackedRoundTrips). */
function fusedTail(g: Graph, cut: Cut, codecs: readonly (readonly FittedTensorCodec[])[], opset: number): ModelProto {
  const tail = splitModel(g, [cut]).parts[1]!.proto;
  const graph = tail.graph!;
  const e = new Emitter(opset, 'codec');
  emitStackedRoundTrips(e, codecs, (t) => batchAxis(g, t));
  const inputs = (graph.input ?? []).map((vi) => (cut.tensors.includes(vi.name!) ? onnx.ValueInfoProto.create({ ...vi, name: sourceName(vi.name!) }) : vi));
  return onnx.ModelProto.create({ ...tail, graph: { ...graph, input: inputs, node: [...e.nodes, ...(graph.node ?? [])], initializer: [...(graph.initializer ?? []), ...e.initializers] } });
}

/** Seconds the codec round trips alone take on one batch (what the fused tail runs spend decoding). */
async function codecShare(g: Graph, cut: Cut, codecs: readonly (readonly FittedTensorCodec[])[], out: Record<string, Tensor>, opset: number): Promise<number> {
  const e = new Emitter(opset, 'codec');
  emitStackedRoundTrips(e, codecs, (t) => batchAxis(g, t));
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'roundtrips', node: e.nodes, initializer: e.initializers, input: cut.tensors.map((t) => valueInfo(sourceName(t), tensor(g, t).dtype, symbolicShape(g, t))), output: cut.tensors.map((t) => valueInfo(t, tensor(g, t).dtype)) },
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

/** Wire bytes of the first `count` samples of a batch (wire tensors samples first), one sample at a time. */
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
