/** The ns-3 backend: a real compile of the point-to-point scenario (once, into a temporary cache) and short runs. */
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { checkNs3, ns3Binary, ns3Toolchain, runNs3 } from '../../src/net/ns3/toolchain.js';
import { p2pArgs, runP2p, wifiArgs } from '../../src/net/ns3/scenarios.js';
import { pathOf } from '../../src/net/path.js';
import { resolveTransport, transferStats } from '../../src/net/transfer.js';

const error = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as { code: string; message: string; hint: string };
  }
  throw new Error('no error');
};

describe('finding ns-3', () => {
  it('says how to install ns-3 when it is not there', () => {
    const e = error(() => checkNs3(ns3Toolchain({ IMPERA_NS3_PREFIX: '/nonexistent/ns3' })));
    expect(e.code).toBe('NS3_MISSING');
    expect(e.message).toMatch(/ns-3 is not installed \(no ns3\/core-module\.h under \/nonexistent\/ns3\/include/);
    expect(e.hint).toMatch(/sudo apt-get install libns3-dev g\+\+ pkg-config/);
    expect(e.hint).toMatch(/--backend des or analytic/);
  });

  it('says so when the compiler is missing', () => {
    const e = error(() => checkNs3(ns3Toolchain({ IMPERA_NS3_CXX: '/nonexistent/g++' })));
    expect(e.code).toBe('NS3_MISSING');
    expect(e.message).toMatch(/C\+\+ compiler '\/nonexistent\/g\+\+'/);
  });

  it('locates the Debian installation through pkg-config, and caches under IMPERA_CACHE_DIR', () => {
    const tc = ns3Toolchain({ IMPERA_CACHE_DIR: '/tmp/x' });
    expect(existsSync(join(tc.includeDir, 'ns3', 'core-module.h'))).toBe(true);
    expect(tc.cacheDir).toBe('/tmp/x/ns3');
  });

  it('refuses links the point-to-point scenario cannot model rather than ignoring their features', () => {
    const tcp = resolveTransport({ protocol: 'tcp' });
    expect(() => p2pArgs({ link: resolveLink('ethernet'), transport: tcp, bytes: 1000, mode: 'bulk' })).toThrow(/frames packets with PPP/);
    expect(() => p2pArgs({ link: resolveLink({ preset: 'split-et-impera', jitterMs: 1 }), transport: tcp, bytes: 1000, mode: 'bulk' })).toThrow(/cannot model jitter/);
    expect(() => p2pArgs({ link: resolveLink('split-et-impera'), transport: resolveTransport({ protocol: 'udp', fec: { data: 4, parity: 1 } }), bytes: 1000, mode: 'frames' })).toThrow(/FEC/);
    expect(() => p2pArgs({ link: resolveLink({ preset: 'split-et-impera', downLoss: 0.01 }), transport: tcp, bytes: 1000, mode: 'bulk' })).toThrow(/cannot model downLoss of link/);
    expect(() => p2pArgs({ link: resolveLink('wifi-ac'), transport: tcp, bytes: 1000, mode: 'bulk' })).toThrow(/an 802\.11 PHY/);
    expect(() => wifiArgs({ link: resolveLink('ethernet'), transport: tcp, bytes: 1000, fps: 10, phasesMs: [0], durationS: 1 })).toThrow(/link 'ethernet' is not a Wi-Fi channel/);
  });

  it('says which compiler error stopped a build, and leaves no half-written program', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-ns3-'));
    const cxx = join(dir, 'fake-g++');
    writeFileSync(cxx, '#!/bin/sh\n[ "$1" = --version ] && { echo fake 1.0; exit 0; }\necho "p2p.cc:1:1: error: no ns-3 here" >&2\nexit 1\n');
    chmodSync(cxx, 0o755);
    const cacheDir = join(dir, 'cache');
    const e = error(() => ns3Binary('p2p', { ...ns3Toolchain(), cxx, cacheDir }));
    expect(e.code).toBe('NS3_FAILED');
    expect(e.message).toBe("compiling the ns-3 scenario 'p2p' failed: p2p.cc:1:1: error: no ns-3 here");
    expect(e.hint).toMatch(/libns3-dev/);
    expect(readdirSync(cacheDir).flatMap((d) => readdirSync(join(cacheDir, d)))).toEqual([]);
  });

  it('says how to reproduce a failed run, and refuses output that is not JSON', async () => {
    await expect(runNs3('/bin/false', { seed: 3 })).rejects.toMatchObject({ code: 'NS3_FAILED', message: expect.stringMatching(/ns-3 scenario 'false' failed/), hint: 'reproduce with: /bin/false --seed=3' });
    await expect(runNs3('/bin/echo', { shortGuard: true })).rejects.toMatchObject({ code: 'NS3_FAILED', message: "ns-3 scenario 'echo' printed something that is not JSON: --shortGuard=1\n" });
  });
});

