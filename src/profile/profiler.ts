/**
 * Measuring a model's parts on this machine with ONNX Runtime, and predicting each from its nodes.
 *
 * Per batch size: small probe models measure the standalone times of fused ops and the cost of a part's edges;
 * then the full model, the head and tail of every requested cut and every requested k-stage partition are timed
 * until their medians are stable, each in a window of its own in which a copy of the full model runs under ORT's
 * profiler (per-kernel times, mapped back to ONNX nodes) and the edge probes run too. Every part gets its
 * sum-of-nodes prediction from its own window, so the profile shows how well the cheap prediction does.
 */
import { availableParallelism, cpus, hostname, platform, arch, release, totalmem } from 'node:os';
import { findCuts, resolveCut } from '../cuts/cuts.js';
import { ImperaError } from '../errors.js';
import { modelInputs, type Dataset } from '../data/dataset.js';
import { DEFAULT_SAMPLES, sampleFeeds } from '../data/samples.js';
import { splitModel } from '../export/split.js';
import { batchAxis, runtimeNodes, type Graph } from '../graph/graph.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, ort, run, type Feeds } from '../ort/session.js';
import { attributeKernels, shareFusedTime, type NodeTime, type OptimizedNode } from './attribute.js';
import { modelInfo, PROFILE_FORMAT, type BoundaryCost, type BoundaryTiming, type NodeTiming, type PartTiming, type Profile } from './profile-file.js';
import { TracedSession } from './kernels.js';
import { machinePeaks } from './machine.js';
import { kernelTimes, type Trace } from './trace.js';
import { measureAlternating, measureFor, type MeasureOptions, type Task } from './measure.js';
import { partPredictor, type PartPrediction } from './predict.js';
import { BoundaryProbe, standaloneTimes } from './probes.js';
import { median } from '../util/stats.js';
import { timingStats } from './timing-stats.js';

export interface ProfileOptions {
  /** Intra-op threads for every session. */
  threads: number;
  /** Cuts (index or tensor names, as `impera inspect` lists them) whose head and tail to time. */
  cuts: readonly string[];
  /** k-stage partitions, each a list of cuts in increasing depth. */
  stages: readonly (readonly string[])[];
  measure?: Partial<MeasureOptions>;
  onProgress?: (step: string) => void;
  /** Inputs to time on (default: data/samples.ts's samples for the model). */
  data?: Dataset;
}

/** One batch of inputs: the first samples of `data` (repeated when it has fewer), else the default samples. */
function timingFeeds(g: Graph, data: Dataset | undefined, batch: number): Feeds {
  if (!data) return sampleFeeds(g.inputShapes, batch, (name) => batchAxis(g, name)).feeds;
  return data.feeds(Array.from({ length: batch }, (_, i) => i % data.size), modelInputs(g));
}

/** Progress steps profileModel reports for these options and graphs. */
export const profileSteps = (graphs: readonly Graph[], o: Pick<ProfileOptions, 'cuts' | 'stages'>): number => graphs.length * (2 + o.cuts.length + o.stages.length);

/** Profile a model at each graph's batch size (analyse it at batch 1 and at the chosen batch). */
export async function profileModel(graphs: readonly Graph[], o: ProfileOptions): Promise<Profile> {
  // 0 would leave ORT its default (a thread per core) while the profile and the measurement settings assume 0
  if (!Number.isInteger(o.threads) || o.threads <= 0) throw new ImperaError('BAD_ARGUMENT', `threads must be a positive integer, got ${o.threads}`, 'pass the intra-op threads per ONNX Runtime session, e.g. 1');
  const g0 = graphs[0]!;
  const nodes: NodeTiming[] = [];
  const parts: PartTiming[] = [];
  const boundaries: BoundaryTiming[] = [];
  const blocked = new Set<string>();
  const traceScale: { batch: number; factor: number }[] = [];
  for (const g of graphs) {
    const batch = g.batch?.size ?? 1;
    const measured = await profileBatch(g, o);
    nodes.push(...measured.nodes.map((n) => (graphs.length > 1 ? { ...n, batch } : n)));
    boundaries.push(...measured.boundaries.map((b) => ({ ...b, batch })));
    for (const t of measured.blocked) blocked.add(t);
    parts.push(...measured.parts);
    traceScale.push({ batch, factor: measured.factor });
  }
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const peaks = await machinePeaks(o.threads);
  return {
    format: PROFILE_FORMAT,
    createdAt: new Date().toISOString(),
    model: modelInfo(g0),
    device: {
      kind: 'measured',
      name: hostname(),
      description: `${cpu}, ${o.threads} thread${o.threads > 1 ? 's' : ''}`,
      machine: { cpu, logicalCpus: availableParallelism(), memoryBytes: totalmem(), platform: `${platform()} ${arch()} ${release()}`, ...peaks },
    },
    runtime: { engine: 'onnxruntime-node', version: ort.env.versions.node ?? 'unknown', executionProvider: 'cpu', threads: o.threads, graphOptimization: 'all' },
    batch: graphs[graphs.length - 1]!.batch?.size ?? 1,
    data: o.data?.name ?? `default samples (${DEFAULT_SAMPLES})`,
    nodes,
    parts,
    boundaries,
    blockedTensors: [...blocked],
    traceScale,
  };
}

