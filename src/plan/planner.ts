/**
 * `plan()`: one scenario in, one recommendation out. Loads the model, resolves devices and links, runs (or takes
 * from the cache) the expensive analyses, explores every configuration analytically, refines the finalists with
 * the discrete-event simulation, and decides.
 */
import { resolve } from 'node:path';
import { modelCost } from '../cost/part.js';
import { findCuts, resolveCut, singleTensorCuts, type Cut, type CutSpec } from '../cuts/cuts.js';
import { declaredInputs, modelInputs, type DatasetOptions } from '../data/dataset.js';
import { completeFromData } from '../data/model-inputs.js';
import type { PreprocessInput } from '../data/preprocess-spec.js';
import { defaultData, openSource } from '../data/policy.js';
import { loadCatalog, type Radio } from '../devices/catalog.js';
import { ImperaError, isImperaError } from '../errors.js';
import { analyzeModel } from '../graph/analyze.js';
import { runtimeNodes, tensor, type Graph } from '../graph/graph.js';
import { resolveLink, type Link } from '../net/link.js';
import { pathOf } from '../net/path.js';
import { resolveTransport, transferStats, type Transport } from '../net/transfer.js';
import { loadModel } from '../onnx/io.js';
import { EXAMPLE_MODEL } from '../util/package.js';
import { learnedAnalysis, type LearnedCodecs } from './learned.js';
import { exitAnalysis, planData, qualityAnalysis, rankAnalysis, saliencyAnalysis, topUpAnalysis, type ExitAnalysis, type PlanData, type QualityAnalysis, type QualityOptions } from './analyses.js';
import type { AdaptiveRule, StopReason } from '../eval/adaptive.js';
import { analysisCache, type AnalysisCache } from '../util/analysis-cache.js';
import { planChain, type ChainProblem } from '../placement/chain.js';
import { bestEnumeratedCut, dadsPartition, transferFromBytes, type EdgeCloudCosts } from '../placement/dads.js';
import { resolveCompute, type ComputeContext, type ComputeResource } from '../devices/resolve.js';
import { explore, type NamedLink } from './explore.js';
import { qualityConstraint } from './quality.js';
import { decide, outclass, stoppedFinalists, type Decision, type Qos } from './recommend.js';
import { refineLatency } from './refine.js';
import { switchingPlan } from './switching.js';
import { cutRuledOut, outclassedBy, type BoundInputs, type OutclassInputs } from './bounds.js';
import type { PlanScenario } from './scenario.js';
import type { TaskOptions } from '../task/types.js';
import type { CutSummary, PlanConfiguration, PlanQos, PlanQuality, PlanQualityFigure, PlanResult, SaliencySummary } from './types.js';

export interface PlanOptions {
  /** Reuse cached analyses (default true). */
  cache?: boolean;
  cacheDir?: string;
  catalogFiles?: readonly string[];
  /** false: skip the saliency pass (`--no-saliency`); its peaks are then no candidate cuts. */
  saliency?: boolean;
  /** Measure every cut x codec on every sample (`--exhaustive`), whatever the scenario's `evaluation`. */
  exhaustive?: boolean;
  /** Progress of the current step (done of total), for a progress bar. */
  onProgress?: (step: string, done: number, total: number) => void;
}

