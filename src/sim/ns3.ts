/**
 * The ns-3 backend: the uplink simulated packet by packet in ns-3 (each device's dedicated point-to-point link,
 * or every device in one Wi-Fi cell), the rest around it. A frame is sent when its device compute (the mean
 * time) ends; frames leave at the early exit with the set-up's probability (drawn inside ns-3); ns-3 says when
 * each sent frame arrived. The server is a FIFO queue with k workers running the mean tail time (no batching);
 * the downlink of the small result is the analytic lossless transfer. Periodic sources only (ns-3 sends on a
 * schedule).
 */
import { ImperaError } from '../errors.js';
import { ns3Binary, type Ns3Toolchain } from '../net/ns3/toolchain.js';
import { runP2p, runWifi, type FrameLog } from '../net/ns3/scenarios.js';
import { pathOf } from '../net/path.js';
import { drawTransfers } from '../net/transfer.js';
import { uncontendedUs } from '../net/wifi.js';
import { udpMaxPayload } from '../net/framing.js';
import { udpIpSizes } from '../net/udp.js';
import { meanDeviceMs, type Deployment, type DeviceSpec } from './deployment.js';
import { distMean } from './distributions.js';
import { frameTable, STATUS, summariseTrace, type FrameTrace, type SimResult } from './result.js';