interface BatchResult {
  nodes: NodeTiming[];
  parts: PartTiming[];
  boundaries: BoundaryCost[];
  blocked: string[];
  /** Scale applied to the trace's kernel times (see the profile's traceScale). */
  factor: number;
}

/** A part measured in one window of runs of the traced full model. */
interface Timed {
  kind: PartTiming['kind'];
  cut: string | null;
  stage?: number;
  nodes: ReadonlySet<number>;
  samples: number[];
  window: Window;
}

/** Runs [from, to) of the traced session made while a chain was timed, and the boundary probes' runs meanwhile. */
interface Window {
  from: number;
  to: number;
  probeMs: Map<string, number[]>;
}

const shapeKey = (shape: readonly number[]) => shape.join('x');

/**
 * A window is clean when no timed task's median exceeds its fastest run by more than CLEAN_SPREAD, and the traced
 * full model ran within CLEAN_LOAD of its quietest window: other processes competing for the cores show as a
 * wide spread, or as slower runs (the time goes between kernels; kernel durations hardly change). Unclean
 * windows are measured again (MAX_ATTEMPTS attempts in all) and the cleanest is kept.
 */
const CLEAN_SPREAD = 1.15;
const CLEAN_LOAD = 1.1;
const MAX_ATTEMPTS = 3;

/**
 * The least scale applied to traced kernel times. Tracing inflates microsecond kernels up to about 3x (tiny
 * models scale at 0.3-0.4 under load), and on such a model the edge probe's cost is half of a run: when the
 * probe ran slow, it can claim the whole run and leave the kernels nothing, or less. Their time is never zero.
 */
const MIN_TRACE_SCALE = 0.1;

/** The scale on traced kernel times that makes the full model's prediction (unscaled nodes + edges) its measured median. */
export function traceScaleFor(measuredMs: number, unscaled: Pick<PartPrediction, 'nodesMs' | 'boundaryMs'>): number {
  return Math.max(MIN_TRACE_SCALE, (measuredMs - unscaled.boundaryMs) / unscaled.nodesMs);
}

/** What profileBatch measures: the windows, then the trace. */
interface Measured {
  timed: Timed[];
  trace: Trace;
  optimized: OptimizedNode[];
  blocked: string[];
  standalone: Map<number, number>;
  probes: Map<string, BoundaryProbe>;
  /** Nodes ORT's kernels are attributed to (anchors of fused groups included once). */
  kernelNodes: Set<number>;
}

