/**
 * What the cheap models say about a cut before any quality is measured: a split there runs at least the head on
 * the edge device and the tail on the server (the transfer takes no less than nothing), holds at least the head's
 * weights and peak activations, and spends at least the head's compute energy. A cut whose bounds miss the QoS on
 * every edge device cannot give a feasible configuration, so the adaptive evaluation does not measure it. Early
 * exits answer some frames sooner, so with exits explored no cut is ruled out this way.
 *
 * Once a codec's bytes are measured, a split of those bytes is compared with sending the input losslessly (the
 * remote placement's raw image: the full model's quality): where that is strictly faster at the latency the QoS
 * names (p95 by default) and sustains at least the split's frame rate, sends no more bytes (so spends no more
 * radio energy, and no compute) and sustains the scenario's frame rate, on every edge device and link, a split
 * within the tie tolerance of the full model (recommend.ts `outclass`) is dominated on every axis of the Pareto
 * front once ties count as ties, and ranks after it under every objective. The latency is computed as exploration
 * computes it (explore.ts latencyOf: stratified quantiles of the uplink and downlink draws summed with the compute
 * times), the split's with its head and tail alone (a codec's own layers only add), so the comparison is exact
 * for the figures the decision reads.
 */
import type { Cut } from '../cuts/cuts.js';
import { computeEnergyJ } from '../devices/energy.js';
import type { ComputeResource } from '../devices/resolve.js';
import { pathOf } from '../net/path.js';
import { drawTransfers, type Transport } from '../net/transfer.js';
import { quantileSorted } from '../util/stats.js';
import type { NamedLink } from './explore.js';
import type { PlanScenarioConfig } from './scenario.js';

export interface BoundInputs {
  edges: readonly ComputeResource[];
  server: ComputeResource;
  /** The model's runtime nodes (the tail is those outside the head). */
  nodes: ReadonlySet<number>;
  qos: PlanScenarioConfig['qos'];
  fps: number;
}

/** Why a split at `cut` on `edge` misses the QoS whatever its codec, or null when it may meet it. */
export function splitMisses(cut: Cut, edge: ComputeResource, x: BoundInputs): string | null {
  const headMs = edge.ms(cut.head);
  const latencyMs = headMs + x.server.ms([...x.nodes].filter((n) => !cut.head.has(n)));
  const memory = cut.headCost.paramBytes + cut.headCost.peakActivationBytes;
  const fps = x.qos.throughputFps ?? x.fps;
  if (x.qos.latency && latencyMs > x.qos.latency.ms) return `head and tail alone take ${latencyMs.toFixed(1)} ms on ${edge.name} (latency limit ${x.qos.latency.ms} ms)`;
  if (headMs > 1000 / fps) return `the head alone takes ${headMs.toFixed(1)} ms on ${edge.name}, more than a frame's ${(1000 / fps).toFixed(1)} ms at ${fps} fps`;
  if (x.qos.edgeMemoryMB !== undefined && memory > x.qos.edgeMemoryMB * 1e6) return `the head needs ${(memory / 1e6).toFixed(1)} MB on the device (limit ${x.qos.edgeMemoryMB} MB)`;
  if (x.qos.energyJ !== undefined && edge.device?.power && computeEnergyJ(edge.device, headMs) > x.qos.energyJ) return `the head alone spends ${(1000 * computeEnergyJ(edge.device, headMs)).toFixed(1)} mJ on ${edge.name} (limit ${(1000 * x.qos.energyJ).toFixed(1)} mJ)`;
  return null;
}

/** Why no split at `cut` can be feasible on any edge device (the first device's reason), or null when one may be. */
export function cutRuledOut(cut: Cut, x: BoundInputs): string | null {
  const reasons = x.edges.map((edge) => splitMisses(cut, edge, x));
  return reasons.length && reasons.every((r) => r !== null) ? reasons[0]! : null;
}

