/**
 * The analytic backend: each frame as if it were alone. A frame's latency is its device compute, plus (unless
 * it exits early) one draw of the uplink transfer from the link model (src/net: TCP rounds with loss over the
 * device's connection carrying a frame every period, UDP with loss and repair, or the uncontended 802.11
 * airtime on a shared Wi-Fi cell), the server compute and one draw of the downlink transfer. No queueing at the
 * device or server and no contention: utilisation says where they would appear, and a resource at or above
 * 100 % is reported as overloaded (its queue, and so the latency, would grow without bound). Frame and packet
 * counts are what the simulated duration would see (SAMPLES_PER_DEVICE frames are drawn per device).
 */
import { pathOf, type Path } from '../net/path.js';
import { drawTransfers } from '../net/transfer.js';
import type { TransferOutcome } from '../net/tcp.js';
import { uncontendedUs } from '../net/wifi.js';
import { seededRandom } from '../util/random.js';
import { meanDeviceMs, sendPeriodMs, type Deployment, type DeviceSpec } from './deployment.js';
import { sharedMediumPackets } from './medium.js';
import { distMean, sampler } from './distributions.js';
import { frameTable, STATUS, summariseTrace, type SimResult } from './result.js';

const SAMPLES_PER_DEVICE = 2000;

/** Draws of one direction's transfer for a device, and its lossless serialisation time (for utilisation). */
interface Draws {
  outcomes: TransferOutcome[];
  busyMs: number;
}

function linkDraws(path: Path, dep: Deployment, bytes: number, seed: number, periodMs: number): Draws {
  const { lossless, draws } = drawTransfers(path, dep.transport, bytes, { samples: SAMPLES_PER_DEVICE, seed, periodMs });
  return { outcomes: draws, busyMs: lossless.busyMs };
}

/** On a shared Wi-Fi cell (or another shared link): the frame's uncontended time on the medium. */
function mediumDraws(dep: Deployment, bytes: number, seed: number, periodMs: number): Draws {
  const link = dep.shared!;
  const { sizes } = sharedMediumPackets(bytes, link.mtu, dep.transport);
  if (!link.wifi) return linkDraws(pathOf(link, 'up'), dep, bytes, seed, periodMs);
  const ms = uncontendedUs(link.wifi, sizes) / 1000;
  return { outcomes: [{ endMs: ms, senderFreeMs: ms, busyMs: ms, packets: sizes.length, lost: 0, timeouts: 0, frameLost: false }], busyMs: ms };
}

function directionDraws(dep: Deployment, d: DeviceSpec, direction: 'up' | 'down', seed: number): Draws {
  const bytes = direction === 'up' ? d.upBytes : d.downBytes;
  if (bytes <= 0 || !d.offload) return { outcomes: [{ endMs: 0, senderFreeMs: 0, busyMs: 0, packets: 0, lost: 0, timeouts: 0, frameLost: false }], busyMs: 0 };
  const periodMs = sendPeriodMs(d);
  return dep.network === 'shared' ? mediumDraws(dep, bytes, seed, periodMs) : linkDraws(pathOf(d.link, direction), dep, bytes, seed, periodMs);
}