async function profileBatch(g: Graph, o: ProfileOptions): Promise<BatchResult> {
  const batch = g.batch?.size ?? 1;
  const m = await measureBatch(g, o);
  const { trace, timed } = m;
  const warmup = { ...measureFor(o.threads), ...o.measure }.warmup;
  const probeMs = (key: string, window?: Window) => window?.probeMs.get(key) ?? timed.flatMap((t) => t.window.probeMs.get(key) ?? []);
  const boundariesIn = (window?: Window) => [...m.probes].map(([key, p]) => p.cost(probeMs(key, window)));
  const nodesOf = (from: number, to: number, factor: number) =>
    shareFusedTime(attributeKernels(g, m.optimized, kernelTimes(trace, from, to)).nodes, m.standalone).map((n) => nodeTiming(n, factor));
  const predictorOf = (window: Window, factor: number) =>
    partPredictor(g, { batch, nodes: nodesOf(window.from, window.to, factor), boundaries: boundariesIn(window).map((b) => ({ ...b, batch })), blockedTensors: m.blocked });
  // Profiling itself slows some kernels a little: scale node times so the full model's prediction matches its
  // (unprofiled) run in the same window.
  const full = timed[0]!;
  const unscaled = predictorOf(full.window, 1)(full.nodes);
  const factor = traceScaleFor(median(full.samples), unscaled);
  // Under load a run takes longer between its kernels (kernel durations hardly change). The traced runs' time
  // outside their kernels beyond that of the full model's window is the window's load; a part gets its share of
  // it, by kernels or by time, whichever is smaller (a short part is rarely interrupted at all, so neither share
  // may exceed what the full model suffered per kernel or per millisecond).
  const kernelSum = (w: Window) => kernelTimes(trace, w.from, w.to).reduce((s, k) => s + k.ms, 0);
  const extra = (w: Window) => Math.max(0, median(trace.runMs.slice(w.from, w.to)) - kernelSum(w) - (median(trace.runMs.slice(full.window.from, full.window.to)) - kernelSum(full.window)));
  const kernelsOf = (nodes: ReadonlySet<number>) => [...nodes].filter((i) => m.kernelNodes.has(i)).length;
  const predictors = new Map<Window, ReturnType<typeof partPredictor>>();
  const parts = timed.map((t): PartTiming => {
    if (!predictors.has(t.window)) predictors.set(t.window, predictorOf(t.window, factor));
    const p = predictors.get(t.window)!(t.nodes);
    const e = extra(t.window);
    const load = Math.min((e * kernelsOf(t.nodes)) / m.kernelNodes.size, (e * p.nodesMs) / kernelSum(t.window));
    return { kind: t.kind, cut: t.cut, ...(t.stage !== undefined ? { stage: t.stage } : {}), batch, measured: timingStats(t.samples), predictedMs: p.ms + load, boundaryMs: p.boundaryMs };
  });
  return { nodes: nodesOf(warmup, trace.runs.length, factor), parts, boundaries: boundariesIn(), blocked: m.blocked, factor };
}