export interface Ns3Options {
  toolchain?: Ns3Toolchain;
  /** Called after each ns-3 run with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

const framesOf = (d: DeviceSpec, endMs: number) => Math.max(0, Math.ceil((endMs - d.phaseMs) / (1000 / d.fps)));

function downlinkMs(dep: Deployment, d: DeviceSpec): number {
  if (d.downBytes <= 0) return 0;
  // a result is a packet or a few: on a Wi-Fi cell its airtime alone, whatever the transport
  if (dep.network === 'shared' && dep.shared!.wifi) return uncontendedUs(dep.shared!.wifi, udpIpSizes(d.downBytes, udpMaxPayload(dep.shared!.mtu)).sizes) / 1000;
  const link = dep.network === 'shared' ? dep.shared! : d.link;
  return drawTransfers(pathOf(link, 'down'), dep.transport, d.downBytes).lossless.endMs;
}

/** Each device's frame log from ns-3: dedicated links run per device group (one seed per device). */
async function uplinkLogs(dep: Deployment, binary: (p: 'p2p' | 'wifi') => string, progress: (n: number) => void): Promise<{ logs: FrameLog[]; packets: number; lost: number }> {
  const endMs = dep.durationS * 1000;
  if (dep.network === 'shared') {
    const d0 = dep.devices[0]!;
    if (dep.devices.some((d) => d.upBytes !== d0.upBytes || d.fps !== d0.fps || d.exitProbability !== d0.exitProbability)) {
      throw new ImperaError('BAD_SCENARIO', 'the ns-3 Wi-Fi cell runs devices with one frame size, frame rate and exit probability', 'give all device groups the same fps, or use --backend des');
    }
    const run = await runWifi(binary('wifi'), {
      link: dep.shared!,
      transport: dep.transport,
      bytes: d0.upBytes,
      fps: d0.fps,
      // a frame goes on the air when the device has computed it
      phasesMs: dep.devices.map((d) => d.phaseMs + meanDeviceMs(d)),
      // long enough for every frame created within the duration to be sent
      durationS: dep.durationS + Math.max(...dep.devices.map(meanDeviceMs)) / 1000,
      seed: dep.seed,
      keepProbability: 1 - d0.exitProbability,
    });
    progress(1);
    return { logs: run.stations, packets: run.packets, lost: run.lost };
  }
  const groups = new Map<string, number[]>();
  dep.devices.forEach((d, i) => groups.set(d.group, [...(groups.get(d.group) ?? []), i]));
  const logs: FrameLog[] = new Array(dep.devices.length);
  let packets = 0;
  let lost = 0;
  let g = 0;
  for (const members of groups.values()) {
    const d = dep.devices[members[0]!]!;
    const runs = await runP2p(binary('p2p'), { link: d.link, transport: dep.transport, bytes: d.upBytes, mode: 'frames', fps: d.fps, frames: framesOf(d, endMs), runs: members.length, seed: dep.seed + 1000 * g++, keepProbability: 1 - d.exitProbability });
    runs.forEach((r, k) => {
      logs[members[k]!] = r;
      packets += r.packets;
      lost += r.lost;
    });
    progress(1);
  }
  return { logs, packets, lost };
}

/** A FIFO server with k workers, each frame the mean tail time: fills serverStart/serverEnd in arrival order. */
function serveInOrder(trace: FrameTrace, frames: number[], workers: number, serviceMs: number): number {
  const free = new Array<number>(workers).fill(-Infinity);
  let busy = 0;
  for (const f of frames.sort((a, b) => trace.serverArrival[a]! - trace.serverArrival[b]!)) {
    const w = free.indexOf(Math.min(...free));
    const start = Math.max(trace.serverArrival[f]!, free[w]!);
    trace.serverStart[f] = start;
    trace.serverEnd[f] = free[w] = start + serviceMs;
    busy += serviceMs;
  }
  return busy;
}

export async function simulateNs3(dep: Deployment, options: Ns3Options = {}): Promise<SimResult> {
  const wallStart = performance.now();
  if (dep.devices.some((d) => d.arrivals !== 'periodic')) throw new ImperaError('BAD_SCENARIO', 'the ns3 backend sends frames on a schedule: Poisson sources are simulated by --backend des', "set arrivals: periodic, or use --backend des");
  const endMs = dep.durationS * 1000;
  const offload = dep.devices.some((d) => d.offload);
  const runs = !offload ? 0 : dep.network === 'shared' ? 1 : new Set(dep.devices.map((d) => d.group)).size;
  let done = 0;
  const binaries = new Map<string, string>();
  const binary = (p: 'p2p' | 'wifi') => binaries.get(p) ?? binaries.set(p, ns3Binary(p, options.toolchain)).get(p)!;
  const net = offload ? await uplinkLogs(dep, binary, (n) => options.onProgress?.((done += n), runs)) : { logs: [], packets: 0, lost: 0 };

  const trace = frameTable(Math.max(16, dep.devices.reduce((s, d) => s + framesOf(d, endMs), 0)));
  const toServer: number[] = [];
  let deviceBusy = 0;
  dep.devices.forEach((d, i) => {
    const compute = meanDeviceMs(d);
    const log = net.logs[i];
    for (let k = 0; k < framesOf(d, endMs); k++) {
      const f = trace.count++;
      const created = d.phaseMs + (k * 1000) / d.fps;
      trace.device[f] = i;
      trace.created[f] = trace.headStart[f] = created;
      trace.headEnd[f] = created + compute;
      deviceBusy += compute;
      const recv = log?.recvS[k] ?? -2;
      if (!d.offload || recv === -2) {
        trace.status[f] = d.offload ? STATUS.exited : STATUS.local;
        trace.delivered[f] = trace.headEnd[f]!;
        continue;
      }
      trace.txStart[f] = trace.headEnd[f]!;
      if (recv < 0) {
        trace.status[f] = STATUS.lostUp;
        continue;
      }
      trace.serverArrival[f] = trace.headEnd[f]! + (recv - log!.sentS[k]!) * 1000;
      toServer.push(f);
    }
  });
  const serverMs = distMean(dep.server.compute);
  const serverBusy = serveInOrder(trace, toServer, dep.server.workers, serverMs);
  const down = dep.devices.map((d) => downlinkMs(dep, d));
  for (const f of toServer) {
    trace.status[f] = STATUS.done;
    trace.delivered[f] = trace.serverEnd[f]! + down[trace.device[f]!]!;
  }
  const summary = summariseTrace(dep, trace);
  return {
    ...summary,
    backend: 'ns3',
    packets: { sent: net.packets, lost: net.lost },
    utilisation: { device: deviceBusy / dep.devices.length / endMs, uplink: NaN, downlink: NaN, server: serverBusy / (dep.server.workers * endMs) },
    events: net.packets,
    wallMs: performance.now() - wallStart,
    notes: [
      'ns3: uplink packet by packet in ns-3; compute times are their means; server FIFO without batching; downlink analytic',
      ...(dep.server.batchMax > 1 ? ['ns3: batching is not simulated by this backend (des does)'] : []),
    ],
  };
}