export function analyze(dep: Deployment): SimResult {
  const wallStart = performance.now();
  const rand = seededRandom(dep.seed);
  const n = dep.devices.length;
  const trace = frameTable(n * SAMPLES_PER_DEVICE);
  const created = dep.warmupS * 1000;
  const serverTime = sampler(dep.server.compute);
  const serverMean = distMean(dep.server.compute);
  let packets = 0;
  let lost = 0;
  let offloaded = 0; // sampled frames that went to the server
  let offloadedFps = 0;
  const load = { device: 0, uplink: 0, downlink: 0, server: 0, medium: 0 };
  dep.devices.forEach((d, i) => {
    const up = directionDraws(dep, d, 'up', dep.seed + 2 * i);
    const down = directionDraws(dep, d, 'down', dep.seed + 2 * i + 1);
    const head = sampler(d.compute);
    const exit = d.exit ? sampler(d.exit) : () => 0;
    const sendRate = d.offload ? d.fps * (1 - d.exitProbability) : 0;
    offloadedFps += sendRate;
    load.device += (d.fps * meanDeviceMs(d)) / 1000 / n;
    load.uplink += (sendRate * up.busyMs) / 1000 / n;
    load.downlink += (sendRate * down.busyMs) / 1000 / n;
    load.medium += (sendRate * (up.busyMs + down.busyMs)) / 1000;
    load.server += (sendRate * serverMean) / 1000 / dep.server.workers;
    for (let k = 0; k < SAMPLES_PER_DEVICE; k++) {
      const f = trace.count++;
      trace.device[f] = i;
      trace.created[f] = trace.headStart[f] = created;
      const t = (trace.headEnd[f] = created + head(rand) + exit(rand));
      if (!d.offload || (d.exitProbability > 0 && rand() < d.exitProbability)) {
        trace.status[f] = d.offload ? STATUS.exited : STATUS.local;
        trace.delivered[f] = t;
        continue;
      }
      const u = up.outcomes[Math.floor(rand() * up.outcomes.length)]!;
      const w = down.outcomes[Math.floor(rand() * down.outcomes.length)]!;
      offloaded++;
      packets += u.packets + w.packets;
      lost += u.lost + w.lost;
      trace.txStart[f] = t;
      if (u.frameLost) {
        trace.status[f] = STATUS.lostUp;
        continue;
      }
      trace.serverArrival[f] = trace.serverStart[f] = t + u.endMs;
      const done = (trace.serverEnd[f] = t + u.endMs + serverTime(rand));
      trace.status[f] = w.frameLost ? STATUS.lostDown : STATUS.done;
      trace.delivered[f] = done + w.endMs;
    }
  });
  const summary = summariseTrace(dep, trace);
  const measuredS = dep.durationS - dep.warmupS;
  const scale = (device: number) => (dep.devices[device]!.fps * measuredS) / SAMPLES_PER_DEVICE;
  const frames = { generated: 0, completed: 0, exited: 0, lost: 0, droppedDevice: 0, droppedServer: 0 };
  for (let f = 0; f < trace.count; f++) {
    const k = scale(trace.device[f]!);
    const status = trace.status[f]!;
    frames.generated += k;
    if (status === STATUS.lostUp || status === STATUS.lostDown) frames.lost += k;
    else frames.completed += k;
    if (status === STATUS.exited) frames.exited += k;
  }
  const totalFps = dep.devices.reduce((s, d) => s + d.fps, 0);
  const overDuration = (x: number) => (offloaded ? (x / offloaded) * offloadedFps * measuredS : 0);
  const utilisation = { device: load.device, uplink: dep.network === 'shared' ? load.medium : load.uplink, downlink: dep.network === 'shared' ? load.medium : load.downlink, server: load.server };
  const overloaded = Object.entries(utilisation).filter(([, u]) => u >= 1).map(([k]) => k);
  return {
    ...summary,
    backend: 'analytic',
    frames,
    perDevice: summary.perDevice.map((d, i) => ({ ...d, frames: d.frames * scale(i), completed: d.completed * scale(i), lost: d.lost * scale(i) })),
    throughputFps: (totalFps * frames.completed) / Math.max(1, frames.generated),
    // expected over the simulated duration
    packets: { sent: overDuration(packets), lost: overDuration(lost) },
    utilisation,
    events: trace.count,
    wallMs: performance.now() - wallStart,
    notes: [
      'analytic: every frame alone (no queueing, no contention); see utilisation',
      ...(overloaded.length ? [`overloaded: ${overloaded.join(', ')} at or above 100 % busy: latency would grow without bound`] : []),
    ],
  };
}
