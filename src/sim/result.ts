/**
 * What a simulation produces: per-frame timestamps (FrameTrace) and the summary every backend reports (latency
 * percentiles, losses, deadline misses, throughput, utilisation, stage times, per-device results).
 */
import { summarize, type Summary } from '../net/time-summary.js';
import type { Deployment } from './deployment.js';

/** What became of a frame. */
export const FRAME_STATUS = ['in-flight', 'done', 'exited', 'local', 'lost-uplink', 'lost-downlink', 'dropped-device', 'dropped-server'] as const;
export type FrameStatus = (typeof FRAME_STATUS)[number];
/** Status codes (indexes into FRAME_STATUS) as stored in FrameTrace.status. */
export const STATUS = { inFlight: 0, done: 1, exited: 2, local: 3, lostUp: 4, lostDown: 5, droppedDevice: 6, droppedServer: 7 } as const;

/** Per-frame timestamps (ms; NaN where a frame never reached a stage). */
export interface FrameTrace {
  count: number;
  device: Int32Array;
  status: Uint8Array;
  created: Float64Array;
  headStart: Float64Array;
  headEnd: Float64Array;
  txStart: Float64Array;
  serverArrival: Float64Array;
  serverStart: Float64Array;
  serverEnd: Float64Array;
  delivered: Float64Array;
}

const COLUMNS = ['created', 'headStart', 'headEnd', 'txStart', 'serverArrival', 'serverStart', 'serverEnd', 'delivered'] as const;

export function frameTable(capacity: number): FrameTrace {
  const t = { count: 0, device: new Int32Array(capacity), status: new Uint8Array(capacity) } as FrameTrace;
  for (const c of COLUMNS) t[c] = new Float64Array(capacity).fill(NaN);
  return t;
}

export function growTable(t: FrameTrace): FrameTrace {
  const g = frameTable(t.device.length * 2);
  g.count = t.count;
  g.device.set(t.device);
  g.status.set(t.status);
  for (const c of COLUMNS) g[c].set(t[c]);
  return g;
}

export interface StageTimes {
  deviceWait: number;
  device: number;
  uplink: number;
  serverWait: number;
  server: number;
  downlink: number;
}

export interface DeviceResult {
  name: string;
  group: string;
  frames: number;
  completed: number;
  lost: number;
  latencyMs: Summary;
}

export type Backend = 'analytic' | 'des' | 'ns3';

/** A set-up's simulated outcome; every backend fills the same fields (see each backend for what it leaves out). */
export interface SimResult {
  setup: string;
  backend: Backend;
  durationS: number;
  frames: { generated: number; completed: number; exited: number; lost: number; droppedDevice: number; droppedServer: number };
  /** Over completed frames (created after the warm-up). */
  latencyMs: Summary;
  /** Frames lost, dropped or later than the deadline, over all frames; null without a deadline. */
  deadlineMissRate: number | null;
  packets: { sent: number; lost: number };
  throughputFps: number;
  /** Busy fraction of each resource (NaN where a backend does not know it). */
  utilisation: { device: number; uplink: number; downlink: number; server: number };
  /** Mean time per stage over frames that went through the server. */
  stagesMs: StageTimes;
  perDevice: DeviceResult[];
  /** Events processed (des), frames sampled (analytic) or packets simulated (ns3). */
  events: number;
  wallMs: number;
  /** What the backend left out or found (e.g. an overloaded resource). */
  notes: string[];
  trace?: FrameTrace;
}

export type TraceSummary = Omit<SimResult, 'backend' | 'packets' | 'utilisation' | 'events' | 'wallMs' | 'trace' | 'notes'>;

/** Latency, losses, deadline misses, stage times and per-device results from per-frame timestamps. */
export function summariseTrace(dep: Deployment, t: FrameTrace): TraceSummary {
  const warmupMs = dep.warmupS * 1000;
  const endMs = dep.durationS * 1000;
  const completed: number[] = [];
  const perDevice = dep.devices.map(() => ({ frames: 0, completed: [] as number[], lost: 0 }));
  const count = { generated: 0, completed: 0, exited: 0, lost: 0, droppedDevice: 0, droppedServer: 0 };
  const stages: StageTimes = { deviceWait: 0, device: 0, uplink: 0, serverWait: 0, server: 0, downlink: 0 };
  let served = 0;
  let missed = 0;
  for (let f = 0; f < t.count; f++) {
    if (t.created[f]! < warmupMs) continue;
    const dev = perDevice[t.device[f]!]!;
    const status = t.status[f]!;
    count.generated++;
    dev.frames++;
    if (status === STATUS.done || status === STATUS.exited || status === STATUS.local) {
      const latency = t.delivered[f]! - t.created[f]!;
      completed.push(latency);
      dev.completed.push(latency);
      count.completed++;
      if (status === STATUS.exited) count.exited++;
      if (dep.deadlineMs !== undefined && latency > dep.deadlineMs) missed++;
      if (status === STATUS.done) {
        served++;
        stages.deviceWait += t.headStart[f]! - t.created[f]!;
        stages.device += t.headEnd[f]! - t.headStart[f]!;
        stages.uplink += t.serverArrival[f]! - t.txStart[f]!;
        stages.serverWait += t.serverStart[f]! - t.serverArrival[f]!;
        stages.server += t.serverEnd[f]! - t.serverStart[f]!;
        stages.downlink += t.delivered[f]! - t.serverEnd[f]!;
      }
      continue;
    }
    missed++;
    dev.lost++;
    if (status === STATUS.lostUp || status === STATUS.lostDown) count.lost++;
    else if (status === STATUS.droppedDevice) count.droppedDevice++;
    else if (status === STATUS.droppedServer) count.droppedServer++;
  }
  for (const k of Object.keys(stages) as (keyof StageTimes)[]) stages[k] = served ? stages[k] / served : NaN;
  const measuredS = (endMs - warmupMs) / 1000;
  return {
    setup: dep.setup,
    durationS: dep.durationS,
    frames: count,
    latencyMs: summarize(completed),
    deadlineMissRate: dep.deadlineMs === undefined ? null : missed / Math.max(1, count.generated),
    throughputFps: count.completed / measuredS,
    stagesMs: stages,
    perDevice: dep.devices.map((d, i) => ({ name: d.name, group: d.group, frames: perDevice[i]!.frames, completed: perDevice[i]!.completed.length, lost: perDevice[i]!.lost, latencyMs: summarize(perDevice[i]!.completed) })),
  };
}
