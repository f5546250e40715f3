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
import { openFlow, type Flow } from '../net/transfer.js';
import { seededRandom } from '../util/random.js';
import { sendPeriodMs, type Deployment } from './deployment.js';
import { sampler } from './distributions.js';
import { EventQueue } from './events.js';
import { SharedMedium, sharedMediumPackets } from './medium.js';
import { frameTable, growTable, STATUS, summariseTrace, type SimResult } from './result.js';

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

export function simulate(dep: Deployment, options: SimOptions = {}): SimResult {
  const wallStart = performance.now();
  const rand = seededRandom(dep.seed);
  const q = new EventQueue(4096);
  const n = dep.devices.length;
  const endMs = dep.durationS * 1000;
  const expected = dep.devices.reduce((s, d) => s + d.fps * dep.durationS, 0);
  let frames = frameTable(Math.max(64, Math.ceil(expected * 1.1) + 16));

  const deviceBusy = new Uint8Array(n);
  const deviceQueues = dep.devices.map(() => new IntQueue());
  const deviceBusyMs = new Float64Array(n);
  const computeTime = dep.devices.map((d) => {
    const head = sampler(d.compute);
    const exit = d.exit ? sampler(d.exit) : undefined;
    return exit ? (r: () => number) => head(r) + exit(r) : head;
  });
  const gap = dep.devices.map((d) => (d.arrivals === 'periodic' ? () => 1000 / d.fps : () => (-1000 / d.fps) * Math.log(1 - rand())));

  let packetsSent = 0;
  let packetsLost = 0;
  const upBusyMs = new Float64Array(n);
  const downBusyMs = new Float64Array(n);
  const transferred = (o: { packets: number; lost: number }) => {
    packetsSent += o.packets;
    packetsLost += o.lost;
  };

  const shared = dep.network === 'shared';
  // a device's frames form a stream on its connection
  const upFlows: Flow[] = shared ? [] : dep.devices.map((d) => openFlow(pathOf(d.link, 'up'), dep.transport, sendPeriodMs(d)));
  const downFlows: Flow[] = shared ? [] : dep.devices.map((d) => openFlow(pathOf(d.link, 'down'), dep.transport, sendPeriodMs(d)));
  let medium: SharedMedium | undefined;
  let upPackets: { sizes: number[]; needed: number }[] = [];
  let downPackets: { sizes: number[]; needed: number }[] = [];
  if (shared) {
    const link = dep.shared!;
    upPackets = dep.devices.map((d) => sharedMediumPackets(d.upBytes, link.mtu, dep.transport));
    downPackets = dep.devices.map((d) => sharedMediumPackets(d.downBytes, link.mtu, dep.transport));
    medium = new SharedMedium(link, n + 1, {
      rand,
      schedule: (time, kind, subject) => q.push(time, kind === 'access' ? MEDIUM_ACCESS : MEDIUM_END, subject),
      transferDone: (transfer, time, ok) => {
        const f = transfer >> 1;
        if (transfer & 1) finish(f, time, ok ? STATUS.done : STATUS.lostDown);
        else if (ok) atServer(f, time);
        else finish(f, time, STATUS.lostUp);
      },
    });
  }

  const server = dep.server;
  const serverQueue = new IntQueue();
  const freeWorkers: number[] = Array.from({ length: server.workers }, (_, w) => server.workers - 1 - w);
  const batch = new Int32Array(server.workers * server.batchMax);
  const batchSize = new Int32Array(server.workers);
  const serverTime = sampler(server.compute);
  let serverBusyMs = 0;
  let timerAt = Infinity;

  function finish(f: number, t: number, status: number): void {
    frames.delivered[f] = t;
    frames.status[f] = status;
  }

  function startCompute(i: number, f: number, t: number): void {
    deviceBusy[i] = 1;
    const ms = computeTime[i]!(rand);
    deviceBusyMs[i] += ms;
    frames.headStart[f] = t;
    frames.headEnd[f] = t + ms;
    q.push(t + ms, HEAD_DONE, f);
  }

  function sendUp(f: number, t: number): void {
    const i = frames.device[f]!;
    const d = dep.devices[i]!;
    frames.txStart[f] = t;
    if (d.upBytes <= 0) return atServer(f, t);
    if (medium) return medium.enqueue(t, i, f * 2, upPackets[i]!.sizes, upPackets[i]!.needed);
    const o = upFlows[i]!.send(d.upBytes, t, rand);
    transferred(o);
    upBusyMs[i] += o.busyMs;
    if (o.frameLost) finish(f, o.endMs, STATUS.lostUp);
    else q.push(o.endMs, UP_DONE, f);
  }

  function atServer(f: number, t: number): void {
    frames.serverArrival[f] = t;
    if (serverQueue.length >= server.queueLimit) return finish(f, t, STATUS.droppedServer);
    serverQueue.push(f);
    dispatch(t);
  }

  function dispatch(t: number): void {
    while (freeWorkers.length > 0 && serverQueue.length > 0) {
      if (server.batchMax > 1 && server.batchTimeoutMs > 0 && serverQueue.length < server.batchMax) {
        const due = frames.serverArrival[serverQueue.peek()]! + server.batchTimeoutMs;
        if (t < due) {
          if (due < timerAt) {
            timerAt = due;
            q.push(due, BATCH_TIMER, 0);
          }
          return;
        }
      }
      const w = freeWorkers.pop()!;
      const b = Math.min(server.batchMax, serverQueue.length);
      for (let j = 0; j < b; j++) {
        const f = serverQueue.shift();
        batch[w * server.batchMax + j] = f;
        frames.serverStart[f] = t;
      }
      batchSize[w] = b;
      const ms = serverTime(rand) * (1 + (b - 1) * server.batchScaling);
      serverBusyMs += ms;
      q.push(t + ms, SERVER_DONE, w);
    }
  }

  function sendDown(f: number, t: number): void {
    const i = frames.device[f]!;
    const d = dep.devices[i]!;
    if (d.downBytes <= 0) return finish(f, t, STATUS.done);
    if (medium) return medium.enqueue(t, n, f * 2 + 1, downPackets[i]!.sizes, downPackets[i]!.needed);
    const o = downFlows[i]!.send(d.downBytes, t, rand);
    transferred(o);
    downBusyMs[i] += o.busyMs;
    if (o.frameLost) finish(f, o.endMs, STATUS.lostDown);
    else q.push(o.endMs, DOWN_DONE, f);
  }

  dep.devices.forEach((d, i) => {
    const first = d.arrivals === 'periodic' ? d.phaseMs : gap[i]!();
    if (first < endMs) q.push(first, ARRIVAL, i);
  });

  let events = 0;
  while (q.pop()) {
    events++;
    const t = q.now;
    const subject = q.nowSubject;
    switch (q.nowKind) {
      case ARRIVAL: {
        const i = subject;
        if (frames.count === frames.device.length) frames = growTable(frames);
        const f = frames.count++;
        frames.device[f] = i;
        frames.created[f] = t;
        frames.status[f] = STATUS.inFlight;
        const next = t + gap[i]!();
        if (next < endMs) q.push(next, ARRIVAL, i);
        if (!deviceBusy[i]) startCompute(i, f, t);
        else if (deviceQueues[i]!.length < dep.devices[i]!.queueLimit) deviceQueues[i]!.push(f);
        else finish(f, t, STATUS.droppedDevice);
        break;
      }
      case HEAD_DONE: {
        const f = subject;
        const i = frames.device[f]!;
        const d = dep.devices[i]!;
        if (deviceQueues[i]!.length > 0) startCompute(i, deviceQueues[i]!.shift(), t);
        else deviceBusy[i] = 0;
        if (!d.offload) finish(f, t, STATUS.local);
        else if (d.exitProbability > 0 && rand() < d.exitProbability) finish(f, t, STATUS.exited);
        else sendUp(f, t);
        break;
      }
      case UP_DONE:
        atServer(subject, t);
        break;
      case SERVER_DONE: {
        const w = subject;
        for (let j = 0; j < batchSize[w]!; j++) {
          const f = batch[w * server.batchMax + j]!;
          frames.serverEnd[f] = t;
          sendDown(f, t);
        }
        freeWorkers.push(w);
        dispatch(t);
        break;
      }
      case BATCH_TIMER:
        if (t >= timerAt) timerAt = Infinity;
        dispatch(t);
        break;
      case DOWN_DONE:
        finish(subject, t, STATUS.done);
        break;
      default:
        medium!.handle(t, q.nowKind === MEDIUM_ACCESS ? 'access' : 'end', subject);
    }
    if ((events & 0xffff) === 0 && options.onProgress) options.onProgress(Math.min(1, t / endMs));
  }
  options.onProgress?.(1);
  if (medium) {
    packetsSent += medium.stats.packets;
    packetsLost += medium.stats.lostPackets;
  }
  const result = summariseTrace(dep, frames);
  const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length) / endMs;
  return {
    ...result,
    backend: 'des',
    notes: [],
    packets: { sent: packetsSent, lost: packetsLost },
    utilisation: {
      device: mean(deviceBusyMs),
      uplink: medium ? medium.utilisation(endMs) : mean(upBusyMs),
      downlink: medium ? medium.utilisation(endMs) : mean(downBusyMs),
      server: serverBusyMs / (server.workers * endMs),
    },
    events,
    wallMs: performance.now() - wallStart,
    ...(options.keepTrace ? { trace: frames } : {}),
  };
}

