/**
 * Design-space exploration: every placement (all on the edge, all on the server, split at each candidate cut) x
 * codec x exit policy x edge device x link becomes a configuration with its latency (analytic: compute from the
 * profiles, transfers drawn from the link models of net/, mixed over the paths frames take when exits let some
 * leave early; the model's outputs come back over the downlink), quality under the task's metric (measured, or
 * for a classifier without data an estimate), bytes up and down, edge energy and memory, and sustainable throughput. Everything here is cheap given the cached analyses: this is what re-runs when only a
 * link, the workload or the QoS changes.
 */
import { stretches, type Cut } from '../cuts/cuts.js';
import { modelCost } from '../cost/part.js';
import type { Radio } from '../devices/catalog.js';
import { computeEnergyJ, radioEnergyJ } from '../devices/energy.js';
import { runtimeNodes, type Graph } from '../graph/graph.js';
import type { Link } from '../net/link.js';
import { pathOf } from '../net/path.js';
import { mean, quantileSorted as quantile } from '../util/stats.js';
import { drawTransfers, type Transport } from '../net/transfer.js';
import { combineExits, type ExitAnalysis, type QualityAnalysis } from './analyses.js';
import type { ComputeResource } from '../devices/resolve.js';
import type { QualityFigure } from '../task/types.js';
import type { ConfigurationExits, LatencyFigures, PlanConfiguration, PlanQualityFigure } from './types.js';

export interface NamedLink {
  name: string;
  link: Link;
}

export interface ExploreInputs {
  g: Graph;
  /** Candidate cuts (single tensors, depth order). */
  cuts: readonly Cut[];
  edges: readonly ComputeResource[];
  server: ComputeResource | null;
  links: readonly NamedLink[];
  transport: Transport;
  workload: { fps: number; devices: number };
  workers: number;
  codecs: readonly string[];
  placements: readonly ('local' | 'remote' | 'split')[];
  quality: QualityAnalysis;
  /** Quality is measured, or (a classifier without data) accuracy is estimated as `scale` x agreement with the full model. */
  qualityMode: { kind: 'measured' } | { kind: 'estimate'; scale: number };
  exits: { analysis: ExitAnalysis; cuts: readonly Cut[] } | null;
  radios: readonly Radio[];
  /** Bytes of the model's outputs sent back to the device per offloaded inference. */
  downlinkBytes: number;
}

/** A way a frame goes: its device time, bytes up (0: answered on the device), server time, and its share. */
interface FramePath {
  deviceMs: number;
  upBytes: number;
  serverMs: number;
  share: number;
}

const SAMPLES = 1000;

/** Transfer-time draws per link and size, drawn once per exploration (sizes repeat across devices and exits). */
function transferDraws(transport: Transport, periodMs: number) {
  const memo = new Map<string, { sorted: Float64Array; mean: number; busyMs: number }>();
  return (link: NamedLink, direction: 'up' | 'down', bytes: number) => {
    const key = `${link.name}|${direction}|${Math.round(bytes)}`;
    let hit = memo.get(key);
    if (!hit) {
      const { lossless, draws } = drawTransfers(pathOf(link.link, direction), transport, Math.max(1, Math.round(bytes)), { samples: SAMPLES, seed: 7, periodMs });
      const times = Float64Array.from(draws.filter((d) => !d.frameLost), (d) => d.endMs);
      times.sort();
      hit = { sorted: times.length ? times : Float64Array.of(lossless.endMs), mean: times.length ? mean(times) : lossless.endMs, busyMs: lossless.busyMs };
      memo.set(key, hit);
    }
    return hit;
  };
}

type Draws = ReturnType<typeof transferDraws>;

/** Latency figures of a mixture of paths: mean exact, percentiles from stratified samples of each path. */
function latencyOf(paths: readonly FramePath[], link: NamedLink | null, draws: Draws, downlinkBytes: number): LatencyFigures {
  const samples: number[] = [];
  let mean = 0;
  const breakdown = { deviceMs: 0, transferMs: 0, serverMs: 0, queueMs: 0 };
  for (const p of paths) {
    if (p.share <= 0) continue;
    const n = Math.max(1, Math.round(p.share * SAMPLES));
    if (p.upBytes <= 0 || !link) {
      mean += p.share * p.deviceMs;
      breakdown.deviceMs += p.share * p.deviceMs;
      for (let i = 0; i < n; i++) samples.push(p.deviceMs);
      continue;
    }
    const up = draws(link, 'up', p.upBytes);
    const down = draws(link, 'down', downlinkBytes);
    mean += p.share * (p.deviceMs + up.mean + p.serverMs + down.mean);
    breakdown.deviceMs += p.share * p.deviceMs;
    breakdown.transferMs += p.share * (up.mean + down.mean);
    breakdown.serverMs += p.share * p.serverMs;
    for (let i = 0; i < n; i++) {
      const q = (i + 0.5) / n;
      samples.push(p.deviceMs + quantile(up.sorted, q) + p.serverMs + quantile(down.sorted, q));
    }
  }
  const sorted = Float64Array.from(samples).sort();
  return { meanMs: mean, p50Ms: quantile(sorted, 0.5), p95Ms: quantile(sorted, 0.95), p99Ms: quantile(sorted, 0.99), source: 'analytic', breakdown };
}

