/**
 * The two ns-3 scenarios as typed calls: a point-to-point link (one transfer over many seeds, or a stream of
 * frames) and a Wi-Fi cell (N stations sending frames to one access point). Parameters come from the same
 * Link and Transport the analytic models use, so both sides simulate the same thing.
 */
import { ImperaError } from '../../errors.js';
import type { Link } from '../link.js';
import type { TcpOptions } from '../tcp.js';
import type { Transport } from '../transfer.js';
import { udpMaxPayload } from '../framing.js';
import { runNs3, type Ns3Args } from './toolchain.js';

/**
 * Frames of one flow: when each was handed to the socket and when it had fully arrived, in s (-1: never; -2: not
 * sent, it left at an early exit).
 */
export interface FrameLog {
  sentS: number[];
  recvS: number[];
}

export interface Ns3Run extends FrameLog {
  seed: number;
  /** Data packets sent (TCP segments with payload, retransmissions included; UDP datagrams). */
  packets: number;
  /** Packets dropped (the loss model on a link; MAC drops in a Wi-Fi cell). */
  lost: number;
}

function tcpArgs(t: TcpOptions): Ns3Args {
  return {
    initialWindow: t.initialWindow,
    ackEvery: t.ackEvery,
    delayedAckMs: t.delayedAckMs,
    minRtoMs: t.minRtoMs,
    initialRtoMs: t.initialRtoMs,
    maxWindowBytes: t.maxWindowBytes,
    timestamps: t.timestamps,
    ...(t.segmentBytes ? { segmentBytes: t.segmentBytes } : {}),
  };
}

function transportArgs(transport: Transport, mtu: number): Ns3Args {
  if (transport.protocol === 'tcp') return { transport: 'tcp', ...tcpArgs(transport.tcp) };
  if (transport.udp.fec || transport.udp.retransmit) throw new ImperaError('BAD_SCENARIO', 'the ns-3 scenarios send plain UDP: FEC and application-level retransmission are modelled by the analytic and des backends only', 'drop transport.fec / transport.retransmit for --backend ns3');
  return { transport: 'udp', payloadBytes: transport.udp.payloadBytes ?? udpMaxPayload(mtu) };
}

/** ns-3 has no bandwidth traces, jitter or asymmetric loss: refuse links that use them rather than ignore them. */
function checkP2pLink(link: Link): void {
  const unsupported = [link.trace && 'a bandwidth trace', link.jitterMs > 0 && 'jitter', link.downLoss > 0 && 'downLoss', link.wifi && 'an 802.11 PHY (use a shared Wi-Fi network)'].filter(Boolean);
  if (unsupported.length) throw new ImperaError('BAD_SCENARIO', `the ns-3 point-to-point scenario cannot model ${unsupported.join(', ')} of link '${link.name}'`, 'use --backend des or analytic for this link');
  if (link.framing !== 'ppp') throw new ImperaError('BAD_SCENARIO', `ns-3's point-to-point device frames packets with PPP (2 bytes), not ${link.framing}: results would not be comparable`, "set the link's framing: ppp for --backend ns3");
}

export interface P2pRequest {
  link: Link;
  transport: Transport;
  bytes: number;
  /** bulk: one transfer per run over `runs` seeds (TCP counts the handshake if the transport asks for it). */
  mode: 'bulk' | 'frames';
  fps?: number;
  frames?: number;
  runs?: number;
  seed?: number;
  /** frames: probability a frame is sent (the others leave at an early exit; logged with recvS = -2). */
  keepProbability?: number;
}

export function p2pArgs(r: P2pRequest): Ns3Args {
  checkP2pLink(r.link);
  return {
    mode: r.mode,
    rateMbps: r.link.up.meanMbps,
    downMbps: r.link.down.meanMbps,
    delayMs: r.link.delayMs,
    loss: r.link.loss,
    mtu: r.link.mtu,
    bytes: r.bytes,
    handshake: r.transport.protocol === 'tcp' && r.transport.tcp.handshake,
    fps: r.fps ?? 30,
    frames: r.frames ?? 1,
    runs: r.runs ?? 1,
    seed: r.seed ?? 1,
    keepProbability: r.keepProbability ?? 1,
    ...transportArgs(r.transport, r.link.mtu),
  };
}

interface RawRun {
  seed: number;
  packets: number;
  lost: number;
  sent: number[];
  recv: number[];
}

const toRun = (r: RawRun): Ns3Run => ({ seed: r.seed, packets: r.packets, lost: r.lost, sentS: r.sent, recvS: r.recv });

export async function runP2p(binary: string, request: P2pRequest): Promise<Ns3Run[]> {
  const out = (await runNs3(binary, p2pArgs(request))) as { runs: RawRun[] };
  return out.runs.map(toRun);
}

export interface WifiRequest {
  link: Link;
  transport: Transport;
  bytes: number;
  fps: number;
  /** First frame offset of each station (ms); its length is the number of stations. */
  phasesMs: number[];
  durationS: number;
  /** When stations start sending (after association). */
  startS?: number;
  distanceM?: number;
  seed?: number;
  keepProbability?: number;
}

export interface WifiRun {
  seed: number;
  packets: number;
  lost: number;
  stations: FrameLog[];
}

export function wifiArgs(r: WifiRequest): Ns3Args {
  const phy = r.link.wifi;
  if (!phy) throw new ImperaError('BAD_SCENARIO', `link '${r.link.name}' is not a Wi-Fi channel: the ns-3 Wi-Fi cell needs an 802.11 PHY`, 'use a wifi-ac or wifi-n preset, or give the link a wifi: section');
  return {
    stations: r.phasesMs.length,
    standard: phy.standard,
    mcs: phy.mcs,
    widthMHz: phy.widthMHz,
    shortGuard: phy.shortGuard,
    maxAmpduBytes: phy.maxAmpduBytes,
    distance: r.distanceM ?? 5,
    loss: r.link.loss,
    bytes: r.bytes,
    fps: r.fps,
    durationS: r.durationS,
    startS: r.startS ?? 1,
    phasesMs: r.phasesMs.map((p) => p.toFixed(6)).join(','),
    seed: r.seed ?? 1,
    keepProbability: r.keepProbability ?? 1,
    ...transportArgs(r.transport, r.link.mtu),
  };
}

export async function runWifi(binary: string, request: WifiRequest): Promise<WifiRun> {
  const out = (await runNs3(binary, wifiArgs(request))) as { runs: (Omit<RawRun, 'sent' | 'recv'> & { stations: { sent: number[]; recv: number[] }[] })[] };
  const r = out.runs[0]!;
  return { seed: r.seed, packets: r.packets, lost: r.lost, stations: r.stations.map((s) => ({ sentS: s.sent, recvS: s.recv })) };
}
