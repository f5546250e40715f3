/**
 * Transports as configured (TCP or UDP with their options), flows that send frames one after another, and the
 * distribution of one frame's transfer time (mean, percentiles, losses) from repeated draws of the link model.
 */
import { z } from 'zod';
import { ImperaError } from '../errors.js';
import { zodMessage } from '../util/config.js';
import type { Path } from './path.js';
import { summarize, type Summary } from './time-summary.js';
import { TCP_DEFAULTS, tcpConnection, tcpSend, type TcpOptions, type TransferOutcome } from './tcp.js';
import { udpFlow, udpSend, type UdpOptions } from './udp.js';
import { seededRandom } from '../util/random.js';

const ms = (what: string) => z.number().nonnegative(`${what} must be >= 0 ms`);
const count = (what: string) => z.number().int(`${what} must be a whole number`).positive(`${what} must be at least 1`);

export const transportSchema = z.discriminatedUnion('protocol', [
  z
    .object({
      protocol: z.literal('tcp'),
      handshake: z.boolean().optional(),
      initialWindow: count('initialWindow').optional(),
      ackEvery: count('ackEvery').optional(),
      delayedAckMs: ms('delayedAckMs').optional(),
      minRtoMs: z.number().positive('minRtoMs must be > 0').optional(),
      initialRtoMs: z.number().positive('initialRtoMs must be > 0').optional(),
      maxWindowBytes: count('maxWindowBytes').optional(),
      segmentBytes: count('segmentBytes').optional(),
      timestamps: z.boolean().optional(),
      restartAfterIdle: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      protocol: z.literal('udp'),
      payloadBytes: count('payloadBytes').optional(),
      fec: z.object({ data: count('fec.data'), parity: z.number().int().nonnegative('fec.parity must be >= 0') }).strict().optional(),
      retransmit: z.object({ rounds: z.number().int().nonnegative('retransmit.rounds must be >= 0'), timeoutMs: ms('retransmit.timeoutMs') }).strict().optional(),
    })
    .strict(),
]);

export type TransportConfig = z.infer<typeof transportSchema>;
export type Transport = { protocol: 'tcp'; tcp: TcpOptions } | { protocol: 'udp'; udp: UdpOptions };

export function resolveTransport(config: unknown, where = 'transport'): Transport {
  const parsed = transportSchema.safeParse(config);
  if (!parsed.success) throw new ImperaError('BAD_SCENARIO', zodMessage(where, parsed.error), "protocol is 'tcp' or 'udp'; see `impera simulate --help`");
  const { protocol, ...options } = parsed.data;
  return protocol === 'tcp' ? { protocol, tcp: { ...TCP_DEFAULTS, ...options } } : { protocol, udp: options as UdpOptions };
}

/** Frames sent one after another over one connection or socket. */
export interface Flow {
  send(bytes: number, startMs: number, rand: (() => number) | null): TransferOutcome;
}

/** A flow; `streamPeriodMs`: the frames come about this often (lets TCP repair end-of-frame losses as a stream does). */
export function openFlow(path: Path, transport: Transport, streamPeriodMs?: number): Flow {
  if (transport.protocol === 'tcp') {
    const conn = tcpConnection(path, transport.tcp, streamPeriodMs);
    return { send: (bytes, startMs, rand) => tcpSend(conn, bytes, startMs, rand) };
  }
  const flow = udpFlow(path, transport.udp);
  return { send: (bytes, startMs, rand) => udpSend(flow, bytes, startMs, rand) };
}

/** One frame's transfer on a fresh flow, over many draws. */
export interface TransferStats {
  bytes: number;
  /** The transfer time with no loss (deterministic). */
  losslessMs: number;
  /** Over delivered frames (all frames for TCP). */
  time: Summary;
  packets: number;
  /** Mean packets lost per frame. */
  lostPackets: number;
  frameLossRate: number;
  timeouts: number;
}

export interface DrawOptions {
  samples?: number;
  seed?: number;
  startMs?: number;
  /**
   * Draw consecutive frames of one flow, one every periodMs (or when the previous one is through, if later),
   * instead of each on a fresh flow: a TCP connection then carries its window and RTT estimate from frame to
   * frame, as a stream of frames does, while no frame waits behind another.
   */
  periodMs?: number;
}

const shifted = (o: TransferOutcome, by: number): TransferOutcome => ({ ...o, endMs: o.endMs - by, senderFreeMs: o.senderFreeMs - by });

/**
 * Draws of one frame's transfer starting at `startMs` (default 0): the lossless transfer, and `samples` draws
 * (default 2000) when loss or jitter make it random (just the lossless one otherwise). Times of periodic draws
 * are relative to each frame's start.
 */
export function drawTransfers(path: Path, transport: Transport, bytes: number, options: DrawOptions = {}): { lossless: TransferOutcome; draws: TransferOutcome[] } {
  const startMs = options.startMs ?? 0;
  const lossless = openFlow(path, transport).send(bytes, startMs, null);
  const random = path.loss > 0 || path.jitterMs > 0;
  const period = options.periodMs;
  if (!random && period === undefined) return { lossless, draws: [lossless] };
  const rand = random ? seededRandom(options.seed ?? 1) : null;
  const samples = random ? (options.samples ?? 2000) : 64; // a lossless stream settles within a few frames
  if (period === undefined) return { lossless, draws: Array.from({ length: samples }, () => openFlow(path, transport).send(bytes, startMs, rand)) };
  const flow = openFlow(path, transport, period);
  let free = startMs;
  const draws = Array.from({ length: samples }, (_, k) => {
    const at = Math.max(startMs + k * period, free);
    const o = flow.send(bytes, at, rand);
    free = Math.max(o.endMs, o.senderFreeMs);
    return shifted(o, at - startMs);
  });
  return { lossless, draws };
}

/** Transfer-time distribution of one frame of `bytes`: mean and percentiles, losses, timeouts. */
export function transferStats(path: Path, transport: Transport, bytes: number, options: DrawOptions = {}): TransferStats {
  const startMs = options.startMs ?? 0;
  const { lossless, draws } = drawTransfers(path, transport, bytes, options);
  const n = draws.length;
  const sum = (f: (o: TransferOutcome) => number) => draws.reduce((a, o) => a + f(o), 0) / n;
  return {
    bytes,
    losslessMs: lossless.endMs - startMs,
    time: summarize(draws.filter((o) => !o.frameLost).map((o) => o.endMs - startMs)),
    packets: sum((o) => o.packets),
    lostPackets: sum((o) => o.lost),
    frameLossRate: sum((o) => (o.frameLost ? 1 : 0)),
    timeouts: sum((o) => o.timeouts),
  };
}