/** Frames per second one device's stream can sustain: the slowest of its device, its uplink, its downlink and its share of the server. */
function throughputOf(paths: readonly FramePath[], link: NamedLink | null, draws: Draws, workers: number, devices: number, downlinkBytes: number): number {
  const device = paths.reduce((s, p) => s + p.share * p.deviceMs, 0);
  const uplink = link ? paths.reduce((s, p) => s + (p.upBytes > 0 ? p.share * draws(link, 'up', p.upBytes).busyMs : 0), 0) : 0;
  const downlink = link ? offloadedShare(paths) * draws(link, 'down', downlinkBytes).busyMs : 0;
  const server = paths.reduce((s, p) => s + p.share * p.serverMs, 0) * devices / workers;
  const slowest = Math.max(device, uplink, downlink, server);
  return slowest > 0 ? 1000 / slowest : Infinity;
}

const radioFor = (link: NamedLink, radios: readonly Radio[]): Radio | null => {
  const id = /lte|3g|5g/i.test(link.name) ? 'lte' : /wifi|802\.11/i.test(link.name) ? 'wifi' : null;
  return id ? (radios.find((r) => r.id === id) ?? null) : null;
};

function energyOf(edge: ComputeResource, link: NamedLink | null, radios: readonly Radio[], deviceMs: number, bytes: number): number | null {
  if (!edge.device?.power) return null;
  const radio = link ? radioFor(link, radios) : null;
  return computeEnergyJ(edge.device, deviceMs) + (radio && bytes > 0 ? radioEnergyJ(radio, bytes, link!.link.up.meanMbps) : 0);
}

interface ExitChoice {
  tauIndex: number;
  /** Exits on the device (a prefix of the exits in depth order). */
  active: number;
}

/** What every configuration of one exploration shares, computed once. */
interface Exploration {
  x: ExploreInputs;
  draws: Draws;
  /** The model's runtime nodes and cost. */
  all: Set<number>;
  model: ReturnType<typeof modelCost>;
  exitCuts: readonly Cut[];
  /** Node stretches between consecutive exits: the device's time up to each exit. */
  exitStretches: number[][];
}

/** Share of frames sent to the server (each gets the model's outputs back). */
const offloadedShare = (paths: readonly FramePath[]) => paths.reduce((s, p) => s + (p.upBytes > 0 ? p.share : 0), 0);

/** A measured figure as is, or the estimate: the stated accuracy x agreement with the full model. */
function qualityFigure(e: Exploration, measured: QualityFigure, agreement: number | null): PlanQualityFigure {
  const mode = e.x.qualityMode;
  if (mode.kind === 'measured') return { ...measured, source: 'measured' };
  return { metric: 'accuracy', label: measured.label, better: 'higher', value: mode.scale * (agreement ?? 0), source: 'estimate', samples: measured.samples };
}

/** Accuracy of a configuration with exits, measured (exits are trained and scored on labelled data). */
const exitsFigure = (e: Exploration, combined: { accuracy: number; ci: [number, number]; samples: number }): PlanQualityFigure => ({ ...e.x.quality.full.quality, value: combined.accuracy, ci: combined.ci, samples: combined.samples, source: 'measured' });

/**
 * The paths and exit figures of a configuration whose device runs a part of `headFlops` in `headMs` (the whole
 * model: local) and sends `bytes`; an exit branch costs the part's time per FLOP.
 */
