/**
 * TCP transfer time, round by round (the classic round model of Cardwell, Savage & Anderson, "Modeling TCP
 * latency", INFOCOM 2000, extended with the link's serialisation so it holds from RTT-bound to
 * bandwidth-bound transfers). Each round the sender releases a window of segments when the first ACK of the
 * previous window returns; the link serialises them back to back behind anything still queued; the window grows
 * by one segment per ACK in slow start and by 1/cwnd per ACK in congestion avoidance (NewReno, no appropriate
 * byte counting, as ns-3 and RFC 5681 count), with one ACK per `ackEvery` segments (delayed ACKs).
 *
 * Loss (each data packet independently with the path's loss rate; ACKs are not lost): a loss followed by three
 * duplicate ACKs - from the segments behind it in its round, from the new segments the ACKs ahead of it release,
 * from limited transmit, or at the end of a frame from the next frame of a stream - is repaired by fast
 * retransmit: the lost segments are resent when the third duplicate ACK returns and the window halves
 * (SACK/PRR-style: one recovery round carrying the retransmissions and new data up to the halved window). A loss
 * without three duplicate ACKs (a tail loss, a tiny window), a lost retransmission, or a retransmission that
 * could not be acknowledged before the timer fires (RTT near minRto) waits for the retransmission timeout (RFC
 * 6298: srtt + 4 rttvar, at least minRto, doubling per consecutive timeout; RTT samples per ACK) and restarts
 * slow start from one segment. A lost SYN waits the initial RTO. Frames on one connection go one after another,
 * each from the state the previous one left. Without a random source the model is deterministic (no loss); with
 * one, each call is one draw, and `transferStats` (transfer.ts) turns draws into mean and percentiles.
 *
 * Times are in ms; windows in segments.
 */
import { tcpHeaderBytes, tcpMss, TCP_SYN_OPTIONS } from './framing.js';
import { arrivalMs, type Path } from './path.js';

export interface TcpOptions {
  /** Open the connection (SYN, SYN-ACK) before sending; false: the connection is already open. */
  handshake: boolean;
  /** Initial congestion window in segments (RFC 6928, Linux and ns-3: 10). */
  initialWindow: number;
  /** The receiver ACKs every this many segments (2: delayed ACKs, RFC 1122; 1: every segment). */
  ackEvery: number;
  /**
   * Delayed-ACK timer. 40 ms is Linux's minimum (TCP_ATO_MIN); ns-3's default 200 ms equals the 200 ms minimum
   * RTO, so a delayed ACK and a timeout fire together and recovery crawls one segment per timeout.
   */
  delayedAckMs: number;
  /** Lower bound of the retransmission timeout (Linux and Split-Et-Impera: 200 ms; RFC 6298 and ns-3: 1 s). */
  minRtoMs: number;
  /** RTO before any RTT sample, and the SYN timeout (RFC 6298: 1 s). */
  initialRtoMs: number;
  /** Largest window the buffers allow, in bytes (send and receive buffer; Linux tcp_wmem max: 4 MiB). */
  maxWindowBytes: number;
  /** Payload bytes per segment; default: the MSS of the path's MTU. */
  segmentBytes?: number;
  /** TCP timestamps (12 option bytes per segment; on in Linux and ns-3). */
  timestamps: boolean;
  /** RFC 2861 (Linux default): after idling longer than one RTO, the window restarts from the initial window. */
  restartAfterIdle: boolean;
}

export const TCP_DEFAULTS: TcpOptions = {
  handshake: false,
  initialWindow: 10,
  ackEvery: 2,
  delayedAckMs: 40,
  minRtoMs: 200,
  initialRtoMs: 1000,
  maxWindowBytes: 4 * 1024 * 1024,
  timestamps: true,
  restartAfterIdle: true,
};

