/**
 * The adaptive edge end to end: a real server holding two tails (a shallow cut that sends 1 KB, a deep one that
 * sends 16 B) behind the shaping proxy on loopback. When the uplink falls 250x the edge moves to the deep cut,
 * between frames, saying why; the server restarting at that moment costs no frame; and a plan naming a model the
 * server lacks is refused before any frame.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyPath } from '../../../src/harness/shaper/proxy.js';
import type { SwitchingPlan } from '../../../src/plan/switching.js';
import { AdaptiveEdge, type SwitchRecord } from '../../../src/runtime/edge/adaptive.js';
import { frameSource } from '../../../src/runtime/edge/frames.js';
import type { FrameResult } from '../../../src/runtime/edge/runner.js';
import type { RunningServer } from '../../../src/runtime/server/app.js';
import { serve, switchingRepo, type SplitRepo } from '../../helpers/runtime.js';

describe('the adaptive edge over a shaped link', () => {
  let dir: string;
  let plan: SwitchingPlan;
  let server: RunningServer;
  const path = new ProxyPath();
  const repo = () => ({ dir: join(dir, 'server') }) as SplitRepo;
  beforeAll(async () => {
    ({ dir, plan } = await switchingRepo(150));
    server = await serve(repo());
  });
  afterAll(async () => {
    await server.close();
    await path.close();
  });

  it('moves to the deep cut when the uplink falls, the server restarting at the switch, and loses no frame', { timeout: 90_000 }, async () => {
    const link = (upMbps: number) => path.set({ upMbps, downMbps: 50, delayMs: 2, loss: 0, downLoss: 0, overheadBytes: 0 });
    await link(50);
    const port = Number(new URL(server.url).port);
    let restarted: Promise<void> | undefined;
    const onSwitch = (s: SwitchRecord) => {
      // the server goes down as the switch happens and comes back 300 ms later on the same port
      restarted ??= server.close().then(() => new Promise((r) => setTimeout(r, 300))).then(async () => {
        server = await serve(repo(), { port });
      });
      expect(s.to).toBe('c1');
    };
    const edge = await AdaptiveEdge.open(plan, join(dir, 'switching.json'), { url: await path.expose(port), onSwitch, probeEvery: 5 });
    const source = frameSource('synthetic', edge.inputs);
    const results: FrameResult[] = [];
    try {
      // on until the restarted server has answered 5 frames: under load a restart takes seconds
      for (let i = 0, t0 = performance.now(); performance.now() - t0 < 60_000; i++) {
        if (i === 10) await link(0.05); // 1 KB now takes 200 ms: over the limit
        results.push((await edge.processWithOutputs(i, source.frame(i).feeds)).result);
        if (restarted && results.filter((r) => r.option === 'c1' && r.outcome === 'server').length >= 5) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await restarted;
      await edge.close();
    }
    // every frame once, in order, each with a result or an explicit error
    expect(results.map((r) => r.frame)).toEqual(results.map((_, i) => i));
    for (const r of results) expect(r.outcome === 'server' || r.reason !== undefined).toBe(true);
    expect(results.slice(0, 10).every((r) => r.option === 'c0' && r.outcome === 'server')).toBe(true);
    expect(edge.switches).toHaveLength(1);
    const [s] = edge.switches;
    expect(s).toMatchObject({ from: 'c0', to: 'c1', reason: expect.stringMatching(/^uplink .* Mb\/s, RTT .* ms, queue .* ms, device x[0-9.]+: c0 predicted .* ms, over the 150 ms limit; c1 .* ms, at once$/) });
    expect(s!.frame).toBeGreaterThan(10);
    // from the switch on, the deep cut; back on the server after the restart
    expect(results.slice(s!.frame).every((r) => r.option === 'c1')).toBe(true);
    expect(results.slice(s!.frame).filter((r) => r.outcome === 'server').length).toBeGreaterThanOrEqual(5);
  });

  it('refuses at the start a plan naming a model the server does not serve', async () => {
    const other = await switchingRepo(150, (name) => (name === 'c1' ? 'deep-cut' : name));
    await expect(AdaptiveEdge.open(other.plan, join(other.dir, 'switching.json'), { url: server.url })).rejects.toThrow(
      expect.objectContaining({ code: 'BAD_SWITCHING_PLAN', message: `switching plan '${join(other.dir, 'switching.json')}': option 'c1' needs the model 'deep-cut', which the server at ${server.url} does not serve` }),
    );
  });
});