/** What comparing a split with the input sent losslessly needs beyond the cut bounds. */
export interface OutclassInputs extends BoundInputs {
  links: readonly NamedLink[];
  transport: Transport;
  workers: number;
  /** Devices sharing the server. */
  devices: number;
  /** Bytes the server sends back per inference. */
  downlinkBytes: number;
  /** Bytes per inference of the input sent losslessly (the raw image's, at most). */
  referenceBytes: number;
}

/** The transfer times of `bytes` over a link that exploration draws (explore.ts transferDraws: one frame every period, lost frames left out), sorted, their mean, and the link's busy time. */
function transferTimes(link: NamedLink, direction: 'up' | 'down', transport: Transport, bytes: number, periodMs: number): { sorted: Float64Array; mean: number; busyMs: number } {
  const { lossless, draws } = drawTransfers(pathOf(link.link, direction), transport, Math.max(1, Math.round(bytes)), { samples: 1000, seed: 7, periodMs });
  const times = Float64Array.from(draws.filter((d) => !d.frameLost), (d) => d.endMs).sort();
  const sorted = times.length ? times : Float64Array.of(lossless.endMs);
  return { sorted, mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, busyMs: lossless.busyMs };
}

/** Strata of exploration's latency percentiles (explore.ts SAMPLES). */
const STRATA = 1000;

/** A frame's latency at `at` (mean or a percentile) as exploration computes it: `fixedMs` plus the uplink's and downlink's quantiles, stratum by stratum. */
function latencyAt(up: ReturnType<typeof transferTimes>, down: ReturnType<typeof transferTimes>, fixedMs: number, at: string): number {
  if (at === 'mean') return fixedMs + up.mean + down.mean;
  const samples = Float64Array.from({ length: STRATA }, (_, i) => fixedMs + quantileSorted(up.sorted, (i + 0.5) / STRATA) + quantileSorted(down.sorted, (i + 0.5) / STRATA)).sort();
  return quantileSorted(samples, at === 'p50' ? 0.5 : at === 'p99' ? 0.99 : 0.95);
}

/**
 * Whether a split at a cut (by id) sending `bytes` is beaten on latency, bytes and energy by sending the input
 * losslessly, on every edge device and link (module comment); transfers are drawn once per link and size.
 */
export function outclassedBy(cuts: readonly Cut[], x: OutclassInputs): (cutId: string, bytes: number) => boolean {
  const periodMs = 1000 / x.fps;
  const memo = new Map<string, ReturnType<typeof transferTimes>>();
  const range = (link: NamedLink, direction: 'up' | 'down', bytes: number) => {
    const key = `${link.name}|${direction}|${Math.round(bytes)}`;
    return memo.get(key) ?? memo.set(key, transferTimes(link, direction, x.transport, bytes, periodMs)).get(key)!;
  };
  const fullServerMs = x.server.ms([...x.nodes]);
  const fps = x.qos.throughputFps ?? x.fps;
  const at = x.qos.latency?.at ?? 'p95';
  return (cutId, bytes) => {
    const cut = cuts.find((c) => c.id === cutId);
    if (!cut || !(bytes >= x.referenceBytes) || !x.links.length) return false;
    const tailMs = x.server.ms([...x.nodes].filter((n) => !cut.head.has(n)));
    return x.links.every((link) => {
      const [refUp, up, down] = [range(link, 'up', x.referenceBytes), range(link, 'up', bytes), range(link, 'down', x.downlinkBytes)];
      const referenceStage = Math.max(refUp.busyMs, down.busyMs, (fullServerMs * x.devices) / x.workers);
      const referenceMs = latencyAt(refUp, down, fullServerMs, at);
      return referenceStage <= 1000 / fps && x.edges.every((edge) => {
        const headMs = edge.ms(cut.head);
        // the split's slowest stage (explore.ts throughputOf) is no faster than the input's
        const splitStage = Math.max(headMs, up.busyMs, down.busyMs, (tailMs * x.devices) / x.workers);
        return referenceStage <= splitStage && referenceMs < latencyAt(up, down, headMs + tailMs, at);
      });
    });
  };
}
