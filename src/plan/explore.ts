/**
 * Design-space exploration: every placement (all on the edge, all on the server, split at each candidate cut) x
 * codec x exit policy x edge device x link becomes a configuration with its latency (analytic: compute from the
 * profiles, transfers drawn from the link models of net/, mixed over the paths frames take when exits let some
 * leave early), accuracy (measured sample by sample, or an estimate), bytes, edge energy and memory, and
 * sustainable throughput. Everything here is cheap given the cached analyses: this is what re-runs when only a
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
import { combineExits, type AccuracyAnalysis, type ExitAnalysis } from './analyses.js';
import type { ComputeResource } from '../devices/resolve.js';
import type { AccuracyFigure, ConfigurationExits, LatencyFigures, PlanConfiguration } from './types.js';

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
  accuracy: AccuracyAnalysis;
  /** Accuracy is measured on labelled data, or estimated as `scale` x agreement with the full model. */
  accuracyMode: { kind: 'measured' } | { kind: 'estimate'; scale: number };
  exits: { analysis: ExitAnalysis; cuts: readonly Cut[] } | null;
  radios: readonly Radio[];
  /** Bytes of the result sent back (the logits). */
  resultBytes: number;
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
function latencyOf(paths: readonly FramePath[], link: NamedLink | null, draws: Draws, resultBytes: number): LatencyFigures {
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
    const down = draws(link, 'down', resultBytes);
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

/** Frames per second one device's stream can sustain: the slowest of its device, its uplink and its share of the server. */
function throughputOf(paths: readonly FramePath[], link: NamedLink | null, draws: Draws, workers: number, devices: number): number {
  const device = paths.reduce((s, p) => s + p.share * p.deviceMs, 0);
  const uplink = link ? paths.reduce((s, p) => s + (p.upBytes > 0 ? p.share * draws(link, 'up', p.upBytes).busyMs : 0), 0) : 0;
  const server = paths.reduce((s, p) => s + p.share * p.serverMs, 0) * devices / workers;
  const slowest = Math.max(device, uplink, server);
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

export function explore(x: ExploreInputs): PlanConfiguration[] {
  const { g, accuracy } = x;
  const draws = transferDraws(x.transport, 1000 / x.workload.fps);
  const all = new Set(runtimeNodes(g));
  const model = modelCost(g);
  const labels = accuracy.labels;
  const exitCuts = x.exits?.cuts ?? [];
  // node stretches between consecutive exits: the device's time up to each exit
  const exitStretches = exitCuts.length ? stretches(g, exitCuts) : [];
  const accuracyFigure = (value: number, ci: [number, number] | undefined, agreement: number): AccuracyFigure =>
    x.accuracyMode.kind === 'measured' ? { value, source: 'measured', ...(ci ? { ci } : {}), samples: labels.length } : { value: x.accuracyMode.scale * agreement, source: 'estimate', samples: labels.length };
  const agreementOf = (preds: readonly number[]) => preds.reduce((s, p, i) => s + (p === accuracy.full.predictions[i] ? 1 : 0), 0) / Math.max(1, preds.length);
  const out: PlanConfiguration[] = [];

  /**
   * The paths and exit figures of a configuration whose device runs a part of `headFlops` in `headMs` (the whole
   * model: local) and sends `bytes`; an exit branch costs the part's time per FLOP.
   */
  const withExits = (edge: ComputeResource, headFlops: number, headMs: number, bytes: number, serverMs: number, choice: ExitChoice | null, endPredictions: readonly number[]) => {
    if (!choice || !x.exits) {
      return { paths: [{ deviceMs: headMs, upBytes: bytes, serverMs, share: 1 }], exits: null, predictionsAccuracy: null };
    }
    const a = x.exits.analysis;
    const combined = combineExits(a, choice.tauIndex, choice.active, labels, endPredictions);
    let reach = 0;
    const paths: FramePath[] = [];
    let branchMs = 0;
    let left = 1;
    for (let k = 0; k < choice.active; k++) {
      reach += edge.ms(exitStretches[k]!);
      branchMs += (a.exits[k]!.flops * headMs) / Math.max(1, headFlops);
      paths.push({ deviceMs: reach + branchMs, upBytes: 0, serverMs: 0, share: combined.rates[k]! });
      left -= combined.rates[k]!;
    }
    paths.push({ deviceMs: headMs + branchMs, upBytes: bytes, serverMs, share: Math.max(0, left) });
    const exits: ConfigurationExits = { policy: 'softmax', threshold: a.taus[choice.tauIndex]!.tau, cuts: exitCuts.slice(0, choice.active).map((c) => c.id), rates: combined.rates };
    return { paths, exits, predictionsAccuracy: combined };
  };

  /** Exit choices for a device part holding the first `active` exits: none, then each tau. */
  const exitChoices = (active: number): (ExitChoice | null)[] => [null, ...(x.exits && active > 0 ? x.exits.analysis.taus.map((_, tauIndex) => ({ tauIndex, active })) : [])];

  const push = (c: Omit<PlanConfiguration, 'checks' | 'feasible'>) => out.push({ ...c, checks: [], feasible: true });
  const exitLabel = (e: ConfigurationExits | null) => (e ? `, exits tau ${e.threshold}` : '');
  const linkLabel = (l: NamedLink | null, many: boolean) => (l && many ? ` via ${l.name}` : '');
  const edgeLabel = (e: ComputeResource) => (x.edges.length > 1 ? ` on ${e.name}` : '');

  for (const edge of x.edges) {
    const fullEdgeMs = edge.ms(all);
    if (x.placements.includes('local')) {
      for (const choice of exitChoices(exitCuts.length)) {
        const { paths, exits, predictionsAccuracy } = withExits(edge, model.flops, fullEdgeMs, 0, 0, choice, accuracy.full.predictions);
        const deviceMs = paths.reduce((s, p) => s + p.share * p.deviceMs, 0);
        const exitBytes = x.exits && exits ? x.exits.analysis.exits.reduce((s, e) => s + e.paramBytes, 0) : 0;
        push({
          id: `local${edgeLabel(edge)}${exitLabel(exits)}`,
          placement: 'local',
          link: null,
          cuts: [],
          devices: [edge.name],
          codec: '-',
          exits,
          latency: latencyOf(paths, null, draws, 0),
          accuracy: predictionsAccuracy ? accuracyFigure(predictionsAccuracy.accuracy, predictionsAccuracy.ci, predictionsAccuracy.accuracy) : accuracyFigure(accuracy.full.accuracy, accuracy.full.ci, 1),
          bytes: 0,
          energyJ: energyOf(edge, null, x.radios, deviceMs, 0),
          edgeMemoryBytes: model.paramBytes + model.peakActivationBytes + exitBytes,
          throughputFps: throughputOf(paths, null, draws, x.workers, x.workload.devices),
        });
      }
    }
    if (!x.server) continue;
    const server = x.server;
    for (const link of x.links) {
      if (x.placements.includes('remote')) {
        for (const input of accuracy.inputs) {
          const paths = [{ deviceMs: 0, upBytes: input.bytesMean, serverMs: server.ms(all), share: 1 }];
          push({
            id: `remote ${input.name}${edgeLabel(edge)}${linkLabel(link, x.links.length > 1)}`,
            placement: 'remote',
            link: link.name,
            cuts: [],
            devices: [edge.name, server.name],
            codec: input.name,
            exits: null,
            latency: latencyOf(paths, link, draws, x.resultBytes),
            accuracy: x.accuracyMode.kind === 'measured' ? { value: input.accuracy, source: 'measured', ci: input.ci, samples: labels.length } : { value: x.accuracyMode.scale * (input.accuracy / Math.max(1e-9, accuracy.full.accuracy)), source: 'estimate', samples: labels.length },
            bytes: input.bytesMean,
            energyJ: energyOf(edge, link, x.radios, 0, input.bytesMean),
            edgeMemoryBytes: 0,
            throughputFps: throughputOf(paths, link, draws, x.workers, x.workload.devices),
          });
        }
      }
      if (!x.placements.includes('split')) continue;
      for (const cut of x.cuts) {
        const head = cut.head;
        const tailNodes = [...all].filter((i) => !head.has(i));
        const [headMs, tailMs] = [edge.ms(head), server.ms(tailNodes)];
        const activeExits = exitCuts.filter((e) => [...e.head].every((i) => head.has(i))).length;
        for (const codec of x.codecs) {
          const fig = accuracy.codecs.find((c) => c.cut === cut.id && c.codec === codec);
          if (!fig) continue;
          for (const choice of exitChoices(activeExits)) {
            const { paths, exits, predictionsAccuracy } = withExits(edge, cut.headCost.flops, headMs, fig.bytesMean, tailMs, choice, fig.predictions);
            const sent = paths.reduce((s, p) => s + p.share * p.upBytes, 0);
            const deviceMs = paths.reduce((s, p) => s + p.share * p.deviceMs, 0);
            const exitBytes = x.exits && exits ? x.exits.analysis.exits.slice(0, activeExits).reduce((s, e) => s + e.paramBytes, 0) : 0;
            const headCost = cut.headCost;
            push({
              id: `split #${cut.index} ${codec}${exitLabel(exits)}${edgeLabel(edge)}${linkLabel(link, x.links.length > 1)}`,
              placement: 'split',
              link: link.name,
              cuts: [{ index: cut.index, id: cut.id }],
              devices: [edge.name, server.name],
              codec,
              exits,
              latency: latencyOf(paths, link, draws, x.resultBytes),
              accuracy: predictionsAccuracy ? accuracyFigure(predictionsAccuracy.accuracy, predictionsAccuracy.ci, agreementOf(fig.predictions)) : accuracyFigure(fig.accuracy, fig.ci, fig.agreement),
              bytes: sent,
              energyJ: energyOf(edge, link, x.radios, deviceMs, sent),
              edgeMemoryBytes: Math.max(fig.encoderBytes, headCost.paramBytes) + headCost.peakActivationBytes + exitBytes,
              throughputFps: throughputOf(paths, link, draws, x.workers, x.workload.devices),
            });
          }
        }
      }
    }
  }
  return out;
}
