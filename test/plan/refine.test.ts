/**
 * Finalists through the discrete-event simulation: with one device streaming below capacity nothing queues, so
 * the simulated latency is exactly the analytic sum (device + uplink + server + downlink, here by hand); when
 * devices share an overloaded server, frames queue and the simulated figures show it.
 */
import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { resolveTransport } from '../../src/net/transfer.js';
import { refineLatency, type RefineInputs } from '../../src/plan/refine.js';
import type { PlanConfiguration } from '../../src/plan/types.js';

// 8 Mb/s = 8000 bits per ms both ways, 5 ms one way, no framing; UDP adds 28 header bytes per datagram
const link = resolveLink({ upMbps: 8, downMbps: 8, delayMs: 5, framing: 'none' });
const upMs = ((1000 + 28) * 8) / 8000 + 5; // 1000 bytes in one datagram: 6.028 ms
const downMs = ((20 + 28) * 8) / 8000 + 5; // the 20-byte result: 5.048 ms

/** A configuration as explore leaves it: analytic figures, device and server time per frame. */
function configuration(placement: 'local' | 'split', deviceMs: number, serverMs: number, exits: PlanConfiguration['exits'] = null): PlanConfiguration {
  const meanMs = deviceMs + (placement === 'local' ? 0 : upMs + serverMs + downMs);
  return {
    id: placement,
    placement,
    link: placement === 'local' ? null : 'test',
    cuts: [],
    devices: ['edge', 'server'],
    codec: 'fp32',
    exits,
    latency: { meanMs, p50Ms: meanMs, p95Ms: meanMs, p99Ms: meanMs, source: 'analytic', breakdown: { deviceMs, transferMs: meanMs - deviceMs - serverMs, serverMs, queueMs: 0 } },
    quality: { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', value: 0.9, source: 'measured' },
    bytes: placement === 'local' ? 0 : 1000,
    downlinkBytes: placement === 'local' ? 0 : 20,
    energyJ: null,
    edgeMemoryBytes: 0,
    throughputFps: 1000 / deviceMs,
    checks: [],
    feasible: true,
  };
}

const inputs = (over: Partial<RefineInputs> = {}): RefineInputs => ({ link, transport: resolveTransport({ protocol: 'udp' }), workload: { fps: 10, devices: 1 }, workers: 1, downlinkBytes: 20, durationS: 20, ...over });

describe('refineLatency', () => {
  it('one device below capacity: no queueing, the simulated latency is device + up + server + down', () => {
    const r = refineLatency(configuration('split', 11, 2), inputs());
    const expected = 11 + upMs + 2 + downMs; // 24.076 ms
    expect(r.source).toBe('des');
    for (const v of [r.meanMs, r.p50Ms, r.p95Ms, r.p99Ms]) expect(v).toBeCloseTo(expected, 6);
    expect(r.breakdown.deviceMs).toBe(11);
    expect(r.breakdown.transferMs).toBeCloseTo(upMs + downMs, 6);
    expect(r.breakdown.serverMs).toBeCloseTo(2, 6);
    expect(r.breakdown.queueMs).toBeCloseTo(0, 6);
  });

  it('local: the device time alone', () => {
    const r = refineLatency(configuration('local', 27.5, 0), inputs({ link: null }));
    expect(r.meanMs).toBeCloseTo(27.5, 6);
    expect(r.breakdown).toMatchObject({ transferMs: 0, serverMs: 0, queueMs: 0 });
  });

  it('four devices at 10 fps on one worker of 20 ms (80 % busy): frames wait for the server', () => {
    const alone = refineLatency(configuration('split', 11, 20), inputs());
    const shared = refineLatency(configuration('split', 11, 20), inputs({ workload: { fps: 10, devices: 4 } }));
    expect(alone.breakdown.queueMs).toBeCloseTo(0, 6);
    expect(shared.breakdown.queueMs).toBeGreaterThan(0);
    expect(shared.meanMs).toBeCloseTo(alone.meanMs + shared.breakdown.queueMs, 6);
    expect(shared.p99Ms).toBeGreaterThan(alone.p99Ms);
  });

  it('with exits, only the frames that leave the device pay the transfer and the server', () => {
    const exits = { policy: 'softmax' as const, threshold: 0.9, cuts: ['r1'], rates: [0.25] };
    // explore's breakdown holds expected values over all frames: the server's 2 ms per sent frame, x 0.75
    const c = configuration('split', 11, 0.75 * 2, exits);
    c.bytes = 0.75 * 1000;
    const r = refineLatency(c, inputs({ durationS: 60 }));
    expect(r.breakdown.serverMs).toBeCloseTo(0.75 * 2, 6);
    expect(r.breakdown.transferMs).toBeCloseTo(0.75 * (upMs + downMs), 6);
    // a quarter of the frames answered after 11 ms on the device (a random draw per frame: within 0.5 ms)
    expect(r.meanMs).toBeCloseTo(11 + 0.75 * (upMs + 2 + downMs), 0);
    expect(r.meanMs).toBeLessThan(11 + upMs + 2 + downMs);
  });
});
