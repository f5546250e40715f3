/**
 * The discrete-event simulator of a deployment. Each frame goes: created at its device (periodic or Poisson
 * source) -> waits for and runs the device's compute (head) -> leaves at the early exit with its probability,
 * or crosses the uplink (a dedicated link through the TCP/UDP link models of src/net, or the shared medium of
 * medium.ts) -> waits in the server's queue -> runs on one of k workers, alone or in a batch -> result crosses
 * the downlink. Every stage's timestamps are kept per frame. Deterministic under the seed: one seeded random
 * source, and simultaneous events run in the order they were scheduled.
 *
 * Arrivals stop at the end of the simulated duration; frames already created are followed to their end.
 */
import { pathOf } from '../net/path.js';
import type { TransferOutcome } from '../net/tcp.js';
import { openFlow, type Flow } from '../net/transfer.js';
import { seededRandom } from '../util/random.js';
import { sendPeriodMs, type Deployment } from './deployment.js';
import { sampler } from './distributions.js';
import { EventQueue } from './events.js';
import { SharedMedium, sharedMediumPackets } from './medium.js';
import { frameTable, growTable, STATUS, summariseTrace, type FrameTrace, type SimResult } from './result.js';

const ARRIVAL = 0;
const HEAD_DONE = 1;
const UP_DONE = 2;
const SERVER_DONE = 3;
const BATCH_TIMER = 4;
const DOWN_DONE = 5;
const MEDIUM_ACCESS = 6;
const MEDIUM_END = 7;

/** A FIFO of integers (frame ids, worker ids). */
class IntQueue {
  private items = new Int32Array(16);
  private head = 0;
  private tail = 0;
  get length(): number {
    return this.tail - this.head;
  }
  push(x: number): void {
    if (this.tail === this.items.length) {
      const live = this.items.subarray(this.head, this.tail);
      const next = live.length * 2 >= this.items.length ? new Int32Array(this.items.length * 2) : this.items;
      next.set(live);
      this.tail -= this.head;
      this.head = 0;
      this.items = next;
    }
    this.items[this.tail++] = x;
  }
  peek(): number {
    return this.items[this.head]!;
  }
  shift(): number {
    return this.items[this.head++]!;
  }
}

export interface SimOptions {
  /** Called now and then with the fraction of simulated time done. */
  onProgress?: (fraction: number) => void;
  /** Keep every frame's timestamps in the result. */
  keepTrace?: boolean;
}

/** Per-device state: its compute unit (busy or not, and the frames waiting for it) and its link's accounting. */
interface DeviceState {
  busy: Uint8Array;
  queues: IntQueue[];
  busyMs: Float64Array;
  computeTime: ((rand: () => number) => number)[];
  /** The time to the device's next frame. */
  gap: (() => number)[];
  upBusyMs: Float64Array;
  downBusyMs: Float64Array;
}

/** The server: its queue, idle workers, the batch each worker runs, and the pending batch timer. */
interface ServerState {
  queue: IntQueue;
  freeWorkers: number[];
  batch: Int32Array;
  batchSize: Int32Array;
  time: (rand: () => number) => number;
  busyMs: number;
  timerAt: number;
}

/** The network: a connection per device and direction, or one shared medium with each device's packets. */
type Network = { kind: 'dedicated'; up: Flow[]; down: Flow[] } | { kind: 'shared'; medium: SharedMedium; up: MediumPackets[]; down: MediumPackets[] };
type MediumPackets = { sizes: number[]; needed: number };

/** Everything one run changes, handed to the event handlers below. */
interface SimState {
  dep: Deployment;
  rand: () => number;
  q: EventQueue;
  endMs: number;
  frames: FrameTrace;
  devices: DeviceState;
  network: Network;
  server: ServerState;
  packets: { sent: number; lost: number };
}

export function simulate(dep: Deployment, options: SimOptions = {}): SimResult {
  const wallStart = performance.now();
  const s = initialState(dep);
  dep.devices.forEach((d, i) => {
    const first = d.arrivals === 'periodic' ? d.phaseMs : s.devices.gap[i]!();
    if (first < s.endMs) s.q.push(first, ARRIVAL, i);
  });
  let events = 0;
  while (s.q.pop()) {
    events++;
    handleEvent(s, s.q.nowKind, s.q.nowSubject, s.q.now);
    if ((events & 0xffff) === 0 && options.onProgress) options.onProgress(Math.min(1, s.q.now / s.endMs));
  }
  options.onProgress?.(1);
  return { ...resultOf(s, events, options), wallMs: performance.now() - wallStart };
}

function initialState(dep: Deployment): SimState {
  const rand = seededRandom(dep.seed);
  const q = new EventQueue(4096);
  const expected = dep.devices.reduce((sum, d) => sum + d.fps * dep.durationS, 0);
  const s: SimState = {
    dep,
    rand,
    q,
    endMs: dep.durationS * 1000,
    frames: frameTable(Math.max(64, Math.ceil(expected * 1.1) + 16)),
    devices: deviceState(dep, rand),
    network: { kind: 'dedicated', up: [], down: [] },
    server: serverState(dep.server),
    packets: { sent: 0, lost: 0 },
  };
  s.network = network(s);
  return s;
}