/** What one transfer (one frame) did. */
export interface TransferOutcome {
  /** When the receiver has every byte (ms). */
  endMs: number;
  /** When the last bit left the sender. */
  senderFreeMs: number;
  /** Time the sender's link spent serialising this transfer's packets (for utilisation). */
  busyMs: number;
  /** Packets sent in the data direction, retransmissions included. */
  packets: number;
  /** Of those, lost. */
  lost: number;
  /** Retransmission timeouts (a lost SYN counts as one). */
  timeouts: number;
  /** The frame never arrived whole (UDP without enough repair). Always false for TCP. */
  frameLost: boolean;
}

/** A TCP connection's state between transfers (the DES sends a device's frames over one connection). */
export interface TcpConnection {
  readonly path: Path;
  readonly options: TcpOptions;
  readonly mss: number;
  open: boolean;
  cwnd: number;
  ssthresh: number;
  srttMs: number;
  rttvarMs: number;
  hasRtt: boolean;
  /** Segments received but not yet acknowledged (delayed ACK pairing carries across rounds). */
  unacked: number;
  senderFreeMs: number;
  lastDeliveryMs: number;
  lastActivityMs: number;
  /**
   * A stream of frames writes its next frame about this long after the last one: a loss at the end of a frame
   * is then repaired by the duplicate ACKs the next frame's segments cause, not by a timeout.
   */
  readonly streamPeriodMs: number | undefined;
}

export function tcpConnection(path: Path, options: TcpOptions, streamPeriodMs?: number): TcpConnection {
  const mss = options.segmentBytes ?? tcpMss(path.mtu, options.timestamps);
  return {
    path,
    options,
    mss,
    open: !options.handshake,
    cwnd: options.initialWindow,
    ssthresh: Infinity,
    srttMs: 0,
    rttvarMs: 0,
    hasRtt: false,
    unacked: 0,
    senderFreeMs: -Infinity,
    lastDeliveryMs: -Infinity,
    lastActivityMs: -Infinity,
    streamPeriodMs,
  };
}

/** RFC 6298's upper bound on a backed-off RTO. */
const MAX_RTO_MS = 60_000;

export function rtoMs(c: TcpConnection): number {
  if (!c.hasRtt) return c.options.initialRtoMs;
  return Math.max(c.options.minRtoMs, c.srttMs + Math.max(1, 4 * c.rttvarMs));
}

/**
 * RFC 6298 smoothing, once per ACK. A round's ACKs carry samples spread evenly from `firstMs` (its first
 * segment) to `lastMs` (its last, which waited behind the others), as a per-ACK estimator like ns-3's sees them.
 */
function sampleRtt(c: TcpConnection, firstMs: number, lastMs: number, acks: number): void {
  const n = Math.min(acks, 64); // later updates change nothing measurable
  for (let i = 0; i < n; i++) {
    const sample = n === 1 ? firstMs : firstMs + ((lastMs - firstMs) * i) / (n - 1);
    if (!c.hasRtt) {
      c.srttMs = sample;
      c.rttvarMs = sample / 2;
      c.hasRtt = true;
      continue;
    }
    c.rttvarMs = 0.75 * c.rttvarMs + 0.25 * Math.abs(c.srttMs - sample);
    c.srttMs = 0.875 * c.srttMs + 0.125 * sample;
  }
}

function growWindow(c: TcpConnection, acks: number): void {
  for (let i = 0; i < acks; i++) c.cwnd += c.cwnd < c.ssthresh ? 1 : 1 / c.cwnd;
}

