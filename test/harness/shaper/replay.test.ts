/**
 * A trace replayed on a shaped path: the steps come at the trace's times, and a transfer during a low-rate step
 * takes what the link model says at that step's rate (network namespaces where this machine allows, and the proxy).
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../../src/net/link.js';
import { pathOf } from '../../../src/net/path.js';
import { parseTrace } from '../../../src/net/rate.js';
import { drawTransfers } from '../../../src/net/transfer.js';
import { canUseNetns, transportFor } from '../../../src/harness/e2e.js';
import { NetnsPath } from '../../../src/harness/shaper/netns.js';
import { shapeParams, type ShapedPath, type ShapeParams } from '../../../src/harness/shaper/path.js';
import { ProxyPath } from '../../../src/harness/shaper/proxy.js';
import { MIN_REPLAY_MBPS, replayParams, replayTrace, traceStepAt } from '../../../src/harness/shaper/replay.js';

/** A server that answers "done" once it has `bytes`; prints its port. */
const SINK = (host: string, bytes: number) => `require('net').createServer((s) => { let n = 0; s.on('data', (c) => { n += c.length; if (n >= ${bytes}) s.end('done'); }); }).listen(0, '${host}', function () { console.log(this.address().port); });`;
/** A client that sends `bytes` and prints how long until the answer came (ms). */
const SEND = (host: string, port: number, bytes: number) => `const s = require('net').connect(${port}, '${host}', () => { const t = performance.now(); s.setNoDelay(true); s.write(Buffer.alloc(${bytes})); s.on('data', () => { console.log(performance.now() - t); s.destroy(); }); });`;

const firstLine = (child: ChildProcess) => new Promise<string>((resolve) => child.stdout!.once('data', (c: Buffer) => resolve(c.toString().trim())));

/** Start a sink on the server side; the transfer itself runs when `send` is called. */
async function sink(path: ShapedPath, bytes: number): Promise<{ send: () => Promise<number>; stop: () => void }> {
  const server = path.spawn('server', process.execPath, ['-e', SINK(path.serverHost, bytes)]);
  const url = new URL(await path.expose(Number(await firstLine(server))));
  return { send: async () => Number(await firstLine(path.spawn('edge', process.execPath, ['-e', SEND(url.hostname, Number(url.port), bytes)]))), stop: () => server.kill() };
}

/** The link model's time for a fresh connection at a constant rate: the transfer, then the 4-byte answer back. */
function predicted(kind: ShapedPath['kind'], upMbps: number, downMbps: number, delayMs: number, bytes: number): number {
  const link = resolveLink({ upMbps, downMbps, delayMs, framing: kind === 'netns' ? 'ethernet' : 'none' });
  const t = transportFor(kind);
  return drawTransfers(pathOf(link, 'up'), t, bytes).lossless.endMs + drawTransfers(pathOf(link, 'down'), t, 4).lossless.endMs;
}

describe('the steps of a replayed trace', () => {
  const trace = parseTrace('0, 20\n1.5, 2\n4, 0\n', 'steps.csv');

  it('come at the trace times and repeat every period', () => {
    // steps 0-1.5 s, 1.5-4 s, 4-6.5 s (the last lasts as long as the step before it); period 6.5 s
    expect(traceStepAt(trace, 0)).toEqual({ index: 0, nextMs: 1500 });
    expect(traceStepAt(trace, 1500)).toEqual({ index: 1, nextMs: 4000 });
    expect(traceStepAt(trace, 6499)).toEqual({ index: 2, nextMs: 6500 });
    expect(traceStepAt(trace, 6500 + 1600)).toEqual({ index: 1, nextMs: 6500 + 4000 });
  });

  it('set the trace rate on the replayed directions only, and an outage at the least rate', () => {
    const base: ShapeParams = { upMbps: 50, downMbps: 60, delayMs: 7, loss: 0, downLoss: 0, overheadBytes: 38 };
    expect(replayParams(trace, 1, base, 'up')).toEqual({ ...base, upMbps: 2 });
    expect(replayParams(trace, 1, base, 'down')).toEqual({ ...base, downMbps: 2 });
    expect(replayParams(trace, 2, base, 'both')).toEqual({ ...base, upMbps: MIN_REPLAY_MBPS, downMbps: MIN_REPLAY_MBPS });
  });
});

/** 2 Mb/s for 4 s, then 40 Mb/s for 4 s: a 20x swing, each step long enough for a transfer to start and end in it. */
const SWING = parseTrace('time_s, Mb/s\n0, 2\n4, 40\n', 'swing.csv');
const BYTES = 150_000;

async function transfersDuringSteps(path: ShapedPath, base: ShapeParams): Promise<{ low: number; high: number }> {
  const s = await sink(path, BYTES);
  try {
    const replay = await replayTrace(path, SWING, base);
    try {
      const low = await s.send();
      // into the 40 Mb/s step, with time to start the client before the trace wraps around to 2 Mb/s at 8 s
      await new Promise((r) => setTimeout(r, Math.max(0, replay.startMs + 4300 - performance.now())));
      expect(performance.now() - replay.startMs).toBeLessThan(5000);
      const high = await s.send();
      expect(replay.error).toBeUndefined();
      return { low, high };
    } finally {
      await replay.stop();
    }
  } finally {
    s.stop();
  }
}

describe.skipIf(!canUseNetns())('a trace replayed on network namespaces', () => {
  it('makes a transfer during the 2 Mb/s step take what TCP at 2 Mb/s takes, and one at 40 Mb/s a third of it at most', async () => {
    const path = await NetnsPath.open(`${process.pid}7`);
    try {
      const base = shapeParams(resolveLink({ upMbps: 40, downMbps: 40, delayMs: 5, framing: 'ethernet' }));
      const { low, high } = await transfersDuringSteps(path, base);
      // generous bounds: the machine's other work only delays packets, and the client starts during the step
      const expected = predicted('netns', 2, 40, 5, BYTES);
      expect(low / expected).toBeGreaterThan(0.85);
      expect(low / expected).toBeLessThan(1.6);
      expect(high).toBeLessThan(low / 3);
    } finally {
      await path.close();
    }
  }, 30_000);
});

describe('a trace replayed on the shaping proxy', () => {
  it('makes a transfer during the 2 Mb/s step take delay + bytes at 2 Mb/s, and one at 40 Mb/s a third of it at most', async () => {
    const path = new ProxyPath();
    try {
      const base = shapeParams(resolveLink({ upMbps: 40, downMbps: 40, delayMs: 5, framing: 'none' }));
      const { low, high } = await transfersDuringSteps(path, base);
      const expected = predicted('proxy', 2, 40, 5, BYTES);
      expect(Math.abs(expected / (5 + (BYTES * 8) / 2000 + 5) - 1)).toBeLessThan(0.05);
      expect(low / expected).toBeGreaterThan(0.9);
      expect(low / expected).toBeLessThan(1.5);
      expect(high).toBeLessThan(low / 3);
    } finally {
      await path.close();
    }
  }, 30_000);
});