describe('the point-to-point scenario in ns-3', () => {
  const tc = { ...ns3Toolchain(), cacheDir: mkdtempSync(join(tmpdir(), 'impera-ns3-')) };
  const binary = ns3Binary('p2p', tc);

  it('is compiled once and then taken from the cache', () => {
    expect(existsSync(binary)).toBe(true);
    const t0 = performance.now();
    expect(ns3Binary('p2p', tc)).toBe(binary);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('agrees with the analytic TCP model without loss (new connections, slow start)', async () => {
    for (const [bytes, mbps, rtt] of [[100_000, 10, 20], [1_000_000, 100, 50]] as const) {
      const link = resolveLink({ upMbps: mbps, delayMs: rtt / 2, framing: 'ppp' });
      const transport = resolveTransport({ protocol: 'tcp', handshake: true });
      const [run] = await runP2p(binary, { link, transport, bytes, mode: 'bulk' });
      const ns3Ms = (run!.recvS[0]! - run!.sentS[0]!) * 1000;
      const model = transferStats(pathOf(link, 'up'), transport, bytes).losslessMs;
      expect(Math.abs(model - ns3Ms) / ns3Ms).toBeLessThan(0.01);
    }
  });

  it("sends Split-Et-Impera's frame over UDP in 0.926816 ms and loses frames with their packets", async () => {
    const transport = resolveTransport({ protocol: 'udp', payloadBytes: 1010 });
    const [clean] = await runP2p(binary, { link: resolveLink('split-et-impera'), transport, bytes: 100_352, mode: 'frames', frames: 5 });
    expect(clean!.recvS.map((r, i) => (r - clean!.sentS[i]!) * 1000)).toEqual(new Array(5).fill(0).map(() => expect.closeTo(0.926816, 6)));
    const [lossy] = await runP2p(binary, { link: resolveLink({ preset: 'split-et-impera', loss: 0.03 }), transport, bytes: 100_352, mode: 'frames', frames: 200 });
    const lostFrames = lossy!.recvS.filter((r) => r < 0).length;
    expect(lossy!.lost / lossy!.packets).toBeGreaterThan(0.015);
    expect(lossy!.lost / lossy!.packets).toBeLessThan(0.045);
    expect(lostFrames / 200).toBeGreaterThan(0.85); // 1 - 0.97^100 = 95 %
  });

  it('draws early exits inside ns-3 and marks those frames as not sent', async () => {
    const [run] = await runP2p(binary, { link: resolveLink('split-et-impera'), transport: resolveTransport({ protocol: 'tcp' }), bytes: 10_000, mode: 'frames', frames: 200, keepProbability: 0.5 });
    const exited = run!.recvS.filter((r) => r === -2).length;
    expect(exited).toBeGreaterThan(70);
    expect(exited).toBeLessThan(130);
    expect(run!.recvS.filter((r) => r === -1)).toHaveLength(0);
  });
});