function exitPaths(e: Exploration, edge: ComputeResource, headFlops: number, headMs: number, bytes: number, serverMs: number, choice: ExitChoice | null, endPredictions: readonly number[]) {
  const exitsInput = e.x.exits;
  if (!choice || !exitsInput) {
    return { paths: [{ deviceMs: headMs, upBytes: bytes, serverMs, share: 1 }], exits: null, predictionsAccuracy: null };
  }
  const a = exitsInput.analysis;
  // a configuration the adaptive evaluation stopped early has predictions of its first samples only
  const combined = combineExits(a, choice.tauIndex, choice.active, e.x.quality.labels!.slice(0, endPredictions.length), endPredictions);
  let reach = 0;
  const paths: FramePath[] = [];
  let branchMs = 0;
  let left = 1;
  for (let k = 0; k < choice.active; k++) {
    reach += edge.ms(e.exitStretches[k]!);
    branchMs += (a.exits[k]!.flops * headMs) / Math.max(1, headFlops);
    paths.push({ deviceMs: reach + branchMs, upBytes: 0, serverMs: 0, share: combined.rates[k]! });
    left -= combined.rates[k]!;
  }
  paths.push({ deviceMs: headMs + branchMs, upBytes: bytes, serverMs, share: Math.max(0, left) });
  const exits: ConfigurationExits = { policy: 'softmax', threshold: a.taus[choice.tauIndex]!.tau, cuts: e.exitCuts.slice(0, choice.active).map((c) => c.id), rates: combined.rates };
  return { paths, exits, predictionsAccuracy: { ...combined, samples: endPredictions.length } };
}

/** Exit choices for a device part holding the first `active` exits: none, then each tau. */
const exitChoices = (e: Exploration, active: number): (ExitChoice | null)[] => [null, ...(e.x.exits && active > 0 ? e.x.exits.analysis.taus.map((_, tauIndex) => ({ tauIndex, active })) : [])];

/** Expected device time over a configuration's paths. */
const expectedDeviceMs = (paths: readonly FramePath[]) => paths.reduce((s, p) => s + p.share * p.deviceMs, 0);

const exitLabel = (ex: ConfigurationExits | null) => (ex ? `, exits tau ${ex.threshold}` : '');
const linkLabel = (e: Exploration, l: NamedLink) => (e.x.links.length > 1 ? ` via ${l.name}` : '');
const edgeLabel = (e: Exploration, edge: ComputeResource) => (e.x.edges.length > 1 ? ` on ${edge.name}` : '');

type Explored = Omit<PlanConfiguration, 'checks' | 'feasible'>;

/** The whole model on the edge device, without exits and with each exit policy. */
function localConfigurations(e: Exploration, edge: ComputeResource): Explored[] {
  const { x, model } = e;
  const fullEdgeMs = edge.ms(e.all);
  return exitChoices(e, e.exitCuts.length).map((choice) => {
    const { paths, exits, predictionsAccuracy } = exitPaths(e, edge, model.flops, fullEdgeMs, 0, 0, choice, x.quality.full.predictions);
    const exitBytes = x.exits && exits ? x.exits.analysis.exits.reduce((s, ex) => s + ex.paramBytes, 0) : 0;
    return {
      id: `local${edgeLabel(e, edge)}${exitLabel(exits)}`,
      placement: 'local',
      link: null,
      cuts: [],
      devices: [edge.name],
      codec: '-',
      exits,
      latency: latencyOf(paths, null, e.draws, 0),
      quality: predictionsAccuracy ? exitsFigure(e, predictionsAccuracy) : qualityFigure(e, x.quality.full.quality, 1),
      bytes: 0,
      downlinkBytes: 0,
      energyJ: energyOf(edge, null, x.radios, expectedDeviceMs(paths), 0),
      edgeMemoryBytes: model.paramBytes + model.peakActivationBytes + exitBytes,
      throughputFps: throughputOf(paths, null, e.draws, x.workers, x.workload.devices, 0),
    };
  });
}

/** The device sends its input, in each input encoding, and the server runs the whole model. */
function remoteConfigurations(e: Exploration, edge: ComputeResource, server: ComputeResource, link: NamedLink): Explored[] {
  const { x } = e;
  const full = x.quality.full.quality.value;
  return x.quality.inputs.map((input) => {
    const paths = [{ deviceMs: 0, upBytes: input.bytesMean, serverMs: server.ms(e.all), share: 1 }];
    return {
      id: `remote ${input.name}${edgeLabel(e, edge)}${linkLabel(e, link)}`,
      placement: 'remote',
      link: link.name,
      cuts: [],
      devices: [edge.name, server.name],
      codec: input.name,
      exits: null,
      latency: latencyOf(paths, link, e.draws, x.downlinkBytes),
      // an estimate scales the input form's accuracy relative to the full model's on the same images
      quality: qualityFigure(e, input.quality, input.quality.value / Math.max(1e-9, full)),
      bytes: input.bytesMean,
      downlinkBytes: x.downlinkBytes,
      energyJ: energyOf(edge, link, x.radios, 0, input.bytesMean),
      edgeMemoryBytes: 0,
      throughputFps: throughputOf(paths, link, e.draws, x.workers, x.workload.devices, x.downlinkBytes),
    };
  });
}

