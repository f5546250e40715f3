import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { pathOf } from '../../src/net/path.js';
import { resolveTransport, transferStats } from '../../src/net/transfer.js';
import { udpFlow, udpFrameLossProbability, udpIpSizes, udpSend } from '../../src/net/udp.js';

const sei = (loss = 0) => pathOf(resolveLink({ preset: 'split-et-impera', loss }), 'up');

describe('a frame over UDP', () => {
  it("takes its packets' serialisation plus the delay: Split-Et-Impera's 100,352 B in 1,010 B payloads", () => {
    // 99 full datagrams of 1,010 + 28 + 2 B and one of 362 + 30 B = 103,352 B at 1 Gb/s = 0.826816 ms, + 0.1 ms
    // (ns-3's point-to-point scenario gives 0.926816 ms for the same frame)
    const o = udpSend(udpFlow(sei(), { payloadBytes: 1010 }), 100352, 0, null);
    expect(o.packets).toBe(100);
    expect(o.endMs).toBeCloseTo(0.926816, 9);
  });

  it('queues frames behind each other on the link', () => {
    const flow = udpFlow(sei(), { payloadBytes: 1010 });
    udpSend(flow, 100352, 0, null);
    expect(udpSend(flow, 100352, 0.1, null).endMs).toBeCloseTo(0.826816 * 2 + 0.1, 9);
  });

  it('sends parity packets with FEC and sizes the last datagram to what is left', () => {
    const { sizes, needed } = udpIpSizes(25_000, 1472, { data: 10, parity: 2 });
    expect(needed).toBe(17);
    expect(sizes).toHaveLength(17 + 2 * 2);
    expect(sizes[16]).toBe(25_000 - 16 * 1472 + 28);
    expect(sizes[17]).toBe(1500);
  });
});

describe('UDP frame loss', () => {
  it('is 1 - (1 - p)^n without repair, and the sampled rate agrees', () => {
    const p = sei(0.01);
    expect(udpFrameLossProbability(100352, p, { payloadBytes: 1010 })).toBeCloseTo(1 - 0.99 ** 100, 12);
    const stats = transferStats(p, resolveTransport({ protocol: 'udp', payloadBytes: 1010 }), 100352, { samples: 20_000, seed: 2 });
    const q = 1 - 0.99 ** 100;
    expect(Math.abs(stats.frameLossRate - q)).toBeLessThan(4 * Math.sqrt((q * (1 - q)) / 20_000));
    expect(stats.lostPackets).toBeCloseTo(1, 1);
  });

  it('with FEC, a block survives up to its parity count of losses', () => {
    const p = sei(0.05);
    const fec = { data: 10, parity: 2 };
    // 10 blocks of 12 packets; a block fails with P(Bin(12, 0.05) > 2)
    const block = 1 - [0, 1, 2].reduce((s, k) => s + binom(12, k) * 0.05 ** k * 0.95 ** (12 - k), 0);
    expect(udpFrameLossProbability(100352, p, { payloadBytes: 1010, fec })).toBeCloseTo(1 - (1 - block) ** 10, 10);
    const stats = transferStats(p, resolveTransport({ protocol: 'udp', payloadBytes: 1010, fec }), 100352, { samples: 20_000, seed: 4 });
    const q = 1 - (1 - block) ** 10;
    expect(Math.abs(stats.frameLossRate - q)).toBeLessThan(4 * Math.sqrt((q * (1 - q)) / 20_000));
  });

  it('with retransmission rounds, a packet is lost only if every copy is', () => {
    const p = sei(0.05);
    const retransmit = { rounds: 2, timeoutMs: 1 };
    expect(udpFrameLossProbability(100352, p, { payloadBytes: 1010, retransmit })).toBeCloseTo(1 - (1 - 0.05 ** 3) ** 100, 12);
    const stats = transferStats(p, resolveTransport({ protocol: 'udp', payloadBytes: 1010, retransmit }), 100352, { samples: 5000, seed: 9 });
    expect(stats.frameLossRate).toBeLessThan(0.05);
    // a repaired frame waits the timeout, the NACK's trip back and the resend
    expect(stats.time.max).toBeGreaterThan(0.926816 + 1 + 0.1);
  });
});

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}