/** What deploying the recommendation needs besides the result. */
export interface PlanContext {
  g: Graph;
  cuts: Cut[];
  exits: { analysis: ExitAnalysis; cuts: Cut[] } | null;
  data: PlanData | null;
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The cut a scenario names (index as `impera inspect` numbers it, or tensor names) at `field`; errors name the field. */
function scenarioCut(g: Graph, all: readonly Cut[], spec: CutSpec, field: string): Cut {
  try {
    return resolveCut(g, all, spec);
  } catch (e) {
    if (isImperaError(e)) throw new ImperaError('BAD_SCENARIO', `${field}: ${e.message}`, e.hint);
    throw e;
  }
}

/**
 * The cuts after the first weighted layer that candidates are chosen from: the single-tensor ones, or where a model
 * has none (a recurrent state beside every activation: a PyTorch GRU's h0, Silero's LSTM state) the narrowest
 * wider ones, up to 3 tensors.
 */
function narrowestCuts(g: Graph): Cut[] {
  for (let width = 1; width <= 3; width++) {
    const cuts = findCuts(g, { maxWidth: width }).filter((c) => c.headCost.macs > 0);
    if (cuts.length) return cuts;
  }
  return [];
}

/** Candidate cuts: every narrowest cut after the first weighted layer, or the bytes minima along depth plus saliency peaks (of `predicted` with the scenario's `rank`), or the bytes/head-FLOPs front, or a list. */
function candidateCuts(g: Graph, spec: PlanScenario['config']['explore']['cuts'], saliency: SaliencySummary | null, all: () => readonly Cut[]): Cut[] {
  const single = narrowestCuts(g);
  if (Array.isArray(spec)) return spec.map((s, i) => scenarioCut(g, all(), s, `explore.cuts.${i}`));
  // peaks of the bottleneck predictor where the scenario ranks by it, else the CUI's (I-SPLIT)
  const peaks = new Set(saliency?.ranking ? saliency.ranking.layers.filter((p) => p.peak).map((p) => p.layer) : (saliency?.curve ?? []).filter((p) => p.peak).map((p) => p.layer));
  if (spec === 'all') return single;
  if (spec === 'pareto') return findCuts(g, { pareto: true }).filter((c) => c.headCost.macs > 0);
  if (spec === 'peaks') return single.filter((c) => c.tensors.some((t) => peaks.has(t)));
  return single.filter((c, i) => c.tensors.some((t) => peaks.has(t)) || ((i === 0 || c.bytes < single[i - 1]!.bytes) && (i === single.length - 1 || c.bytes <= single[i + 1]!.bytes)));
}

function cutSummary(c: Cut): CutSummary {
  return { index: c.index, id: c.id, bytes: c.bytes, shapes: c.detail.map((d) => d.shape), headMacs: c.headCost.macs, tailMacs: c.tailCost.macs, headParamBytes: c.headCost.paramBytes, headPeakActivationBytes: c.headCost.peakActivationBytes };
}

/** Where planning time goes: each step's seconds and whether its result came from the cache. */
interface StepLog {
  steps: PlanResult['timings']['steps'];
  /** Run a step that says whether it was cached, timing it. */
  run<T>(name: string, work: () => Promise<{ value: T; cached: boolean }>): Promise<T>;
  record(name: string, seconds: number, cached: boolean): void;
}

function stepLog(): StepLog {
  const steps: PlanResult['timings']['steps'] = [];
  const record = (step: string, seconds: number, cached: boolean) => void steps.push({ step, seconds, cached });
  return {
    steps,
    record,
    async run(name, work) {
      const t0 = performance.now();
      const { value, cached } = await work();
      record(name, (performance.now() - t0) / 1000, cached);
      return value;
    },
  };
}

/** The scenario's model (the built-in one by default), analysed at the scenario's input shape; errors name `model`. */
async function scenarioGraph(s: PlanScenario): Promise<Graph> {
  const c = s.config;
  let model;
  try {
    model = loadModel(c.model ? resolve(s.baseDir, c.model) : EXAMPLE_MODEL);
  } catch (e) {
    if (isImperaError(e)) throw new ImperaError('BAD_SCENARIO', `model: ${e.message}`, e.hint);
    throw e;
  }
  const input = declaredInputs(model)[0];
  const inputValues = Object.fromEntries(Object.entries(c.inputValues ?? {}).map(([k, v]) => [k, typeof v === 'number' ? [v] : v]));
  const given = { inputShapes: c.inputShape && input ? { [input.name]: c.inputShape } : {}, inputValues };
  // the scenario's data decides what inputShape and inputValues leave open (other inputs' dims, a sample rate), as --data does
  const completed = c.data ? completeFromData(model, given, openSource(c.data.source, s.baseDir, scenarioDatasetOptions(s))) : given;
  return analyzeModel(model, completed);
}

/** How the scenario's data is read: its preprocessing and labels. */
function scenarioDatasetOptions(s: PlanScenario): DatasetOptions {
  const given = s.config.data;
  return { ...(given?.preprocess !== undefined ? { preprocess: given.preprocess as PreprocessInput } : {}), ...(given?.labels ? { labels: resolve(s.baseDir, given.labels) } : {}) };
}

/** The devices and links a scenario names, resolved. */
interface PlanSetup {
  links: NamedLink[];
  transport: Transport;
  edges: ComputeResource[];
  server: ComputeResource | null;
  chainDevices: ComputeResource[];
  chainLinks: Link[];
}

/** Devices and links, resolved before any analysis: a typo there should fail before minutes of work. */
async function resolveSetup(g: Graph, s: PlanScenario, ctx: ComputeContext): Promise<PlanSetup> {
  const c = s.config;
  const links: NamedLink[] = asList(c.links.uplink).map((cfg, i, all) => {
    const link = resolveLink(cfg, { where: all.length > 1 || Array.isArray(c.links.uplink) ? `links.uplink.${i}` : 'links.uplink', baseDir: s.baseDir });
    return { name: link.name, link };
  });
  const transport = resolveTransport(c.transport, 'transport');
  const edges: ComputeResource[] = [];
  for (const [i, e] of asList(c.devices.edge).entries()) edges.push(await resolveCompute(g, e, Array.isArray(c.devices.edge) ? `devices.edge.${i}` : 'devices.edge', ctx));
  const server = c.devices.server !== undefined ? await resolveCompute(g, c.devices.server, 'devices.server', ctx) : null;
  const chainDevices: ComputeResource[] = [];
  for (const [i, d] of (c.devices.chain ?? []).entries()) {
    const device = await resolveCompute(g, d, `devices.chain.${i}`, ctx);
    // a profile file alone has no memory figure (Infinity), and chain stages are placed by memory
    if (!Number.isFinite(device.memoryBytes)) throw new ImperaError('BAD_SCENARIO', `devices.chain.${i}: '${device.name}' has no memory size, which a chain needs to place its stages`, 'add like: CATALOG_ID (the catalog device with its memory) next to profile:');
    chainDevices.push(device);
  }
  const chainLinks = (c.links.chain ?? []).map((cfg, i) => resolveLink(cfg, { where: `links.chain.${i}`, baseDir: s.baseDir }));
  return { links, transport, edges, server, chainDevices, chainLinks };
}

/**
 * The scenario's data (null: none given), and the samples quality is measured on: that data, or without it the
 * built-in sample as probes for agreement with the full model (warned).
 */
function scenarioData(g: Graph, s: PlanScenario, warnings: string[]): { data: PlanData | null; evalData: PlanData } {
  const c = s.config;
  const given = c.data;
  const data = given ? planData(given.source, { baseDir: s.baseDir, samples: c.samples, ...(c.calibration ? { calibration: c.calibration } : {}), exits: !!c.explore.exits, options: scenarioDatasetOptions(s) }, warnings) : null;
  if (data) return { data, evalData: data };
  const probes = defaultData(modelInputs(g), tensor(g, g.outputs[0]!.name!).shape, "the scenario's data:");
  warnings.push(`no data given: quality is measured against the full model on the built-in sample images, and a classifier's accuracy is an estimate (${c.modelAccuracy !== undefined ? `the stated ${(100 * c.modelAccuracy).toFixed(1)} %` : 'relative to the full model, 100 %'} x each configuration's agreement with the full model)`);
  return { data, evalData: planData(probes, { baseDir: s.baseDir, samples: c.samples, exits: false }, []) };
}

/** The expensive, cached analyses and the candidate cuts they decide. */
interface PlanAnalyses {
  saliency: SaliencySummary | null;
  saliencySkipped: string | null;
  cuts: Cut[];
  /** Candidate cuts the cheap models ruled out before measuring (adaptive evaluation), and why. */
  ruledOut: PlanQuality['evaluation']['ruledOut'];
  quality: QualityAnalysis;
  /** Learned bottlenecks trained at the best-predicted cuts (scenario `bottleneck`), their figures inside `quality`. */
  learned: LearnedCodecs | null;
  exits: PlanContext['exits'];
}

interface AnalysisInputs {
  g: Graph;
  s: PlanScenario;
  data: PlanData | null;
  evalData: PlanData;
  allCuts: () => readonly Cut[];
  exitCuts: Cut[];
  cache: AnalysisCache;
  log: StepLog;
  onProgress: PlanOptions['onProgress'];
  /** Why saliency does not run (null: it runs). */
  saliencySkipped: string | null;
  /** How quality is measured (null: exhaustively). */
  adaptive: AdaptiveRule | null;
  /** The cheap models' bounds that rule cuts out before measuring (null: none apply). */
  bounds: BoundInputs | null;
  /** What tells a split outclassed by sending the input losslessly (null: no such remote placement is explored). */
  outclass: OutclassInputs | null;
}

/** Why the saliency pass does not run, or null when it does. */
function saliencySkipped(c: PlanScenario['config'], enabled = true): string | null {
  if (Array.isArray(c.explore.cuts)) return 'the scenario lists the cuts to explore (explore.cuts), so saliency peaks are not needed';
  if (!c.saliency) return 'the scenario says saliency: false';
  if (!enabled) {
    if (c.explore.cuts === 'peaks') throw new ImperaError('BAD_ARGUMENT', "explore.cuts 'peaks' needs saliency, which --no-saliency turns off", 'drop --no-saliency, or explore cuts: candidates');
    return 'planned with --no-saliency';
  }
  return c.data ? null : 'the scenario gives no data';
}

/** The scenario's `quality:` block as the task layer takes it, paths relative to the scenario. */
const taskOptions = (s: PlanScenario): TaskOptions => ({ ...s.config.quality, ...(s.config.quality?.module ? { baseDir: s.baseDir } : {}) }) as TaskOptions;

/** How the quality analysis runs for a scenario. */
const qualityOptions = (x: AnalysisInputs): QualityOptions => ({ inputs: x.s.config.devices.edge !== undefined && x.s.config.explore.placements.includes('remote'), task: taskOptions(x.s), adaptive: x.adaptive });

const maxQuality = (objective: PlanScenario['config']['objective']) => objective === 'max-quality' || objective === 'max-accuracy';

/**
 * The adaptive evaluation's stopping rule for a scenario (null: exhaustive): its QoS bound on quality, and the tie
 * tolerance where the objective ranks by quality (max-quality); other objectives may recommend any configuration
 * that meets the QoS, so there only the bound and dominance at a cut stop measuring. Without data quality is an
 * estimate (the stated accuracy x agreement): the bound is not in agreement's units, and the tolerance is widened to them.
 */
export function adaptiveRule(c: PlanScenario['config'], samples: number, hasData: boolean, exhaustive = false): AdaptiveRule | null {
  if (exhaustive || c.evaluation === 'exhaustive') return null;
  const q = c.qos.quality;
  const bound = c.qos.accuracy !== undefined ? { limit: c.qos.accuracy, bound: 'min' as const } : q?.min !== undefined ? { limit: q.min, bound: 'min' as const } : q?.max !== undefined ? { limit: q.max, bound: 'max' as const } : undefined;
  const tolerance = (c.qualityTolerance ?? c.accuracyTolerance ?? Math.max(0.005, 1 / Math.max(1, samples))) / (hasData ? 1 : (c.modelAccuracy ?? 1));
  return { tolerance: maxQuality(c.objective) ? tolerance : Infinity, tie: tolerance, ...(bound && hasData ? { bound } : {}) };
}

/** Saliency (with data), the candidate cuts, quality and bytes of cut x codec, and exits (with data and asked for). */
async function runAnalyses(x: AnalysisInputs): Promise<PlanAnalyses> {
  const { g, data, cache, log } = x;
  const c = x.s.config;
  const progress = (name: string) => (done: number, total: number) => x.onProgress?.(name, done, total);
  const skipped = x.saliencySkipped;
  const curve = data && !skipped ? await log.run('saliency (I-SPLIT)', () => saliencyAnalysis(g, data, cache, progress('saliency'))) : null;
  const ranking = data && curve && c.rank ? await log.run('bottleneck predictors', () => rankAnalysis(g, data, curve.curve.map((p) => p.layer), c.rank!, cache, progress('rank'))) : null;
  const saliency = curve && ranking ? { ...curve, ranking } : curve;
  const candidates = c.devices.edge !== undefined && c.explore.placements.includes('split') ? candidateCuts(g, c.explore.cuts, saliency, x.allCuts) : [];
  const ruledOut = x.bounds ? candidates.flatMap((cut) => ((reason) => (reason ? [{ index: cut.index, id: cut.id, reason }] : []))(cutRuledOut(cut, x.bounds!))) : [];
  const cuts = candidates.filter((cut) => !ruledOut.some((r) => r.id === cut.id));
  // the full model's quality is measured beside the last cut when no candidate is left to measure
  const fallback = singleTensorCuts(g).at(-1) ?? findCuts(g, { maxWidth: 3 }).at(-1);
  if (!fallback) throw new ImperaError('BAD_ARGUMENT', 'the model has no cut of up to 3 tensors to measure quality at', 'cut it by tensor names in explore.cuts ({tensors: [a, b, c, d]})');
  // the cache key leaves the outclassing out (it depends on links): what a decision under other links rests on is topped up
  const options = qualityOptions(x);
  if (options.adaptive && x.outclass) options.adaptive = { ...options.adaptive, outclassed: outclassedBy(cuts, x.outclass) };
  const measured = await log.run('quality and bytes of cut x codec', () => qualityAnalysis(g, cuts, fallback, c.explore.codecs, x.evalData, options, cache, (stage, d, t) => x.onProgress?.(`quality: ${stage}`, d, t)));
  const learned = c.bottleneck && data ? await log.run(`learned bottlenecks at the best ${c.bottleneck.train} predicted cuts`, () => learnedAnalysis(g, cuts, data, x.evalData, c.bottleneck!, options.task, cache, (stage, d, t) => x.onProgress?.(stage, d, t))) : null;
  const quality = learned ? { ...measured, codecs: [...measured.codecs, ...learned.figures] } : measured;
  if (!c.explore.exits || !data) return { saliency, saliencySkipped: skipped, cuts, ruledOut, quality, learned, exits: null };
  const e = c.explore.exits;
  if (quality.task.metric !== 'accuracy') throw new ImperaError('BAD_SCENARIO', `explore.exits: exits are trained and scored on class labels, but the task's metric is ${quality.task.label} (${quality.task.metric})`, 'remove explore.exits, or plan a classifier with labelled data');
  const analysis = await log.run('early exits (training, calibration)', () => exitAnalysis(g, data, { cuts: x.exitCuts, hidden: e.hidden, taus: e.taus, calibrate: e.calibrate, valSamples: e.valSamples, calSamples: e.calSamples, ...(e.trainSamples ? { trainSamples: e.trainSamples } : {}) }, cache, (phase, d, t) => x.onProgress?.(phase, d, t)));
  return { saliency, saliencySkipped: skipped, cuts, ruledOut, quality, learned, exits: { analysis, cuts: x.exitCuts } };
}

/** Bytes the server sends back per inference: every output of the model (a 640x640 float map is 1.6 MB). */
export const downlinkBytesOf = (g: Graph): number => g.outputs.reduce((s, o) => s + tensor(g, o.name!).bytes, 0);

/**
 * Whether quality figures are measured or, for a classifier without data, accuracy is estimated from agreement
 * with the full model (a classifier's labels on the built-in sample say nothing about the user's model).
 */
function qualityModeOf(c: PlanScenario['config'], measured: boolean, q: QualityAnalysis): { kind: 'measured' } | { kind: 'estimate'; scale: number } {
  if (measured || (q.task.metric !== 'accuracy' && c.modelAccuracy === undefined)) return { kind: 'measured' };
  if (q.full.predictions.length === 0) throw new ImperaError('BAD_SCENARIO', `modelAccuracy: the task's metric is ${q.task.label} (${q.task.metric}), and an accuracy estimate needs a classifier`, 'remove modelAccuracy, or give data:');
  return { kind: 'estimate', scale: c.modelAccuracy ?? 1 };
}

/** Every configuration with its analytic figures: chains of devices, then edge/server placements. */
function configurations(g: Graph, c: PlanScenario['config'], setup: PlanSetup, a: PlanAnalyses, full: PlanQualityFigure, radios: readonly Radio[]): PlanConfiguration[] {
  return [
    ...chainConfigurations(g, setup.chainDevices, setup.chainLinks, setup.transport, full),
    ...explore({
      g,
      cuts: a.cuts,
      edges: setup.edges,
      server: setup.server,
      links: setup.links,
      transport: setup.transport,
      workload: c.workload,
      workers: c.server.workers,
      codecs: [...c.explore.codecs, ...(a.learned?.codecs ?? [])],
      placements: c.explore.placements,
      quality: a.quality,
      qualityMode: qualityModeOf(c, full.source === 'measured', a.quality),
      exits: a.exits,
      radios,
      downlinkBytes: downlinkBytesOf(g),
    }),
  ];
}

/**
 * The finalists (the feasible configurations in the objective's order, else the fastest) through the
 * discrete-event simulation, their latency replaced by what it sees; returns how many were simulated. Chains keep
 * their analytic figures: the simulator models one device, its link and a server.
 */
function refineFinalists(g: Graph, configs: readonly PlanConfiguration[], feasible: readonly PlanConfiguration[], setup: PlanSetup, c: PlanScenario['config']): number {
  const simulable = (x: PlanConfiguration) => x.placement !== 'chain';
  const finalists = (feasible.length ? feasible : [...configs].sort((a, b) => a.latency.p95Ms - b.latency.p95Ms)).filter(simulable).slice(0, c.explore.finalists);
  const downlinkBytes = downlinkBytesOf(g);
  for (const f of finalists) {
    const link = setup.links.find((l) => l.name === f.link) ?? null;
    f.latency = refineLatency(f, { link: link?.link ?? null, transport: setup.transport, workload: c.workload, workers: c.server.workers, downlinkBytes, ...(c.qos.latency ? { deadlineMs: c.qos.latency.ms } : {}) });
  }
  return finalists.length;
}

/** The model as the result describes it. */
function modelSummary(g: Graph): PlanResult['model'] {
  const cost = modelCost(g);
  const input = [...g.inputShapes.values()][0]!;
  return { source: g.model.source, nodes: cost.nodes, macs: cost.macs, flops: cost.flops, params: cost.params, paramBytes: cost.paramBytes, inputShape: [...input.shape], outputs: g.outputs.map((x) => x.name!) };
}

/** Devices and links as the result describes them. */
function setupSummary(setup: PlanSetup, workload: PlanResult['setup']['workload']): PlanResult['setup'] {
  return { edge: setup.edges.map((e) => e.name).join(', '), server: setup.server?.name ?? null, chain: setup.chainDevices.map((d) => d.name), links: [...setup.links.map((l) => l.name), ...setup.chainLinks.map((l) => l.name)], workload };
}

/**
 * The remote placement's lossless input as a rival of every split (bounds.ts outclassedBy): the raw image, at the
 * most bytes of any sample measured; null without images (the float32 input tensors are no rival worth drawing).
 */
function outclassInputs(g: Graph, c: PlanScenario['config'], setup: PlanSetup, bounds: BoundInputs, data: PlanData): OutclassInputs | null {
  const { raster, preprocess } = data.test;
  if (!raster || !preprocess) return null;
  const referenceBytes = Math.max(...Array.from({ length: data.samples }, (_, i) => raster(i).pixels.length));
  return { ...bounds, links: setup.links, transport: setup.transport, workers: c.server.workers, devices: c.workload.devices, downlinkBytes: downlinkBytesOf(g), referenceBytes };
}

/**
 * The splits the input sent losslessly outclasses (recommend.ts `outclass`), each against the raw image sent on its
 * own edge device and link, with the decision's tie tolerance (what the adaptive screen used, in the figures' units).
 */
function markOutclassed(configs: readonly PlanConfiguration[], beaten: (cutId: string, bytes: number) => boolean, qos: Qos, tolerance: number): void {
  const rivals = configs.filter((x) => x.placement === 'remote' && x.codec.startsWith('raw image'));
  for (const rival of rivals) {
    const mine = configs.filter((x) => x.placement === 'split' && x.devices[0] === rival.devices[0] && x.link === rival.link);
    outclass(mine, rival, qos, tolerance, (x) => beaten(x.cuts[0]!.id, x.bytes));
  }
}

/** Rounds of measuring stopped finalists on every sample before the plan settles for what it has. */
const MAX_TOP_UPS = 3;

/** The quality analysis with the cut x codec of `configs` measured on every sample. */
function topUp(x: AnalysisInputs, a: PlanAnalyses, configs: readonly PlanConfiguration[]): Promise<{ value: QualityAnalysis; cached: boolean }> {
  const arms = [...new Map(configs.map((k) => [`${k.cuts[0]!.id}|${k.codec}`, { cut: a.cuts.find((cut) => cut.id === k.cuts[0]!.id)!, codec: k.codec }])).values()];
  return topUpAnalysis(x.g, a.quality, arms, { cuts: a.cuts, codecs: x.s.config.explore.codecs }, x.evalData, qualityOptions(x), x.cache, (stage, d, t) => x.onProgress?.(`finalists: ${stage}`, d, t));
}

export async function plan(s: PlanScenario, o: PlanOptions = {}): Promise<{ result: PlanResult; context: PlanContext }> {
  const started = performance.now();
  const c = s.config;
  const log = stepLog();
  const warnings: string[] = [];
  const skipped = saliencySkipped(c, o.saliency);
  const cache = analysisCache(o.cache !== false, o.cacheDir);
  if (c.bottleneck && !c.data) throw new ImperaError('BAD_SCENARIO', 'bottleneck: training a bottleneck needs images, and the scenario gives no data', 'add data: (a folder, an .npz file or a named dataset), or remove bottleneck:');

  const g = await log.run('analyse the model', async () => ({ value: await scenarioGraph(s), cached: false }));
  warnings.push(...g.warnings);
  const catalog = loadCatalog(o.catalogFiles ?? []);
  const setup = await resolveSetup(g, s, { catalog, baseDir: s.baseDir, cache, onStep: log.record });
  // every cut as `impera inspect` lists them, enumerated once if a step needs it
  let listed: Cut[] | undefined;
  const allCuts = () => (listed ??= findCuts(g));
  const exitCuts = (c.explore.exits?.at ?? []).map((a, i) => scenarioCut(g, allCuts(), a, `explore.exits.at.${i}`));
  const { data, evalData } = scenarioData(g, s, warnings);
  const adaptive = adaptiveRule(c, evalData.samples, data !== null, o.exhaustive);
  // exits answer some frames before the head ends, so the head's bounds hold only without them; cuts the scenario lists are all shown
  const cheap = setup.server && !c.explore.exits && !Array.isArray(c.explore.cuts) ? { edges: setup.edges, server: setup.server, nodes: new Set(runtimeNodes(g)), qos: c.qos, fps: c.workload.fps } : null;
  // outclassing is a rule of the decision, so exhaustive evaluation applies it too; ruling cuts out is adaptive's
  const outclass = cheap && c.explore.placements.includes('remote') ? outclassInputs(g, c, setup, cheap, evalData) : null;
  const inputs: AnalysisInputs = { g, s, data, evalData, allCuts, exitCuts, cache, log, onProgress: o.onProgress, saliencySkipped: skipped, adaptive, bounds: adaptive ? cheap : null, outclass };
  const analyses = await runAnalyses(inputs);

  let quality: PlanQuality;
  let configs: PlanConfiguration[];
  let decision: Decision;
  let qos: Qos;
  let tolerance: number;
  for (let topUps = 0; ; topUps++) {
    const t0 = performance.now();
    quality = planQuality(analyses.quality, qualityModeOf(c, data !== null, analyses.quality), inputs.adaptive, analyses.ruledOut);
    qos = { ...c.qos, quality: qualityConstraint(c.qos, quality) };
    configs = configurations(g, c, setup, analyses, quality.full, catalog.radios);
    tolerance = c.qualityTolerance ?? c.accuracyTolerance ?? (quality.metric === 'accuracy' || analyses.quality.full.predictions.length ? Math.max(0.005, 1 / Math.max(1, quality.samples)) : 0);
    if (outclass) markOutclassed(configs, outclassedBy(analyses.cuts, outclass), qos, tolerance);
    decision = decide(configs, qos, c.objective, c.workload.fps, tolerance);
    log.record(`explore ${configs.length} configurations`, (performance.now() - t0) / 1000, false);

    const t1 = performance.now();
    const simulated = refineFinalists(g, configs, decision.feasible, setup, c);
    decision = decide(configs, qos, c.objective, c.workload.fps, tolerance);
    log.record(`simulate ${simulated} finalists (DES)`, (performance.now() - t1) / 1000, false);
    // what the decision rests on gets every sample; a new decision may rest on others (a few rounds at most)
    const stopped = stoppedFinalists(decision, configs, c.explore.finalists, c.qos.latency?.at ?? 'p95');
    if (!stopped.length || topUps === MAX_TOP_UPS) break;
    analyses.quality = await log.run(`measure ${stopped.length} finalists on every sample`, () => topUp(inputs, analyses, stopped));
  }

  const { edges, server, links, transport } = setup;
  const dads = server && edges[0] && links[0] ? dadsComparison(g, edges[0], server, links[0], transport, allCuts()) : null;
  const { cuts, exits } = analyses;
  const result: PlanResult = {
    format: 'impera-plan/1',
    createdAt: new Date().toISOString(),
    scenario: { name: s.name, file: s.file, qos: planQos(qos), objective: c.objective },
    model: modelSummary(g),
    setup: setupSummary(setup, c.workload),
    cuts: cuts.map(cutSummary),
    saliency: analyses.saliency,
    ...(analyses.learned ? { bottlenecks: analyses.learned.trained } : {}),
    ...(analyses.saliencySkipped ? { saliencySkipped: analyses.saliencySkipped } : {}),
    quality,
    rateQuality: quality.source === 'measured' ? analyses.quality.codecs.map((x) => ({ cut: x.cut, codec: x.codec, bytes: x.bytesMean, quality: x.quality.value, samples: x.quality.samples, stopped: x.stopped })) : [],
    configurations: configs,
    feasible: decision.feasible.map((x) => x.id),
    pareto: decision.pareto.map((x) => x.id),
    recommendation: decision.recommendation,
    nearestMiss: decision.nearestMiss,
    dads,
    timings: { totalS: (performance.now() - started) / 1000, steps: log.steps },
    warnings,
  };
  const switching = switchingPlan(result, { tolerance });
  if (switching) result.switching = switching;
  return { result, context: { g, cuts, exits, data } };
}

const meanTransferMs = (link: Link, transport: Transport) => {
  const memo = new Map<number, number>();
  return (bytes: number) => memo.get(bytes) ?? memo.set(bytes, transferStats(pathOf(link, 'up'), transport, Math.max(1, Math.round(bytes)), { samples: 200 }).time.mean).get(bytes)!;
};

/** The plan's metric, the data it was measured on, and the full model's figure (an estimate's: the stated accuracy). */
function planQuality(q: QualityAnalysis, mode: ReturnType<typeof qualityModeOf>, adaptive: AdaptiveRule | null, ruledOut: PlanQuality['evaluation']['ruledOut']): PlanQuality {
  const full: PlanQualityFigure = mode.kind === 'measured' ? { ...q.full.quality, source: 'measured' } : { metric: 'accuracy', label: q.full.quality.label, better: 'higher', value: mode.scale, source: 'estimate' };
  const reason = mode.kind === 'measured' ? q.task.reason : `estimated: no data given, so the stated accuracy x agreement with the full model on ${q.dataset}`;
  const stopped: Partial<Record<StopReason, number>> = {};
  for (const x of q.codecs) if (x.stopped) stopped[x.stopped] = (stopped[x.stopped] ?? 0) + 1;
  const evaluation = { mode: adaptive ? ('adaptive' as const) : ('exhaustive' as const), measured: q.codecs.length, full: q.codecs.filter((x) => !x.stopped).length, stopped, ruledOut };
  return { metric: full.metric, label: full.label, better: full.better, reason, data: q.dataset, samples: q.samples, source: mode.kind, evaluation, full };
}

/**
 * A chain of edge devices (METHODS.md §7): the latency-optimal and the throughput-optimal partition by exact
 * dynamic programming over the single-tensor cuts, float32 tensors between devices (the model's own quality).
 */
function chainConfigurations(g: Graph, devices: readonly ComputeResource[], links: readonly Link[], transport: Transport, full: PlanQualityFigure): PlanConfiguration[] {
  if (devices.length === 0) return [];
  const problem: ChainProblem = {
    graph: g,
    devices: devices.map((d) => ({ name: d.name, ms: (nodes) => d.ms(nodes), memoryBytes: d.memoryBytes })),
    links: links.map((l) => ({ name: l.name, ms: meanTransferMs(l, transport) })),
  };
  return (['latency', 'throughput'] as const).map((objective) => {
    const p = planChain(problem, objective);
    const computeMs = p.stages.reduce((s, x) => s + x.ms, 0);
    const transferMs = p.hops.reduce((s, x) => s + x.ms, 0);
    const used = p.stages.filter((x) => x.role !== 'idle');
    return {
      id: `chain (${objective}-optimal): ${used.map((x, i) => `${x.device}${p.cuts[i] ? ` [#${p.cuts[i]!.index}]` : ''}`).join(' -> ')}`,
      placement: 'chain' as const,
      link: null,
      cuts: p.cuts.map((x) => ({ index: x.index, id: x.id })),
      devices: used.map((x) => x.device),
      codec: 'fp32',
      exits: null,
      latency: { meanMs: p.latencyMs, p50Ms: p.latencyMs, p95Ms: p.latencyMs, p99Ms: p.latencyMs, source: 'analytic' as const, breakdown: { deviceMs: computeMs, transferMs, serverMs: 0, queueMs: 0 } },
      quality: full,
      bytes: p.hops.reduce((s, x) => s + x.bytes, 0),
      downlinkBytes: 0,
      energyJ: null,
      edgeMemoryBytes: Math.max(...used.map((x) => x.memoryBytes)),
      throughputFps: p.throughputFps,
      checks: [],
      feasible: true,
    };
  });
}

/** DADS's min-cut partition against the best of `cuts`, on additive node costs (float32 tensors). */
function dadsComparison(g: Graph, edge: ComputeResource, server: ComputeResource, link: NamedLink, transport: Transport, cuts: readonly Cut[]): PlanResult['dads'] {
  const costs: EdgeCloudCosts = { edgeMs: (n) => edge.ms([n]), cloudMs: (n) => server.ms([n]), transferMs: transferFromBytes(g, meanTransferMs(link.link, transport)) };
  const d = dadsPartition(g, costs);
  const best = bestEnumeratedCut(g, costs, cuts);
  return { latencyMs: d.latencyMs, tensors: d.tensors, edgeNodes: d.edgeNodes.length, placement: d.placement, bestCut: { id: best.cut?.id ?? best.placement, latencyMs: best.latencyMs } };
}

function planQos(q: Qos): PlanQos {
  const limit = (v: number | undefined) => (v === undefined ? {} : { limit: v });
  const entries: [keyof PlanQos, object][] = [
    ['latency', q.latency ? { limit: q.latency.ms, at: q.latency.at } : {}],
    ['quality', q.quality ?? {}],
    ['edgeMemory', limit(q.edgeMemoryMB === undefined ? undefined : q.edgeMemoryMB * 1e6)],
    ['energy', limit(q.energyJ)],
    ['bytes', limit(q.bytes)],
    ['throughput', limit(q.throughputFps)],
  ];
  return Object.fromEntries(entries.filter(([, v]) => 'limit' in v)) as PlanQos;
}
