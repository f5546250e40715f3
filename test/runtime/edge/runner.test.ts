/**
 * The edge runner against real servers: results equal to running the tail here, the codec's packed bytes, early
 * exits, and every way the server can fail - unreachable, too slow, overloaded, killed and restarted mid-run -
 * ending in a local result that says why, never in a lost frame.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRuntimeConfig } from '../../../src/runtime/edge/config.js';
import { frameSource } from '../../../src/runtime/edge/frames.js';
import { EdgeRunner, type FrameResult } from '../../../src/runtime/edge/runner.js';
import { summarize } from '../../../src/runtime/edge/summary.js';
import type { RunningServer } from '../../../src/runtime/server/app.js';
import { saveModel } from '../../../src/onnx/io.js';
import { BIN } from '../../helpers/cli.js';
import { headWithExit, MALFORMED_ANSWERS, malformedServer, serve, splitRepo, type SplitRepo } from '../../helpers/runtime.js';


async function runner(repo: SplitRepo, over: Record<string, unknown>): Promise<EdgeRunner> {
  const raw = { format: 'impera-runtime/1', head: 'head.onnx', tail: 'tail.onnx', latencyBudgetMs: 5000, reconnect: { initialMs: 100, maxMs: 400 }, ...over };
  return EdgeRunner.open(resolveRuntimeConfig(raw, join(repo.dir, 'edge.yaml')));
}

async function frames(r: EdgeRunner, count: number, from = 0): Promise<FrameResult[]> {
  const source = frameSource('synthetic', r.inputs);
  const out: FrameResult[] = [];
  for (let i = from; i < from + count; i++) out.push(await r.process(i, source.frame(i).feeds));
  return out;
}

describe('with a codec between head and tail', () => {
  let repo: SplitRepo;
  let server: RunningServer;
  beforeAll(async () => {
    repo = await splitRepo('int4+deflate');
    server = await serve(repo);
  });
  afterAll(() => server.close());

  it('gives the tail\'s result from packed bytes, from wire tensors and locally, with fewer bytes when packed', async () => {
    const results = new Map<string, FrameResult[]>();
    for (const wire of ['packed', 'tensors'] as const) {
      for (const protocol of ['binary', 'websocket'] as const) {
        const r = await runner(repo, { codec: 'codec.json', server: { url: server.url, model: 'tail', protocol, wire } });
        results.set(`${wire}/${protocol}`, await frames(r, 4));
        await r.close();
      }
    }
    const local = await runner(repo, { codec: 'codec.json', server: { url: 'http://127.0.0.1:1', model: 'tail' } });
    const here = await frames(local, 4);
    await local.close();
    for (const [key, rs] of results) {
      expect(rs.map((f) => f.outcome), key).toEqual(['server', 'server', 'server', 'server']);
      expect(rs.map((f) => f.prediction), key).toEqual(here.map((f) => f.prediction));
      rs.forEach((f, i) => expect(f.confidence!, key).toBeCloseTo(here[i]!.confidence!, 5));
    }
    expect(here.every((f) => f.outcome === 'local')).toBe(true);
    const sent = (key: string) => results.get(key)![1]!.sentBytes!;
    expect(sent('packed/binary')).toBeLessThan(sent('tensors/binary'));
    const t = results.get('packed/binary')![1]!.timings;
    expect(t.totalMs).toBeGreaterThanOrEqual(t.headMs + t.requestMs!);
    expect(t.serverComputeMs).toBeGreaterThan(0);
  });
});

describe('early exits', () => {
  it('end a frame at the exit when it is confident enough, else send it on', async () => {
    const repo = await splitRepo();
    saveModel(headWithExit(), join(repo.dir, 'head.onnx'));
    const server = await serve(repo);
    try {
      const always = await runner(repo, { fallback: 'exit', exits: [{ output: 'exit', threshold: 0.01 }], server: { url: server.url, model: 'tail' } });
      const never = await runner(repo, { exits: [{ output: 'exit', threshold: 1 }], server: { url: server.url, model: 'tail' } });
      const [a, n] = [await frames(always, 3), await frames(never, 3)];
      expect(a.map((f) => [f.outcome, f.exit])).toEqual([['exit', 0], ['exit', 0], ['exit', 0]]);
      expect(a.every((f) => f.timings.requestMs === undefined)).toBe(true);
      expect(n.map((f) => f.outcome)).toEqual(['server', 'server', 'server']);
      await Promise.all([always.close(), never.close()]);
      // the server gone, the exit answers instead
      const fallback = await runner(repo, { fallback: 'exit', exits: [{ output: 'exit', threshold: 1 }], server: { url: 'http://127.0.0.1:1', model: 'tail' } });
      const [f] = await frames(fallback, 1);
      expect(f).toMatchObject({ outcome: 'exit', reason: expect.stringMatching(/server unreachable.*answered by exit 0/) });
      await fallback.close();
      await expect(runner(repo, { exits: [{ output: 'exit2', threshold: 0.5 }], server: { url: server.url, model: 'tail' } })).rejects.toMatchObject({ message: expect.stringMatching(/exit output 'exit2' is not an output of the head/), hint: "the head's outputs are 'r1', 'exit'" });
    } finally {
      await server.close();
    }
  });
});

describe('when the server cannot answer', () => {
  let repo: SplitRepo;
  beforeAll(async () => {
    repo = await splitRepo();
  });

  it('runs the tail here when the server is unreachable, and leaves it alone for a doubling backoff', async () => {
    const r = await runner(repo, { server: { url: 'http://127.0.0.1:1', model: 'tail' }, reconnect: { initialMs: 300, maxMs: 1000 } });
    const [first, second] = await frames(r, 2);
    expect(first).toMatchObject({ outcome: 'local', reason: expect.stringMatching(/server unreachable.*next try in 300 ms; ran the tail locally/) });
    expect(first!.timings.requestMs).toBeDefined();
    expect(second).toMatchObject({ outcome: 'local', reason: expect.stringMatching(/waiting before the next try/) });
    expect(second!.timings.requestMs).toBeUndefined(); // not tried during the backoff
    await new Promise((resolve) => setTimeout(resolve, 350));
    const [third] = await frames(r, 1, 2);
    expect(third!.reason).toMatch(/next try in 600 ms/); // tried again, failed, backoff doubled
    await r.close();
  });

  it('falls back when the server is slower than the latency budget, or refuses with 429', async () => {
    let mode: 'slow' | 'busy' = 'slow';
    const stub: Server = createServer((req, res) => {
      req.resume();
      if (mode === 'busy') res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":"busy"}');
      else setTimeout(() => res.writeHead(200).end('{}'), 2000);
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    const r = await runner(repo, { server: { url, model: 'tail' }, latencyBudgetMs: 150 });
    const [slow] = await frames(r, 1);
    expect(slow).toMatchObject({ outcome: 'local', reason: expect.stringMatching(/slower than the latency budget of 150 ms/) });
    expect(slow!.timings.totalMs).toBeLessThan(1500);
    mode = 'busy';
    const [busy, after] = await frames(r, 2, 1);
    expect(busy).toMatchObject({ outcome: 'local', reason: expect.stringMatching(/server overloaded.*answered 429.*next try in 1000 ms/) });
    expect(after!.reason).toMatch(/server overloaded; waiting before the next try/);
    await r.close();
    stub.closeAllConnections();
    stub.close();
  });

  it.each(['binary', 'json'] as const)('falls back on every 200 answer that is not a result (%s), each frame with the reason', async (protocol) => {
    const stub = await malformedServer();
    const r = await runner(repo, { server: { url: stub.url, model: 'tail', protocol } });
    const local = await runner(repo, { server: { url: 'http://127.0.0.1:1', model: 'tail' } });
    try {
      const [answered, here] = [await frames(r, MALFORMED_ANSWERS.length), await frames(local, MALFORMED_ANSWERS.length)];
      answered.forEach((f, i) => {
        const what = MALFORMED_ANSWERS[i]!.what;
        expect(f, what).toMatchObject({ outcome: 'local', prediction: here[i]!.prediction, reason: expect.stringMatching(/^the server's (200 answer is not a valid inference response|answer has no outputs?|output 'y' is BYTES).*; ran the tail locally$/) });
        expect(f.timings.requestMs, what).toBeDefined();
      });
    } finally {
      await Promise.all([r.close(), local.close()]);
      stub.close();
    }
  });

  it('survives the server being killed and restarted mid-run: falls back, reconnects, and every frame has a result', async () => {
    const start = (port: number) =>
      new Promise<{ child: ChildProcess; port: number }>((resolve, reject) => {
        const child = spawn('node', [BIN, 'serve', '--model-repo', repo.dir, '--port', String(port), '--json', '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
        createInterface({ input: child.stdout! }).once('line', (l) => resolve({ child, port: JSON.parse(l).port }));
        child.once('exit', (code) => reject(new Error(`impera serve exited with ${code}`)));
      });
    let server = await start(0);
    const port = server.port;
    const r = await runner(repo, { server: { url: `http://127.0.0.1:${port}`, model: 'tail' }, reconnect: { initialMs: 50, maxMs: 200 } });
    const source = frameSource('synthetic', r.inputs);
    const results: FrameResult[] = [];
    const t0 = performance.now();
    let frame = 0;
    let killed = false;
    let restarting: Promise<void> | undefined;
    let backSinceRestart = 0;
    // at least 4 s, and on until the restarted server has answered 11 frames: under load a restart takes seconds
    while (performance.now() - t0 < 4000 || (backSinceRestart <= 10 && performance.now() - t0 < 60_000)) {
      const elapsed = performance.now() - t0;
      if (!killed && elapsed > 800) {
        server.child.kill('SIGKILL');
        killed = true;
      }
      if (killed && !restarting && elapsed > 1600) {
        restarting = start(port).then((s) => {
          server = s;
        }); // frames keep coming while it starts
      }
      const result = await r.process(frame, source.frame(frame).feeds);
      results.push(result);
      if (restarting && result.outcome === 'server') backSinceRestart++;
      frame++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await r.close();
    await restarting;
    server.child.kill('SIGTERM');
    const s = summarize(frame, results);
    expect(s.resultsOut).toBe(s.framesIn);
    expect(s.outcomes.failed).toBe(0);
    expect(s.outcomes.local).toBeGreaterThan(0);
    expect(s.reasons.map((x) => x.reason)).toContain('server unreachable');
    const firstLocal = results.findIndex((x) => x.outcome === 'local');
    const backAt = results.findIndex((x, i) => i > firstLocal && x.outcome === 'server');
    expect(results.slice(0, firstLocal).every((x) => x.outcome === 'server')).toBe(true);
    expect(backAt).toBeGreaterThan(firstLocal); // reconnected after the restart
    expect(results.slice(backAt).filter((x) => x.outcome === 'server').length).toBeGreaterThan(10);
  });
});
