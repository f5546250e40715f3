import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { pathOf } from '../../src/net/path.js';
import { resolveTransport } from '../../src/net/transfer.js';
import { udpFlow, udpIpSizes, udpSend } from '../../src/net/udp.js';
import { uncontendedUs } from '../../src/net/wifi.js';
import { simulate } from '../../src/sim/des.js';
import { fixed } from '../../src/sim/distributions.js';
import { FRAME_STATUS } from '../../src/sim/result.js';
import { deployment, device, server } from '../helpers/deployment.js';

/** Frames arrive as a Poisson stream at `fps`; no network; the server's time is `service`. */
const queue = (fps: number, service: ReturnType<typeof fixed> | { kind: 'exponential'; mean: number }, workers = 1) =>
  deployment([device({ fps, arrivals: 'poisson' })], { server: server({ compute: service, workers }), durationS: 4000, warmupS: 20 });

describe('the simulator against queueing theory', () => {
  it('M/M/1 (rho = 0.5): mean time in system 1 / (mu - lambda) = 20 ms, median ln2 x 20 ms', () => {
    const r = simulate(queue(50, { kind: 'exponential', mean: 10 }));
    expect(r.latencyMs.count).toBeGreaterThan(190_000);
    expect(Math.abs(r.latencyMs.mean - 20)).toBeLessThan(0.6);
    expect(r.latencyMs.p50).toBeCloseTo(20 * Math.LN2, 0);
    expect(r.utilisation.server).toBeCloseTo(0.5, 2);
  });

  it('M/D/1 (rho = 0.5): mean wait rho / (2 mu (1 - rho)) = 5 ms', () => {
    const r = simulate(queue(50, fixed(10)));
    expect(Math.abs(r.stagesMs.serverWait - 5)).toBeLessThan(0.15);
    expect(r.stagesMs.server).toBe(10);
  });

  it('M/M/2 (lambda 150/s, mu 100/s per worker): Erlang C wait = 12.86 ms', () => {
    // a = 1.5, rho = 0.75: C = (a^2/2 / (1 - rho)) / (1 + a + a^2/2 / (1 - rho)) = 9/14; Wq = C / (2 mu - lambda)
    const r = simulate(queue(150, { kind: 'exponential', mean: 10 }, 2));
    expect(Math.abs(r.stagesMs.serverWait - (9 / 14 / 50) * 1000)).toBeLessThan(0.5);
  });
});

describe('a frame through the pipeline', () => {
  it('adds up device compute, uplink, server and downlink when frames do not meet', () => {
    const link = resolveLink({ upMbps: 8, downMbps: 8, delayMs: 5, framing: 'ppp' });
    const transport = resolveTransport({ protocol: 'udp' });
    const d = device({ fps: 5, compute: fixed(4), upBytes: 10_000, downBytes: 40, link });
    const r = simulate(deployment([d], { transport, server: server({ compute: fixed(3) }) }));
    const up = udpSend(udpFlow(pathOf(link, 'up'), {}), 10_000, 0, null).endMs;
    const down = udpSend(udpFlow(pathOf(link, 'down'), {}), 40, 0, null).endMs;
    expect(r.frames.generated).toBe(50);
    expect(r.latencyMs.min).toBeCloseTo(4 + up + 3 + down, 9);
    expect(r.latencyMs.max).toBeCloseTo(4 + up + 3 + down, 9);
    expect(r.stagesMs).toMatchObject({ deviceWait: 0, device: 4, serverWait: 0, server: 3 });
    expect(r.stagesMs.uplink).toBeCloseTo(up, 9);
  });

  it('runs everything on the device in local computing', () => {
    const r = simulate(deployment([device({ offload: false, compute: fixed(30) })]));
    expect(r.latencyMs.mean).toBe(30);
    expect(r.packets.sent).toBe(0);
    expect(r.utilisation.device).toBeCloseTo(0.3, 9);
  });

  it('lets the exit probability of frames finish on the device', () => {
    const r = simulate(deployment([device({ fps: 100, exitProbability: 0.3, compute: fixed(1), upBytes: 5000 })], { durationS: 100 }));
    expect(r.frames.exited / r.frames.generated).toBeCloseTo(0.3, 1);
    expect(Math.abs(r.frames.exited / r.frames.generated - 0.3)).toBeLessThan(0.015);
  });

  it('keeps every stage timestamp per frame', () => {
    const r = simulate(deployment([device({ compute: fixed(2), upBytes: 1000 })], { server: server({ compute: fixed(1) }), durationS: 1 }), { keepTrace: true });
    const t = r.trace!;
    expect(t.count).toBe(10);
    for (let f = 0; f < t.count; f++) {
      expect(FRAME_STATUS[t.status[f]!]).toBe('done');
      const stamps = [t.created[f], t.headStart[f], t.headEnd[f], t.txStart[f], t.serverArrival[f], t.serverStart[f], t.serverEnd[f], t.delivered[f]];
      for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThanOrEqual(stamps[i - 1]!);
    }
  });
});

