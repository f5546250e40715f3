/**
 * What the cheap models say about a cut before any quality is measured: a split there runs at least the head on
 * the edge device and the tail on the server (the transfer takes no less than nothing), holds at least the head's
 * weights and peak activations, and spends at least the head's compute energy. A cut whose bounds miss the QoS on
 * every edge device cannot give a feasible configuration, so the adaptive evaluation does not measure it. Early
 * exits answer some frames sooner, so with exits explored no cut is ruled out this way.
 */
import type { Cut } from '../cuts/cuts.js';
import { computeEnergyJ } from '../devices/energy.js';
import type { ComputeResource } from '../devices/resolve.js';
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
