import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { pathOf } from '../../src/net/path.js';
import { TCP_DEFAULTS, tcpConnection, tcpSend, type TcpOptions } from '../../src/net/tcp.js';
import { resolveTransport, transferStats } from '../../src/net/transfer.js';
import { seededRandom } from '../../src/util/random.js';

/** A point-to-point path (2-byte PPP framing, as ns-3's device adds). */
const path = (upMbps: number, delayMs: number, loss = 0) => pathOf(resolveLink({ upMbps, delayMs, framing: 'ppp', loss }), 'up');
const send = (p: ReturnType<typeof path>, bytes: number, options: Partial<TcpOptions> = {}, rand: (() => number) | null = null) => tcpSend(tcpConnection(p, { ...TCP_DEFAULTS, ...options }), bytes, 0, rand);
/** A random source that loses exactly the packets whose positions (0-based, in sending order) are listed. */
const losing = (...lost: number[]) => {
  let i = 0;
  return () => (lost.includes(i++) ? 0 : 0.999);
};

describe('TCP without loss (hand-computed)', () => {
  it('one segment on an open connection: its serialisation plus the one-way delay', () => {
    // 1,000 B + 20 IP + 20 TCP + 12 timestamps + 2 PPP = 1,054 B = 8,432 bits at 8 Mb/s = 1.054 ms, + 5 ms
    expect(send(path(8, 5), 1000).endMs).toBeCloseTo(6.054, 9);
  });

  it('a new connection adds SYN and SYN-ACK, then the client ACK goes before the data', () => {
    // SYN / SYN-ACK 20 + 20 + 20 options + 2 = 62 B (0.062 ms each) with 5 ms each way, ACK 54 B (0.054 ms)
    expect(send(path(8, 5), 1000, { handshake: true }).endMs).toBeCloseTo(0.062 + 5 + 0.062 + 5 + 0.054 + 1.054 + 5, 9);
  });

  it('slow start from the initial window: 25 segments take two rounds (10, then 15 after 5 delayed ACKs)', () => {
    // at 100 Gb/s serialisation is negligible: the second round starts when the first ACK is back (one RTT),
    // and the data is in one more one-way delay later
    const t = send(path(1e5, 10), 25 * 1448).endMs;
    expect(t).toBeGreaterThan(30);
    expect(t).toBeLessThan(30.05);
    // 26 segments need a third round: the window after round two is 15 + 7 = 22 > 1 left
    expect(send(path(1e5, 10), 26 * 1448).endMs).toBeGreaterThan(50);
    // with an initial window of 30, one round
    expect(send(path(1e5, 10), 25 * 1448, { initialWindow: 30 }).endMs).toBeLessThan(10.05);
  });

  it('a long transfer on a slow link runs at line rate once the window covers the pipe', () => {
    const bytes = 10_000_000;
    const segments = Math.ceil(bytes / 1448);
    const lineRateMs = ((bytes + segments * 54) * 8) / 1000; // 1 Mb/s = 1,000 bits per ms
    const t = send(path(1, 0.5), bytes).endMs;
    expect(t).toBeGreaterThan(lineRateMs);
    expect(t).toBeLessThan(lineRateMs * 1.001 + 2);
  });

  it('is limited by the largest window: 1 MB with a 64 KiB buffer over 100 ms needs ~16 round trips', () => {
    const t = send(path(1e4, 50), 1_000_000, { maxWindowBytes: 65536, initialWindow: 45 }).endMs;
    // 65,536 / 1,448 = 45 segments per round, 691 segments: 16 rounds of 100 ms, the data in 50 ms more
    expect(t).toBeGreaterThan(1550);
    expect(t).toBeLessThan(1560);
  });
});