describe('queues, batches and deadlines', () => {
  it('drops frames beyond a queue limit', () => {
    // 200 ms of compute per frame at 10 fps: the device finishes 5 frames a second, the other half are dropped
    const r = simulate(deployment([device({ offload: false, compute: fixed(200), queueLimit: 1 })], { durationS: 20 }));
    expect(r.frames.generated).toBe(200);
    expect(r.frames.droppedDevice).toBe(99);
    expect(r.throughputFps).toBeCloseTo(5, 1);
  });

  it('runs the tails of simultaneous frames as one batch, costing t1 (1 + (b - 1) scaling)', () => {
    const devices = Array.from({ length: 4 }, (_, i) => device({ name: `cam-${i}`, upBytes: 0 }));
    const r = simulate(deployment(devices, { server: server({ compute: fixed(10), batchMax: 4, batchTimeoutMs: 5, batchScaling: 0.5 }) }), { keepTrace: true });
    const t = r.trace!;
    for (let f = 0; f < t.count; f++) expect(t.serverEnd[f]! - t.serverStart[f]!).toBeCloseTo(10 * (1 + 3 * 0.5), 9);
    expect(r.latencyMs.max).toBeCloseTo(25, 9);
  });

  it('waits up to the batch timeout for a batch to fill', () => {
    const r = simulate(deployment([device({ upBytes: 0 })], { server: server({ compute: fixed(2), batchMax: 8, batchTimeoutMs: 7 }) }));
    expect(r.latencyMs.mean).toBeCloseTo(9, 9);
  });

  it('counts frames later than the deadline, or lost, as missed', () => {
    const late = simulate(deployment([device({ compute: fixed(30) })], { deadlineMs: 20 }));
    expect(late.deadlineMissRate).toBe(1);
    const onTime = simulate(deployment([device({ compute: fixed(10) })], { deadlineMs: 20 }));
    expect(onTime.deadlineMissRate).toBe(0);
    expect(simulate(deployment([device()])).deadlineMissRate).toBeNull();
  });
});

describe('losses and determinism', () => {
  const lossy = (seed: number) =>
    deployment([device({ fps: 30, upBytes: 100_352, link: resolveLink({ preset: 'split-et-impera', loss: 0.02 }) })], { seed, durationS: 20, transport: resolveTransport({ protocol: 'udp', payloadBytes: 1010 }) });

  it('loses a UDP frame when any of its packets is lost: 1 - 0.98^100 of them', () => {
    const r = simulate(lossy(1));
    expect(r.frames.lost / r.frames.generated).toBeCloseTo(1 - 0.98 ** 100, 1);
    expect(r.packets.lost / r.packets.sent).toBeCloseTo(0.02, 2);
  });

  it('gives the same result for the same seed, and another for another seed', () => {
    const run = (seed: number) => ({ ...simulate(lossy(seed)), wallMs: 0 });
    const a = run(4);
    expect(run(4)).toEqual(a);
    expect(simulate(lossy(5)).packets.lost).not.toBe(a.packets.lost);
  });
});

describe('a shared Wi-Fi cell', () => {
  const cell = resolveLink('wifi-ac');
  const cam = (i: number, phaseMs: number) => device({ name: `cam-${i}`, fps: 10, phaseMs, upBytes: 100_352, link: cell });

  it('delivers a lone camera frame in its uncontended airtime', () => {
    const r = simulate(deployment([cam(0, 3)], {}, cell));
    const alone = uncontendedUs(cell.wifi!, udpIpSizes(100_352, 1472).sizes) / 1000;
    // the second A-MPDU waits a random backoff of 0-15 slots (mean 7.5)
    expect(r.latencyMs.min).toBeGreaterThan(alone - 0.07);
    expect(r.latencyMs.max).toBeLessThan(alone + 0.07);
    expect(r.utilisation.uplink).toBeCloseTo((10 * (alone + 0.1)) / 1000, 2);
  });

  it('makes simultaneous cameras collide and wait for each other', () => {
    const r = simulate(deployment([cam(0, 0), cam(1, 0)], {}, cell));
    const alone = simulate(deployment([cam(0, 0)], {}, cell));
    expect(r.latencyMs.mean).toBeGreaterThan(1.5 * alone.latencyMs.mean);
    expect(r.frames.lost).toBe(0);
  });

  it('refuses TCP over the shared medium with a clear error', () => {
    expect(() => simulate(deployment([cam(0, 0)], { transport: resolveTransport({ protocol: 'tcp' }) }, cell))).toThrow(/shared medium is simulated for UDP only/);
  });
});