function deviceState(dep: Deployment, rand: () => number): DeviceState {
  const n = dep.devices.length;
  return {
    busy: new Uint8Array(n),
    queues: dep.devices.map(() => new IntQueue()),
    busyMs: new Float64Array(n),
    computeTime: dep.devices.map((d) => {
      const head = sampler(d.compute);
      const exit = d.exit ? sampler(d.exit) : undefined;
      return exit ? (r: () => number) => head(r) + exit(r) : head;
    }),
    gap: dep.devices.map((d) => (d.arrivals === 'periodic' ? () => 1000 / d.fps : () => (-1000 / d.fps) * Math.log(1 - rand()))),
    upBusyMs: new Float64Array(n),
    downBusyMs: new Float64Array(n),
  };
}

function serverState(server: Deployment['server']): ServerState {
  return {
    queue: new IntQueue(),
    freeWorkers: Array.from({ length: server.workers }, (_, w) => server.workers - 1 - w),
    batch: new Int32Array(server.workers * server.batchMax),
    batchSize: new Int32Array(server.workers),
    time: sampler(server.compute),
    busyMs: 0,
    timerAt: Infinity,
  };
}

/** Dedicated links: a device's frames form a stream on its connection. A shared medium: transfer 2f is frame f's uplink, 2f + 1 its downlink. */
function network(s: SimState): Network {
  const { dep } = s;
  if (dep.network !== 'shared') {
    const flows = (direction: 'up' | 'down') => dep.devices.map((d) => openFlow(pathOf(d.link, direction), dep.transport, sendPeriodMs(d)));
    return { kind: 'dedicated', up: flows('up'), down: flows('down') };
  }
  const link = dep.shared!;
  const up = dep.devices.map((d) => sharedMediumPackets(d.upBytes, link.mtu, dep.transport));
  const down = dep.devices.map((d) => sharedMediumPackets(d.downBytes, link.mtu, dep.transport));
  const medium = new SharedMedium(link, dep.devices.length + 1, {
    rand: s.rand,
    schedule: (time, kind, subject) => s.q.push(time, kind === 'access' ? MEDIUM_ACCESS : MEDIUM_END, subject),
    transferDone: (transfer, time, ok) => {
      const f = transfer >> 1;
      if (transfer & 1) finish(s, f, time, ok ? STATUS.done : STATUS.lostDown);
      else if (ok) atServer(s, f, time);
      else finish(s, f, time, STATUS.lostUp);
    },
  });
  return { kind: 'shared', medium, up, down };
}

function handleEvent(s: SimState, kind: number, subject: number, t: number): void {
  switch (kind) {
    case ARRIVAL:
      return arrival(s, subject, t);
    case HEAD_DONE:
      return headDone(s, subject, t);
    case UP_DONE:
      return atServer(s, subject, t);
    case SERVER_DONE:
      return serverDone(s, subject, t);
    case BATCH_TIMER:
      if (t >= s.server.timerAt) s.server.timerAt = Infinity;
      return dispatch(s, t);
    case DOWN_DONE:
      return finish(s, subject, t, STATUS.done);
    default:
      if (s.network.kind === 'shared') s.network.medium.handle(t, kind === MEDIUM_ACCESS ? 'access' : 'end', subject);
  }
}

/** Device `i` creates a frame: computed at once, queued behind the one computing, or dropped if its queue is full. */
function arrival(s: SimState, i: number, t: number): void {
  if (s.frames.count === s.frames.device.length) s.frames = growTable(s.frames);
  const { frames, devices } = s;
  const f = frames.count++;
  frames.device[f] = i;
  frames.created[f] = t;
  frames.status[f] = STATUS.inFlight;
  const next = t + devices.gap[i]!();
  if (next < s.endMs) s.q.push(next, ARRIVAL, i);
  if (!devices.busy[i]) startCompute(s, i, f, t);
  else if (devices.queues[i]!.length < s.dep.devices[i]!.queueLimit) devices.queues[i]!.push(f);
  else finish(s, f, t, STATUS.droppedDevice);
}

/** The device's head is done: the next frame computes, and this one ends here, leaves at the exit, or goes up. */
function headDone(s: SimState, f: number, t: number): void {
  const i = s.frames.device[f]!;
  const d = s.dep.devices[i]!;
  const queue = s.devices.queues[i]!;
  if (queue.length > 0) startCompute(s, i, queue.shift(), t);
  else s.devices.busy[i] = 0;
  if (!d.offload) finish(s, f, t, STATUS.local);
  else if (d.exitProbability > 0 && s.rand() < d.exitProbability) finish(s, f, t, STATUS.exited);
  else sendUp(s, f, t);
}

function startCompute(s: SimState, i: number, f: number, t: number): void {
  s.devices.busy[i] = 1;
  const ms = s.devices.computeTime[i]!(s.rand);
  s.devices.busyMs[i] += ms;
  s.frames.headStart[f] = t;
  s.frames.headEnd[f] = t + ms;
  s.q.push(t + ms, HEAD_DONE, f);
}