/** Probe, then time the full model, every cut's head and tail and every staging, each in its own window. */
async function measureBatch(g: Graph, o: ProfileOptions): Promise<Measured> {
  const batch = g.batch?.size ?? 1;
  const progress = o.onProgress ?? (() => {});
  const measure = { ...measureFor(o.threads), ...o.measure };
  const feeds = timingFeeds(g, o.data, batch);
  const all = findCuts(g);
  const cuts = o.cuts.map((spec) => resolveCut(g, all, spec));
  const stagings = o.stages.map((specs) => specs.map((spec) => resolveCut(g, all, spec)));
  const graphOutputs = g.outputs.map((v) => v.name!);
  const shapeOf = (t: string) => [...g.tensors.get(t)!.shape];

  const traced = await TracedSession.open(g.proto, g.model.dir, feeds, { threads: o.threads, optimizedGraph: true });
  const probes = new Map<string, BoundaryProbe>();
  const timed: Timed[] = [];
  let standalone = new Map<number, number>();
  let blocked: string[] = [];
  let kernelNodes = new Set<number>();
  let quietest = Infinity;
  let trace: Trace;
  try {
    // Fusions and layouts are known from the optimised graph before any run.
    const layout = attributeKernels(g, traced.optimized!, []);
    blocked = layout.blocked;
    kernelNodes = new Set(layout.nodes.filter((n) => n.fusedInto === undefined).map((n) => n.index));
    standalone = await standaloneTimes(g, layout.nodes.filter((n) => n.fusedInto !== undefined).map((n) => n.index), o.threads);
    for (const t of [...[...cuts, ...stagings.flat()].flatMap((c) => c.tensors), ...graphOutputs]) {
      if (!probes.has(shapeKey(shapeOf(t)))) probes.set(shapeKey(shapeOf(t)), await BoundaryProbe.open(shapeOf(t), o.threads));
    }
    progress(`batch ${batch}: probes`);

    // Every measurement alternates with runs of the traced full model and of the probes for the tensors at its
    // edges, so node times, edge costs and part times are taken under the same load; each part is predicted from
    // the kernel times and edge costs of its own window.
    const time = (chain: readonly ChainModel[], edgeTensors: readonly string[]) =>
      withChain(g, chain, feeds, o.threads, async (runs) => {
        const edges = [...new Set([...edgeTensors, ...graphOutputs].map((t) => shapeKey(shapeOf(t))))];
        const alongside: Task[] = [{ run: () => traced.run(), block: 2, auxiliary: true }, ...edges.map((k) => ({ run: probes.get(k)!.run, block: 3, auxiliary: true as const }))];
        let best: { badness: number; samples: number[][]; window: Window } | undefined;
        for (let attempt = 0; attempt < MAX_ATTEMPTS && !(best && best.badness <= 1); attempt++) {
          const from = traced.runs;
          const samples = await measureAlternating([...alongside, ...runs], measure);
          const parts = samples.slice(alongside.length);
          const tracedMs = median(samples[0]!);
          quietest = Math.min(quietest, tracedMs);
          const spread = Math.max(...[samples[0]!, ...parts].map((x) => median(x) / Math.min(...x)));
          const badness = Math.max(spread / CLEAN_SPREAD, tracedMs / quietest / CLEAN_LOAD);
          if (!best || badness < best.badness) best = { badness, samples: parts, window: { from, to: traced.runs, probeMs: new Map(edges.map((k, i) => [k, samples[i + 1]!])) } };
        }
        return best!;
      });
    const full = await time([{ proto: g.proto, inputs: [...g.inputShapes.keys()] }], []);
    timed.push({ kind: 'full', cut: null, nodes: new Set(runtimeNodes(g)), samples: full.samples[0]!, window: full.window });
    progress(`batch ${batch}: full model`);
    for (const cut of cuts) {
      const split = splitModel(g, [cut]);
      const { samples, window } = await time(split.parts, cut.tensors);
      timed.push({ kind: 'head', cut: cut.id, nodes: split.stages[0]!.nodes, samples: samples[0]!, window }, { kind: 'tail', cut: cut.id, nodes: split.stages[1]!.nodes, samples: samples[1]!, window });
      progress(`batch ${batch}: cut ${cut.id}`);
    }
    for (const staging of stagings) {
      const split = splitModel(g, staging);
      const { samples, window } = await time(split.parts, staging.flatMap((c) => c.tensors));
      const id = staging.map((c) => c.id).join(',');
      samples.forEach((s, stage) => timed.push({ kind: 'stage', cut: id, stage, nodes: split.stages[stage]!.nodes, samples: s, window }));
      progress(`batch ${batch}: stages ${id}`);
    }
  } finally {
    for (const p of probes.values()) await p.release();
    trace = await traced.finish();
  }
  return { timed, trace, optimized: traced.optimized!, blocked, standalone, probes, kernelNodes };
}

function nodeTiming(n: NodeTime, factor: number): NodeTiming {
  return { name: n.name, opType: n.opType, ms: n.ms * factor, index: n.index, ...(n.fusedInto !== undefined ? { fusedInto: n.fusedInto } : {}), ...(n.kernels.length ? { kernels: n.kernels } : {}) };
}

type ChainModel = { proto: Graph['proto']; inputs: readonly string[] };

/**
 * Run `use` with sessions for a chain of models where each reads graph inputs and what earlier ones returned
 * (head then tail, or k stages); each model gets real inputs from one pass through the chain.
 */
async function withChain<T>(g: Graph, chain: readonly ChainModel[], feeds: Feeds, threads: number, use: (runs: (() => Promise<unknown>)[]) => Promise<T>): Promise<T> {
  const sessions: Awaited<ReturnType<typeof createSession>>[] = [];
  try {
    for (const m of chain) sessions.push(await createSession(m.proto, g.model.dir, { threads }));
    const env: Record<string, Tensor> = { ...feeds };
    const inputs: Feeds[] = [];
    for (const [i, m] of chain.entries()) {
      const own = Object.fromEntries(m.inputs.map((n) => [n, env[n]!]));
      inputs.push(own);
      Object.assign(env, await run(sessions[i]!, own));
    }
    return await use(sessions.map((s, i) => () => run(s, inputs[i]!)));
  } finally {
    for (const s of sessions) await s.release();
  }
}