/** Open the connection: SYN (retried after the initial RTO, doubling, while lost) and SYN-ACK. Returns when data may go. */
function handshake(c: TcpConnection, startMs: number, rand: (() => number) | null, out: TransferOutcome): number {
  const p = c.path;
  const synBits = (tcpHeaderBytes(false) + TCP_SYN_OPTIONS + p.l2Bytes) * 8;
  const ackBits = (tcpHeaderBytes(c.options.timestamps) + p.l2Bytes) * 8;
  let sendAt = Math.max(startMs, c.senderFreeMs);
  for (let tries = 0; ; tries++) {
    const synEnd = p.rate.finish(sendAt, synBits);
    out.packets++;
    if (rand && p.loss > 0 && rand() < p.loss) {
      out.lost++;
      out.timeouts++;
      sendAt += c.options.initialRtoMs * 2 ** tries;
      continue;
    }
    const synAck = p.reverse.finish(synEnd + p.delayMs, synBits) + p.delayMs;
    sampleRtt(c, synAck - sendAt, synAck - sendAt, 1);
    c.open = true;
    // the client's ACK of the SYN-ACK goes out first, then data
    c.senderFreeMs = p.rate.finish(synAck, ackBits);
    return synAck;
  }
}

/** One transfer in progress: its fixed sizes, what is left to send, and where the sender stands. */
interface Transfer {
  readonly c: TcpConnection;
  readonly rand: (() => number) | null;
  readonly canLose: boolean;
  readonly out: TransferOutcome;
  /** When the application's write takes effect (after the previous frame of the connection). */
  readonly writeAt: number;
  readonly segBits: number;
  readonly ackBits: number;
  /** Bits the last segment lacks. */
  readonly shortLast: number;
  readonly maxWindow: number;
  unsent: number;
  /** Lost segments awaiting retransmission. */
  pending: number;
  /** This round is fast recovery: retransmissions first, window already halved. */
  recovery: boolean;
  backoff: number;
  linkFree: number;
  /** How long the previous round's ACKs took to arrive, i.e. over which this round is released. */
  releaseSpan: number;
  roundStart: number;
}

/** One window sent back to back: its retransmitted and new segments, when it left, and what of it was lost. */
interface Round {
  start: number;
  end: number;
  k: number;
  kRetx: number;
  kNew: number;
  firstLost: number;
  nLost: number;
  retxLost: boolean;
}

/**
 * Send `bytes` over the connection from `startMs` (the application's write). One draw when `rand` is given
 * (packet losses), the deterministic lossless transfer when it is null. Updates the connection's state.
 */
export function tcpSend(c: TcpConnection, bytes: number, startMs: number, rand: (() => number) | null): TransferOutcome {
  const t = startTransfer(c, bytes, startMs, rand);
  for (;;) {
    const r = sendRound(t);
    if (r.nLost > 0) recoverFromLoss(t, r);
    else if (t.unsent > 0 || t.pending > 0) acknowledgeRound(t, r);
    else {
      t.out.endMs = arrivalMs(c.path, r.end, rand);
      break;
    }
  }
  t.out.endMs = Math.max(t.out.endMs, c.lastDeliveryMs); // a byte stream delivers frames in order
  t.out.senderFreeMs = t.linkFree;
  c.senderFreeMs = t.linkFree;
  c.lastDeliveryMs = t.out.endMs;
  c.lastActivityMs = t.out.endMs;
  return t.out;
}

/** Open the connection if needed, restart an idle window, and size the segments. */
function startTransfer(c: TcpConnection, bytes: number, startMs: number, rand: (() => number) | null): Transfer {
  const p = c.path;
  const o = c.options;
  const out: TransferOutcome = { endMs: startMs, senderFreeMs: startMs, busyMs: 0, packets: 0, lost: 0, timeouts: 0, frameLost: false };
  // Frames on one connection are modelled one after another: a frame starts once the previous one is
  // delivered (its state - window, RTT estimate - is what this one starts from).
  const writeAt = Math.max(startMs, c.lastDeliveryMs - p.delayMs);
  const roundStart = c.open ? writeAt : handshake(c, writeAt, rand, out);
  if (o.restartAfterIdle && c.hasRtt && roundStart - c.lastActivityMs > rtoMs(c)) c.cwnd = Math.min(c.cwnd, o.initialWindow);
  const headerBytes = tcpHeaderBytes(o.timestamps) + p.l2Bytes;
  const total = Math.max(1, Math.ceil(bytes / c.mss));
  return {
    c,
    rand,
    canLose: rand !== null && p.loss > 0,
    out,
    writeAt,
    segBits: (c.mss + headerBytes) * 8,
    ackBits: headerBytes * 8,
    shortLast: (total * c.mss - Math.max(bytes, 1)) * 8,
    maxWindow: Math.max(1, Math.floor(o.maxWindowBytes / c.mss)),
    unsent: total,
    pending: 0,
    recovery: false,
    backoff: 1,
    linkFree: Math.max(c.senderFreeMs, roundStart),
    releaseSpan: 0,
    roundStart,
  };
}

