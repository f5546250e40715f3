/**
 * A frame over UDP: cut into datagrams, sent back to back, lost packet by packet. Without repair a frame is lost
 * when any of its packets is. Repair options: forward error correction (every `data` packets get `parity`
 * packets; a block survives up to `parity` losses, as with a Reed-Solomon erasure code), and
 * application-level retransmission (the receiver waits `timeoutMs` after the frame's last packet, NACKs what is
 * missing and the sender resends it, up to `rounds` times).
 */
import { IPV4_HEADER, UDP_HEADER, udpMaxPayload } from './framing.js';
import { arrivalMs, type Path } from './path.js';
import type { TransferOutcome } from './tcp.js';

export interface UdpOptions {
  /** Application bytes per datagram; default: the largest that fits the MTU (Split-Et-Impera: 1010). */
  payloadBytes?: number;
  fec?: { data: number; parity: number };
  retransmit?: { rounds: number; timeoutMs: number };
}

/** A sender's UDP socket: frames queue behind each other on the link. */
export interface UdpFlow {
  readonly path: Path;
  readonly options: UdpOptions;
  readonly payload: number;
  senderFreeMs: number;
}

export function udpFlow(path: Path, options: UdpOptions): UdpFlow {
  return { path, options, payload: options.payloadBytes ?? udpMaxPayload(path.mtu), senderFreeMs: -Infinity };
}

/** Data packets of a frame, and with FEC the number of blocks and packets in all. */
export function udpPackets(bytes: number, payload: number, fec?: UdpOptions['fec']): { data: number; blocks: number; total: number } {
  const data = Math.max(1, Math.ceil(bytes / payload));
  const blocks = fec ? Math.ceil(data / fec.data) : 1;
  return { data, blocks, total: data + (fec ? blocks * fec.parity : 0) };
}

/** IP packet sizes of a frame sent as UDP datagrams (parity packets last), and how many must arrive. */
export function udpIpSizes(bytes: number, payload: number, fec?: UdpOptions['fec']): { sizes: number[]; needed: number } {
  const { data, total } = udpPackets(bytes, payload, fec);
  const lastPayload = Math.max(0, bytes - (data - 1) * payload);
  const sizes = Array.from({ length: total }, (_, i) => IPV4_HEADER + UDP_HEADER + (i === data - 1 ? lastPayload : payload));
  return { sizes, needed: data };
}

/** Binomial tail P(X > r), X ~ Bin(n, p). */
function binomialAbove(n: number, p: number, r: number): number {
  let below = 0;
  let term = (1 - p) ** n; // P(X = 0)
  for (let x = 0; x <= Math.min(r, n); x++) {
    below += term;
    term *= ((n - x) / (x + 1)) * (p / (1 - p));
  }
  return Math.max(0, 1 - below);
}

/**
 * Probability that a frame of `bytes` is lost: 1 - (1-p)^n without repair; with FEC, that some block loses more
 * packets than it has parity; with retransmission alone, that some packet is lost in every one of its 1 + rounds
 * transmissions. (FEC and retransmission together: use the sampled estimate of `transferStats`.)
 */
export function udpFrameLossProbability(bytes: number, path: Pick<Path, 'loss' | 'mtu'>, options: UdpOptions): number {
  const p = path.loss;
  const payload = options.payloadBytes ?? udpMaxPayload(path.mtu);
  const { data, blocks } = udpPackets(bytes, payload, options.fec);
  const perPacket = options.retransmit ? p ** (options.retransmit.rounds + 1) : p;
  if (!options.fec) return 1 - (1 - perPacket) ** data;
  const { data: k, parity } = options.fec;
  let survive = 1;
  for (let b = 0; b < blocks; b++) {
    const inBlock = Math.min(k, data - b * k) + parity;
    survive *= 1 - binomialAbove(inBlock, perPacket, parity);
  }
  return 1 - survive;
}

/** Send one frame: one draw of its losses when `rand` is given, the lossless transfer when it is null. */
export function udpSend(f: UdpFlow, bytes: number, startMs: number, rand: (() => number) | null): TransferOutcome {
  const p = f.path;
  const { fec, retransmit } = f.options;
  const { data, blocks, total } = udpPackets(bytes, f.payload, fec);
  const header = IPV4_HEADER + UDP_HEADER + p.l2Bytes;
  const packetBits = (f.payload + header) * 8;
  const shortLast = (data * f.payload - Math.max(bytes, 1)) * 8;
  const s = Math.max(startMs, f.senderFreeMs);
  let end = p.rate.finish(s, total * packetBits - shortLast);
  const out: TransferOutcome = { endMs: 0, senderFreeMs: end, busyMs: end - s, packets: total, lost: 0, timeouts: 0, frameLost: false };
  let arrival = arrivalMs(p, end, rand);
  if (rand && p.loss > 0) {
    // missing[b]: packets block b still needs beyond what its parity covers
    const k = fec ? fec.data : data;
    const parity = fec ? fec.parity : 0;
    const missing = new Array<number>(blocks).fill(0);
    for (let b = 0; b < blocks; b++) {
      const inBlock = Math.min(k, data - b * k) + parity;
      let lost = 0;
      for (let j = 0; j < inBlock; j++) if (rand() < p.loss) lost++;
      out.lost += lost;
      missing[b] = Math.max(0, lost - parity);
    }
    let short = missing.reduce((a, b) => a + b, 0);
    const nackBits = (IPV4_HEADER + UDP_HEADER + p.l2Bytes + 8) * 8;
    for (let round = 0; short > 0 && retransmit && round < retransmit.rounds; round++) {
      const nackAt = p.reverse.finish(arrival + retransmit.timeoutMs, nackBits) + p.delayMs;
      const resendAt = Math.max(nackAt, end);
      end = p.rate.finish(resendAt, short * packetBits);
      out.busyMs += end - resendAt;
      out.packets += short;
      out.senderFreeMs = end;
      let still = 0;
      for (let j = 0; j < short; j++) if (rand() < p.loss) still++;
      out.lost += still;
      short = still;
      arrival = arrivalMs(p, end, rand);
    }
    out.frameLost = short > 0;
  }
  out.endMs = arrival;
  f.senderFreeMs = out.senderFreeMs;
  return out;
}