describe('TCP with loss', () => {
  it('repairs a loss with three duplicate ACKs behind it by fast retransmit, without a timeout', () => {
    const o = send(path(100, 5, 0.5), 40 * 1448, {}, losing(3));
    expect(o.timeouts).toBe(0);
    expect(o.lost).toBe(1);
    expect(o.packets).toBe(41);
    const clean = send(path(100, 5), 40 * 1448).endMs;
    expect(o.endMs).toBeGreaterThan(clean);
    expect(o.endMs - clean).toBeLessThan(50); // a few round trips (10 ms each), far below the 200 ms minimum RTO
  });

  it('waits for the retransmission timeout when the last segment is lost (no duplicate ACKs follow it)', () => {
    // in the second round the RTT is known: RTO = max(200 ms, srtt + 4 rttvar) = 200 ms
    const o = send(path(100, 5, 0.5), 15 * 1448, {}, losing(14));
    expect(o.timeouts).toBe(1);
    expect(o.endMs).toBeGreaterThan(210);
    expect(o.endMs).toBeLessThan(240);
    // in the first round there is no sample yet: the initial RTO, 1 s
    expect(send(path(100, 5, 0.5), 5 * 1448, {}, losing(4)).endMs).toBeGreaterThan(1000);
  });

  it('a lost SYN costs the initial RTO (1 s), doubling on each further loss', () => {
    expect(send(path(100, 5, 0.5), 1000, { handshake: true }, losing(0)).endMs).toBeGreaterThan(1000);
    const twice = send(path(100, 5, 0.5), 1000, { handshake: true }, losing(0, 1));
    expect(twice.timeouts).toBe(2);
    expect(twice.endMs).toBeGreaterThan(3000);
    expect(twice.endMs).toBeLessThan(3020);
  });

  it('expected time of one segment = lossless + sum_k p^k RTO 2^(k-1) = T0 + RTO p / (1 - 2p)', () => {
    const p = path(8, 5, 0.1);
    const t0 = send(p, 1000).endMs;
    const stats = transferStats(p, resolveTransport({ protocol: 'tcp' }), 1000, { samples: 40_000, seed: 3 });
    const expected = t0 + (1000 * 0.1) / (1 - 0.2); // no RTT sample yet: the initial RTO of 1 s
    expect(Math.abs(stats.time.mean - expected)).toBeLessThan(4 * stats.time.stdErr);
    expect(stats.time.p50).toBeCloseTo(t0, 9);
    expect(stats.lostPackets).toBeCloseTo(0.1 / 0.9, 1);
  });

  it('is deterministic under a seed', () => {
    const p = path(10, 10, 0.02);
    const tcp = resolveTransport({ protocol: 'tcp', handshake: true });
    const a = transferStats(p, tcp, 200_000, { samples: 300, seed: 5 });
    expect(transferStats(p, tcp, 200_000, { samples: 300, seed: 5 })).toEqual(a);
    expect(transferStats(p, tcp, 200_000, { samples: 300, seed: 6 }).time.mean).not.toBe(a.time.mean);
  });

  it('gets slower with more loss, and slower on longer round trips', () => {
    const tcp = resolveTransport({ protocol: 'tcp' });
    const mean = (loss: number, delay: number) => transferStats(path(100, delay, loss), tcp, 1_000_000, { samples: 400, seed: 1 }).time.mean;
    expect(mean(0.01, 5)).toBeGreaterThan(mean(0, 5));
    expect(mean(0.05, 5)).toBeGreaterThan(mean(0.01, 5));
    expect(mean(0.01, 25)).toBeGreaterThan(mean(0.01, 5));
  });

  it('frames on one connection arrive in order and start from the window the last one left', () => {
    const c = tcpConnection(path(100, 5), TCP_DEFAULTS);
    const first = tcpSend(c, 100_000, 0, null);
    const second = tcpSend(c, 100_000, 50, null);
    // the window grew during the first frame: the second needs fewer rounds
    expect(second.endMs - 50).toBeLessThan(first.endMs);
    const rand = seededRandom(1);
    let last = 0;
    for (let k = 0; k < 50; k++) {
      const o = tcpSend(c, 100_000, 100 + 2 * k, rand);
      expect(o.endMs).toBeGreaterThanOrEqual(last);
      last = o.endMs;
    }
  });
});