/** When the ACK of a segment that arrives at `segmentArrival` is back at the sender. */
const ackReturn = (t: Transfer, segmentArrival: number): number => t.c.path.reverse.finish(segmentArrival, t.ackBits) + t.c.path.delayMs;

/** When `n` segments from `from` have left the sender. */
const sendSegments = (t: Transfer, from: number, n: number, carriesLast: boolean): number => t.c.path.rate.finish(from, n * t.segBits - (carriesLast ? t.shortLast : 0));

/** When the round's `j`th segment (0: none yet) has left the sender. */
const segmentEnd = (t: Transfer, r: Round, j: number): number => (j >= r.k ? r.end : t.c.path.rate.finish(r.start, j * t.segBits));

function countLosses(t: Transfer, n: number): number {
  let lost = 0;
  if (t.canLose) for (let j = 0; j < n; j++) if (t.rand!() < t.c.path.loss) lost++;
  return lost;
}

/** Release a window: retransmissions first, then new segments, and draw which are lost. */
function sendRound(t: Transfer): Round {
  const window = Math.max(1, Math.min(Math.floor(t.c.cwnd), t.maxWindow));
  const kRetx = t.recovery ? t.pending : Math.min(t.pending, window);
  const kNew = t.recovery ? Math.min(t.unsent, Math.max(0, window - t.pending)) : Math.min(t.unsent, window - kRetx);
  const k = kRetx + kNew;
  const start = Math.max(t.roundStart, t.linkFree);
  const end = sendSegments(t, start, k, kNew > 0 && kNew === t.unsent);
  t.linkFree = end;
  t.out.busyMs += end - start;
  t.out.packets += k;
  const r: Round = { start, end, k, kRetx, kNew, firstLost: -1, nLost: 0, retxLost: false };
  if (t.canLose) {
    for (let j = 0; j < k; j++) {
      if (t.rand!() >= t.c.path.loss) continue;
      r.nLost++;
      if (r.firstLost < 0) r.firstLost = j;
      if (j < kRetx) r.retxLost = true;
    }
  }
  t.out.lost += r.nLost;
  t.unsent -= kNew;
  t.pending = t.pending - kRetx + r.nLost;
  return r;
}

/** A round without loss: its ACKs grow the window, give RTT samples, and the first one releases the next round. */
function acknowledgeRound(t: Transfer, r: Round): void {
  const { c } = t;
  const o = c.options;
  const p = c.path;
  // the round's first ACK releases the next window: after ackEvery segments, or the delayed-ACK timer; a
  // retransmission filling a hole is acknowledged at once
  const firstAcked = r.kRetx > 0 ? 1 : o.ackEvery - c.unacked;
  const ackAt = firstAcked <= r.k ? ackReturn(t, segmentEnd(t, r, firstAcked) + p.delayMs) : ackReturn(t, r.end + p.delayMs + o.delayedAckMs);
  const acks = Math.max(1, Math.floor((r.k + c.unacked) / o.ackEvery));
  c.unacked = (r.k + c.unacked) % o.ackEvery;
  if (t.recovery) t.recovery = false;
  else growWindow(c, acks);
  // RTT samples run from the first segment's to the last one's, which queued behind the whole round
  const lastAck = ackReturn(t, r.end + p.delayMs);
  sampleRtt(c, ackAt - t.roundStart, lastAck - Math.min(t.roundStart + t.releaseSpan, r.end), acks);
  t.releaseSpan = lastAck - ackAt;
  t.backoff = 1;
  t.roundStart = ackAt;
}