/**
 * Time of a codec's own layers (a learned bottleneck's encoder on the device, decoder on the server), at the pace
 * the profile gives the head and the tail: FLOPs x their ms per FLOP.
 */
function codecMs(fig: QualityAnalysis['codecs'][number], cut: Cut, modelFlops: number, headMs: number, tailMs: number): { encodeMs: number; decodeMs: number } {
  const flops = fig.codecFlops ?? { encode: 0, decode: 0 };
  const tailFlops = modelFlops - cut.headCost.flops;
  return { encodeMs: (flops.encode * headMs) / Math.max(1, cut.headCost.flops), decodeMs: (flops.decode * tailMs) / Math.max(1, tailFlops) };
}

/** Head on the device, tail on the server: each candidate cut x codec x exit policy (exits the head holds). */
function splitConfigurations(e: Exploration, edge: ComputeResource, server: ComputeResource, link: NamedLink): Explored[] {
  const { x } = e;
  const out: Explored[] = [];
  for (const cut of x.cuts) {
    const head = cut.head;
    const tailNodes = [...e.all].filter((i) => !head.has(i));
    const [headMs, tailMs] = [edge.ms(head), server.ms(tailNodes)];
    const activeExits = e.exitCuts.filter((ex) => [...ex.head].every((i) => head.has(i))).length;
    for (const codec of x.codecs) {
      const fig = x.quality.codecs.find((c) => c.cut === cut.id && c.codec === codec);
      if (!fig) continue;
      const { encodeMs, decodeMs } = codecMs(fig, cut, e.model.flops, headMs, tailMs);
      for (const choice of exitChoices(e, activeExits)) {
        const { paths, exits, predictionsAccuracy } = exitPaths(e, edge, cut.headCost.flops, headMs + encodeMs, fig.bytesMean, tailMs + decodeMs, choice, fig.predictions);
        const sent = paths.reduce((s, p) => s + p.share * p.upBytes, 0);
        const exitBytes = x.exits && exits ? x.exits.analysis.exits.slice(0, activeExits).reduce((s, ex) => s + ex.paramBytes, 0) : 0;
        out.push({
          id: `split #${cut.index} ${codec}${exitLabel(exits)}${edgeLabel(e, edge)}${linkLabel(e, link)}`,
          placement: 'split',
          link: link.name,
          cuts: [{ index: cut.index, id: cut.id }],
          devices: [edge.name, server.name],
          codec,
          exits,
          latency: latencyOf(paths, link, e.draws, x.downlinkBytes),
          quality: { ...(predictionsAccuracy ? exitsFigure(e, predictionsAccuracy) : qualityFigure(e, fig.quality, fig.agreement)), ...(fig.stopped ? { stopped: fig.stopped } : {}) },
          bytes: sent,
          downlinkBytes: offloadedShare(paths) * x.downlinkBytes,
          energyJ: energyOf(edge, link, x.radios, expectedDeviceMs(paths), sent),
          edgeMemoryBytes: Math.max(fig.encoderBytes, cut.headCost.paramBytes) + cut.headCost.peakActivationBytes + exitBytes,
          throughputFps: throughputOf(paths, link, e.draws, x.workers, x.workload.devices, x.downlinkBytes),
        });
      }
    }
  }
  return out;
}

/** Every configuration, per edge device: local, then per link the remote encodings and the splits. */
export function explore(x: ExploreInputs): PlanConfiguration[] {
  const exitCuts = x.exits?.cuts ?? [];
  const e: Exploration = { x, draws: transferDraws(x.transport, 1000 / x.workload.fps), all: new Set(runtimeNodes(x.g)), model: modelCost(x.g), exitCuts, exitStretches: exitCuts.length ? stretches(x.g, exitCuts) : [] };
  const out: Explored[] = [];
  for (const edge of x.edges) {
    if (x.placements.includes('local')) out.push(...localConfigurations(e, edge));
    if (!x.server) continue;
    for (const link of x.links) {
      if (x.placements.includes('remote')) out.push(...remoteConfigurations(e, edge, x.server, link));
      if (x.placements.includes('split')) out.push(...splitConfigurations(e, edge, x.server, link));
    }
  }
  return out.map((c) => ({ ...c, checks: [], feasible: true }));
}
