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

/**
 * Send `bytes` over the connection from `startMs` (the application's write). One draw when `rand` is given
 * (packet losses), the deterministic lossless transfer when it is null. Updates the connection's state.
 */
export function tcpSend(c: TcpConnection, bytes: number, startMs: number, rand: (() => number) | null): TransferOutcome {
  const p = c.path;
  const o = c.options;
  const out: TransferOutcome = { endMs: startMs, senderFreeMs: startMs, busyMs: 0, packets: 0, lost: 0, timeouts: 0, frameLost: false };
  // Frames on one connection are modelled one after another: a frame starts once the previous one is
  // delivered (its state - window, RTT estimate - is what this one starts from).
  const writeAt = Math.max(startMs, c.lastDeliveryMs - p.delayMs);
  let roundStart = c.open ? writeAt : handshake(c, writeAt, rand, out);
  if (o.restartAfterIdle && c.hasRtt && roundStart - c.lastActivityMs > rtoMs(c)) c.cwnd = Math.min(c.cwnd, o.initialWindow);

  const headerBytes = tcpHeaderBytes(o.timestamps) + p.l2Bytes;
  const segBits = (c.mss + headerBytes) * 8;
  const ackBits = headerBytes * 8;
  const total = Math.max(1, Math.ceil(bytes / c.mss));
  const shortLast = (total * c.mss - Math.max(bytes, 1)) * 8; // bits the last segment lacks
  const maxWindow = Math.max(1, Math.floor(o.maxWindowBytes / c.mss));
  const canLose = rand !== null && p.loss > 0;
  const ackReturn = (segmentArrival: number) => p.reverse.finish(segmentArrival, ackBits) + p.delayMs;

  let unsent = total;
  let pending = 0; // lost segments awaiting retransmission
  let recovery = false; // this round is fast recovery: retransmissions first, window already halved
  let backoff = 1;
  let linkFree = Math.max(c.senderFreeMs, roundStart);
  let releaseSpan = 0; // how long the previous round's ACKs took to arrive, i.e. over which this round is released
  const sendSegments = (from: number, n: number, carriesLast: boolean) => p.rate.finish(from, n * segBits - (carriesLast ? shortLast : 0));
  const countLosses = (n: number) => {
    let lost = 0;
    if (canLose) for (let j = 0; j < n; j++) if (rand!() < p.loss) lost++;
    return lost;
  };
  for (;;) {
    const window = Math.max(1, Math.min(Math.floor(c.cwnd), maxWindow));
    const kRetx = recovery ? pending : Math.min(pending, window);
    const kNew = recovery ? Math.min(unsent, Math.max(0, window - pending)) : Math.min(unsent, window - kRetx);
    const k = kRetx + kNew;
    const s = Math.max(roundStart, linkFree);
    const end = sendSegments(s, k, kNew > 0 && kNew === unsent);
    const segmentEnd = (j: number) => (j >= k ? end : p.rate.finish(s, j * segBits));
    linkFree = end;
    out.busyMs += end - s;
    out.packets += k;

    let firstLost = -1;
    let nLost = 0;
    let retxLost = false;
    if (canLose) {
      for (let j = 0; j < k; j++) {
        if (rand!() >= p.loss) continue;
        nLost++;
        if (firstLost < 0) firstLost = j;
        if (j < kRetx) retxLost = true;
      }
    }
    out.lost += nLost;
    unsent -= kNew;
    pending = pending - kRetx + nLost;

    if (nLost === 0) {
      if (unsent === 0 && pending === 0) {
        out.endMs = arrivalMs(p, end, rand);
        break;
      }
      // the round's first ACK releases the next window: after ackEvery segments, or the delayed-ACK timer; a
      // retransmission filling a hole is acknowledged at once
      const firstAcked = kRetx > 0 ? 1 : o.ackEvery - c.unacked;
      const ackAt = firstAcked <= k ? ackReturn(segmentEnd(firstAcked) + p.delayMs) : ackReturn(end + p.delayMs + o.delayedAckMs);
      const acks = Math.max(1, Math.floor((k + c.unacked) / o.ackEvery));
      c.unacked = (k + c.unacked) % o.ackEvery;
      if (recovery) recovery = false;
      else growWindow(c, acks);
      // RTT samples run from the first segment's to the last one's, which queued behind the whole round
      const lastAck = ackReturn(end + p.delayMs);
      sampleRtt(c, ackAt - roundStart, lastAck - Math.min(roundStart + releaseSpan, end), acks);
      releaseSpan = lastAck - ackAt;
      backoff = 1;
      roundStart = ackAt;
      continue;
    }

    const slowStart = c.cwnd < c.ssthresh;
    c.ssthresh = Math.max(2, Math.floor(k / 2));
    // Before the loss is detected the ACKs of the segments ahead of it slide the window (and grow it in slow
    // start): those new segments follow, plus two limited-transmit segments (RFC 3042). Their duplicate ACKs
    // and those of the segments behind the loss in this round trigger fast retransmit; only a loss near the end
    // of the data or in a tiny window lacks three.
    const followers = Math.min(unsent, firstLost + (slowStart ? Math.floor(firstLost / o.ackEvery) : 0) + 2);
    const followersFrom = Math.max(ackReturn(segmentEnd(Math.min(k, firstLost >= o.ackEvery ? o.ackEvery : firstLost + 2)) + p.delayMs), linkFree);
    if (followers > 0) {
      linkFree = sendSegments(followersFrom, followers, followers === unsent);
      out.busyMs += linkFree - followersFrom;
    }
    const followersLost = countLosses(followers);
    out.packets += followers;
    out.lost += followersLost;
    unsent -= followers;
    pending += followersLost;
    const dupAcks = k - firstLost - nLost + followers - followersLost;
    // the ACK of the segments ahead of the loss last restarted the retransmission timer
    const lastAdvance = firstLost > 0 && !retxLost ? ackReturn(segmentEnd(firstLost) + p.delayMs) : roundStart;
    const timeoutAt = lastAdvance + Math.min(MAX_RTO_MS, rtoMs(c) * backoff);
    // the third duplicate ACK: from a segment of this round, from a follower, or - at the end of the data of a
    // stream - from the next frame's first segments, if it comes before the timer fires
    const third = firstLost + 2 + nLost;
    const nextFrameAt = c.streamPeriodMs === undefined ? undefined : Math.max(writeAt + c.streamPeriodMs, linkFree);
    const dupAt =
      dupAcks >= 3 ? (third < k ? ackReturn(segmentEnd(third + 1) + p.delayMs) : ackReturn(p.rate.finish(followersFrom, (third - k + 1) * segBits) + p.delayMs))
      : nextFrameAt !== undefined ? ackReturn(p.rate.finish(nextFrameAt, (3 - dupAcks) * segBits) + p.delayMs)
      : undefined;
    let fastRetransmit = false;
    if (!retxLost && dupAt !== undefined) {
      // the retransmission must be acknowledged before the timer fires, or the timeout wins (RTT near minRto)
      const retransmissionAcked = ackReturn(p.rate.finish(Math.max(dupAt, linkFree), segBits) + p.delayMs);
      if (retransmissionAcked < timeoutAt) {
        roundStart = dupAt;
        c.cwnd = c.ssthresh;
        recovery = true;
        fastRetransmit = true;
      }
    }
    if (!fastRetransmit) {
      roundStart = timeoutAt;
      backoff *= 2;
      out.timeouts++;
      c.cwnd = 1;
      recovery = false;
    }
    c.unacked = 0;
  }
  out.endMs = Math.max(out.endMs, c.lastDeliveryMs); // a byte stream delivers frames in order
  out.senderFreeMs = linkFree;
  c.senderFreeMs = linkFree;
  c.lastDeliveryMs = out.endMs;
  c.lastActivityMs = out.endMs;
  return out;
}