/** A round with losses: fast retransmit if three duplicate ACKs come back before the timer fires, else a timeout. */
function recoverFromLoss(t: Transfer, r: Round): void {
  const { c } = t;
  const p = c.path;
  const slowStart = c.cwnd < c.ssthresh;
  c.ssthresh = Math.max(2, Math.floor(r.k / 2));
  const followers = sendFollowers(t, r, slowStart);
  const dupAcks = r.k - r.firstLost - r.nLost + followers.sent - followers.lost;
  // the ACK of the segments ahead of the loss last restarted the retransmission timer
  const lastAdvance = r.firstLost > 0 && !r.retxLost ? ackReturn(t, segmentEnd(t, r, r.firstLost) + p.delayMs) : t.roundStart;
  const timeoutAt = lastAdvance + Math.min(MAX_RTO_MS, rtoMs(c) * t.backoff);
  const dupAt = thirdDuplicateAck(t, r, dupAcks, followers.from);
  // the retransmission must be acknowledged before the timer fires, or the timeout wins (RTT near minRto)
  const fastRetransmit = !r.retxLost && dupAt !== undefined && ackReturn(t, p.rate.finish(Math.max(dupAt, t.linkFree), t.segBits) + p.delayMs) < timeoutAt;
  if (fastRetransmit) {
    t.roundStart = dupAt;
    c.cwnd = c.ssthresh;
    t.recovery = true;
  } else {
    t.roundStart = timeoutAt;
    t.backoff *= 2;
    t.out.timeouts++;
    c.cwnd = 1;
    t.recovery = false;
  }
  c.unacked = 0;
}

/**
 * Before the loss is detected the ACKs of the segments ahead of it slide the window (and grow it in slow
 * start): those new segments follow, plus two limited-transmit segments (RFC 3042). Their duplicate ACKs and
 * those of the segments behind the loss in this round trigger fast retransmit; only a loss near the end of the
 * data or in a tiny window lacks three.
 */
function sendFollowers(t: Transfer, r: Round, slowStart: boolean): { sent: number; lost: number; from: number } {
  const o = t.c.options;
  const sent = Math.min(t.unsent, r.firstLost + (slowStart ? Math.floor(r.firstLost / o.ackEvery) : 0) + 2);
  const from = Math.max(ackReturn(t, segmentEnd(t, r, Math.min(r.k, r.firstLost >= o.ackEvery ? o.ackEvery : r.firstLost + 2)) + t.c.path.delayMs), t.linkFree);
  if (sent > 0) {
    t.linkFree = sendSegments(t, from, sent, sent === t.unsent);
    t.out.busyMs += t.linkFree - from;
  }
  const lost = countLosses(t, sent);
  t.out.packets += sent;
  t.out.lost += lost;
  t.unsent -= sent;
  t.pending += lost;
  return { sent, lost, from };
}

/**
 * When the third duplicate ACK returns: from a segment of this round, from a follower, or - at the end of the
 * data of a stream - from the next frame's first segments; undefined when none comes.
 */
function thirdDuplicateAck(t: Transfer, r: Round, dupAcks: number, followersFrom: number): number | undefined {
  const p = t.c.path;
  const third = r.firstLost + 2 + r.nLost;
  if (dupAcks >= 3) return third < r.k ? ackReturn(t, segmentEnd(t, r, third + 1) + p.delayMs) : ackReturn(t, p.rate.finish(followersFrom, (third - r.k + 1) * t.segBits) + p.delayMs);
  if (t.c.streamPeriodMs === undefined) return undefined;
  const nextFrameAt = Math.max(t.writeAt + t.c.streamPeriodMs, t.linkFree);
  return ackReturn(t, p.rate.finish(nextFrameAt, (3 - dupAcks) * t.segBits) + p.delayMs);
}
