/**
 * A deployment as the simulators run it: every device with its frame source, compute and link, the network
 * (dedicated links or one shared medium), the transport, and the server. Built from a scenario file by
 * scenario.ts, or in code.
 */
import type { Link } from '../net/link.js';
import type { Transport } from '../net/transfer.js';
import { distMean, type Dist } from './distributions.js';

export interface DeviceSpec {
  name: string;
  /** The scenario's device group this device belongs to. */
  group: string;
  fps: number;
  arrivals: 'periodic' | 'poisson';
  /** First frame's time (periodic sources). */
  phaseMs: number;
  /** Compute on the device per frame: the head, the full model (local), or nothing (remote). */
  compute: Dist;
  /** The early-exit branch, run on the device after the head for every frame. */
  exit?: Dist;
  /** Probability that a frame leaves at the early exit, finishing on the device. */
  exitProbability: number;
  /** Whether frames go to the server at all (false: local computing). */
  offload: boolean;
  /** Bytes sent per offloaded frame (cut tensor or input). */
  upBytes: number;
  /** Bytes of the result sent back. */
  downBytes: number;
  /** The device's own link (dedicated networks). */
  link: Link;
  /** Frames that may wait for the device's processor; more are dropped. */
  queueLimit: number;
}

/** Mean device time per frame: compute plus the exit branch. */
export const meanDeviceMs = (d: DeviceSpec): number => distMean(d.compute) + (d.exit ? distMean(d.exit) : 0);

/** How often a device's frames go on its connection, on average (less often with early exits). */
export const sendPeriodMs = (d: DeviceSpec): number => 1000 / (d.fps * Math.max(1e-6, 1 - d.exitProbability));

export interface ServerSpec {
  workers: number;
  /** Time to run the tail (or the full model, for remote computing) on one frame. */
  compute: Dist;
  /** Largest batch a worker takes. */
  batchMax: number;
  /** How long a worker waits for a batch to fill before running what is queued. */
  batchTimeoutMs: number;
  /** Cost of each extra frame in a batch as a fraction of one frame's time (1: batching gains nothing). */
  batchScaling: number;
  /** Frames that may wait at the server; more are dropped. */
  queueLimit: number;
}

export interface Deployment {
  /** The Split-Et-Impera set-up this is (local, remote, split, early-exit) or 'custom'. */
  setup: string;
  devices: DeviceSpec[];
  /** Dedicated links, or one shared medium (a Wi-Fi cell or another shared link) for all devices. */
  network: 'dedicated' | 'shared';
  /** The shared medium's link. */
  shared?: Link;
  transport: Transport;
  server: ServerSpec;
  /** Frames later than this (or lost) miss their deadline. */
  deadlineMs?: number;
  durationS: number;
  /** Frames created before this are simulated but not counted. */
  warmupS: number;
  seed: number;
}
