import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { resolveTransport } from '../../src/net/transfer.js';
import { udpIpSizes } from '../../src/net/udp.js';
import { uncontendedUs } from '../../src/net/wifi.js';
import { analyze } from '../../src/sim/analytic.js';
import { simulate } from '../../src/sim/des.js';
import { fixed } from '../../src/sim/distributions.js';
import { deployment, device, server } from '../helpers/deployment.js';

describe('the analytic backend', () => {
  it('gives a lone frame the latency the DES gives it', () => {
    const link = resolveLink({ upMbps: 20, delayMs: 10 });
    const dep = deployment([device({ fps: 2, compute: fixed(8), upBytes: 50_000, downBytes: 40, link })], { server: server({ compute: fixed(3) }) });
    const a = analyze(dep);
    const d = simulate(dep);
    expect(a.latencyMs.mean).toBeCloseTo(d.latencyMs.mean, 6);
    expect(a.latencyMs.p99).toBeCloseTo(d.latencyMs.p99, 6);
    expect(a.notes[0]).toMatch(/no queueing, no contention/);
  });

  it('counts frames and packets over the simulated duration, with UDP frame losses 1 - (1 - p)^n', () => {
    const link = resolveLink({ preset: 'split-et-impera', loss: 0.01 });
    const dep = deployment([device({ fps: 30, upBytes: 100_352, link })], { durationS: 100, transport: resolveTransport({ protocol: 'udp', payloadBytes: 1010 }) });
    const a = analyze(dep);
    expect(a.frames.generated).toBeCloseTo(3000, 6);
    expect(a.frames.lost / a.frames.generated).toBeCloseTo(1 - 0.99 ** 100, 1);
    expect(a.packets.sent).toBeCloseTo(300_000, -2);
    expect(a.packets.lost).toBeCloseTo(3000, -2);
  });

  it('reports a resource busy beyond 100 % as overloaded', () => {
    const dep = deployment([device({ fps: 50, upBytes: 0 })], { server: server({ compute: fixed(25) }) });
    const a = analyze(dep);
    expect(a.utilisation.server).toBeCloseTo(1.25, 9);
    expect(a.notes.join(' ')).toMatch(/overloaded: server/);
  });

  it('gives a Wi-Fi camera its uncontended airtime and the cell the sum of all loads', () => {
    const cell = resolveLink('wifi-ac');
    const cams = Array.from({ length: 4 }, (_, i) => device({ name: `cam-${i}`, fps: 20, upBytes: 25_088, link: cell }));
    const a = analyze(deployment(cams, {}, cell));
    const airMs = uncontendedUs(cell.wifi!, udpIpSizes(25_088, 1472).sizes) / 1000;
    expect(a.latencyMs.p50).toBeCloseTo(airMs, 9);
    expect(a.utilisation.uplink).toBeCloseTo((4 * 20 * airMs) / 1000, 9);
  });
});
