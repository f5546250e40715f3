/** The ns3 backend on short runs of the point-to-point scenario (compiled once into impera's cache). */
import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { resolveTransport } from '../../src/net/transfer.js';
import { udpIpSizes } from '../../src/net/udp.js';
import { uncontendedUs } from '../../src/net/wifi.js';
import { simulate } from '../../src/sim/des.js';
import { fixed } from '../../src/sim/distributions.js';
import { simulateNs3 } from '../../src/sim/ns3.js';
import { deployment, device, server } from '../helpers/deployment.js';

describe('the ns3 backend', () => {
  const link = resolveLink('split-et-impera');
  const udp = resolveTransport({ protocol: 'udp', payloadBytes: 1010 });
  const cams = [device({ name: 'a', group: 'a', fps: 20, compute: fixed(5), upBytes: 100_352, link }), device({ name: 'b', group: 'b', fps: 10, compute: fixed(2), upBytes: 100_352, link })];

  it('agrees with the DES on lossless dedicated links, device by device', async () => {
    const dep = deployment(cams, { transport: udp, server: server({ compute: fixed(1) }), durationS: 2 });
    const ns = await simulateNs3(dep);
    const des = simulate(dep);
    expect(ns.frames.generated).toBe(des.frames.generated);
    expect(ns.latencyMs.mean).toBeCloseTo(des.latencyMs.mean, 3);
    expect(ns.perDevice[0]!.latencyMs.p50).toBeCloseTo(5 + 0.926816 + 1 + des.stagesMs.downlink, 3);
    expect(ns.packets.lost).toBe(0);
  });

  it('queues frames at the server (FIFO, k workers)', async () => {
    const dep = deployment(cams, { transport: udp, server: server({ compute: fixed(40) }), durationS: 2 });
    const ns = await simulateNs3(dep);
    expect(ns.stagesMs.serverWait).toBeGreaterThan(0);
    expect(ns.utilisation.server).toBeCloseTo((30 * 40) / 1000, 1);
  });

  it('lets frames exit early with the set-up probability', async () => {
    const dep = deployment([{ ...cams[0]!, exitProbability: 0.5 }], { transport: udp, durationS: 10 });
    const ns = await simulateNs3(dep);
    expect(ns.frames.exited / ns.frames.generated).toBeGreaterThan(0.4);
    expect(ns.frames.exited / ns.frames.generated).toBeLessThan(0.6);
  });

  it('refuses Poisson sources, which it cannot schedule', async () => {
    await expect(simulateNs3(deployment([{ ...cams[0]!, arrivals: 'poisson' }], { transport: udp }))).rejects.toThrow(/Poisson sources are simulated by --backend des/);
  });
});

describe('the ns3 backend on a shared Wi-Fi cell', () => {
  const cell = resolveLink('wifi-ac');
  const cams = Array.from({ length: 3 }, (_, i) => device({ name: `cam-${i}`, fps: 10, phaseMs: 7 + 31 * i, upBytes: 100_352, link: cell }));

  it('gives cameras that do not meet their uncontended airtime, as the DES does', async () => {
    const dep = deployment(cams, { durationS: 2 }, cell);
    const ns = await simulateNs3(dep);
    const des = simulate(dep);
    const alone = uncontendedUs(cell.wifi!, udpIpSizes(100_352, 1472).sizes) / 1000;
    expect(ns.perDevice.map((d) => d.completed)).toEqual([20, 20, 20]);
    expect(ns.packets).toEqual({ sent: 60 * 69, lost: 0 });
    expect(Math.abs(ns.latencyMs.p50 / alone - 1)).toBeLessThan(0.02);
    expect(ns.latencyMs.p50).toBeCloseTo(des.latencyMs.p50, 1);
  });

  it('runs TCP over the cell, which the DES refuses', async () => {
    const ns = await simulateNs3(deployment([cams[0]!], { durationS: 2, transport: resolveTransport({ protocol: 'tcp' }) }, cell));
    expect(ns.frames.completed).toBe(20);
    expect(ns.packets.sent).toBeGreaterThanOrEqual(20 * Math.ceil(100_352 / 1448));
    expect(ns.latencyMs.p50).toBeGreaterThan(3);
  });

  it('refuses device groups with different frame rates, which one cell run cannot send', async () => {
    await expect(simulateNs3(deployment([cams[0]!, { ...cams[1]!, fps: 15 }], {}, cell))).rejects.toThrow(/one frame size, frame rate and exit probability/);
  });
});