function finish(s: SimState, f: number, t: number, status: number): void {
  s.frames.delivered[f] = t;
  s.frames.status[f] = status;
}

function sendUp(s: SimState, f: number, t: number): void {
  const i = s.frames.device[f]!;
  const bytes = s.dep.devices[i]!.upBytes;
  s.frames.txStart[f] = t;
  if (bytes <= 0) return atServer(s, f, t);
  const net = s.network;
  if (net.kind === 'shared') return net.medium.enqueue(t, i, f * 2, net.up[i]!.sizes, net.up[i]!.needed);
  const o = net.up[i]!.send(bytes, t, s.rand);
  s.devices.upBusyMs[i] += sent(s, o);
  if (o.frameLost) finish(s, f, o.endMs, STATUS.lostUp);
  else s.q.push(o.endMs, UP_DONE, f);
}

function sendDown(s: SimState, f: number, t: number): void {
  const i = s.frames.device[f]!;
  const bytes = s.dep.devices[i]!.downBytes;
  if (bytes <= 0) return finish(s, f, t, STATUS.done);
  const net = s.network;
  // the server is the medium's last station
  if (net.kind === 'shared') return net.medium.enqueue(t, s.dep.devices.length, f * 2 + 1, net.down[i]!.sizes, net.down[i]!.needed);
  const o = net.down[i]!.send(bytes, t, s.rand);
  s.devices.downBusyMs[i] += sent(s, o);
  if (o.frameLost) finish(s, f, o.endMs, STATUS.lostDown);
  else s.q.push(o.endMs, DOWN_DONE, f);
}

/** Counts a transfer's packets; returns the time its link was busy. */
function sent(s: SimState, o: TransferOutcome): number {
  s.packets.sent += o.packets;
  s.packets.lost += o.lost;
  return o.busyMs;
}

function atServer(s: SimState, f: number, t: number): void {
  s.frames.serverArrival[f] = t;
  if (s.server.queue.length >= s.dep.server.queueLimit) return finish(s, f, t, STATUS.droppedServer);
  s.server.queue.push(f);
  dispatch(s, t);
}

/** Start batches on idle workers while frames wait; a partial batch waits for more frames until its timeout. */
function dispatch(s: SimState, t: number): void {
  const { server, q } = s;
  while (server.freeWorkers.length > 0 && server.queue.length > 0) {
    const due = batchDue(s);
    if (t < due) {
      if (due < server.timerAt) {
        server.timerAt = due;
        q.push(due, BATCH_TIMER, 0);
      }
      return;
    }
    startBatch(s, t);
  }
}

/** When the waiting frames may start as a partial batch (-Infinity: now). */
function batchDue(s: SimState): number {
  const spec = s.dep.server;
  const waiting = s.server.queue;
  if (spec.batchMax > 1 && spec.batchTimeoutMs > 0 && waiting.length < spec.batchMax) return s.frames.serverArrival[waiting.peek()]! + spec.batchTimeoutMs;
  return -Infinity;
}

function startBatch(s: SimState, t: number): void {
  const spec = s.dep.server;
  const server = s.server;
  const w = server.freeWorkers.pop()!;
  const b = Math.min(spec.batchMax, server.queue.length);
  for (let j = 0; j < b; j++) {
    const f = server.queue.shift();
    server.batch[w * spec.batchMax + j] = f;
    s.frames.serverStart[f] = t;
  }
  server.batchSize[w] = b;
  const ms = server.time(s.rand) * (1 + (b - 1) * spec.batchScaling);
  server.busyMs += ms;
  s.q.push(t + ms, SERVER_DONE, w);
}

/** Worker `w` finished its batch: every frame's result goes down, and the worker takes the next batch. */
function serverDone(s: SimState, w: number, t: number): void {
  const { batch, batchSize } = s.server;
  const batchMax = s.dep.server.batchMax;
  for (let j = 0; j < batchSize[w]!; j++) {
    const f = batch[w * batchMax + j]!;
    s.frames.serverEnd[f] = t;
    sendDown(s, f, t);
  }
  s.server.freeWorkers.push(w);
  dispatch(s, t);
}

function resultOf(s: SimState, events: number, options: SimOptions): Omit<SimResult, 'wallMs'> {
  const { endMs, network: net } = s;
  const medium = net.kind === 'shared' ? net.medium : undefined;
  const packets = medium ? { sent: s.packets.sent + medium.stats.packets, lost: s.packets.lost + medium.stats.lostPackets } : s.packets;
  const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length) / endMs;
  return {
    ...summariseTrace(s.dep, s.frames),
    backend: 'des',
    notes: [],
    packets,
    utilisation: {
      device: mean(s.devices.busyMs),
      uplink: medium ? medium.utilisation(endMs) : mean(s.devices.upBusyMs),
      downlink: medium ? medium.utilisation(endMs) : mean(s.devices.downBusyMs),
      server: s.server.busyMs / (s.dep.server.workers * endMs),
    },
    events,
    ...(options.keepTrace ? { trace: s.frames } : {}),
  };
}
