/**
 * The shapers deliver what they are set to: a transfer through them takes what the link model says (network
 * namespaces: kernel TCP over the emulated link; proxy: delay plus bytes at the rate), and loss drops packets.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../../src/net/link.js';
import { pathOf } from '../../../src/net/path.js';
import { drawTransfers } from '../../../src/net/transfer.js';
import { canUseNetns, transportFor } from '../../../src/harness/e2e.js';
import { NetnsPath } from '../../../src/harness/shaper/netns.js';
import { shapeParams, type ShapedPath } from '../../../src/harness/shaper/path.js';
import { ProxyPath } from '../../../src/harness/shaper/proxy.js';

/** A server that answers "done" once it has `bytes`; resolves with its port. */
const SINK = (host: string, bytes: number) => `require('net').createServer((s) => { let n = 0; s.on('data', (c) => { n += c.length; if (n >= ${bytes}) s.end('done'); }); }).listen(0, '${host}', function () { console.log(this.address().port); });`;
/** A client that sends `bytes` and prints how long until the answer came (ms). */
const SEND = (host: string, port: number, bytes: number) => `const s = require('net').connect(${port}, '${host}', () => { const t = performance.now(); s.setNoDelay(true); s.write(Buffer.alloc(${bytes})); s.on('data', () => { console.log(performance.now() - t); s.destroy(); }); });`;

const output = (child: ChildProcess) => new Promise<string>((resolve) => {
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stdout!.once('data', () => resolve(out.trim()));
});

async function transferMs(path: ShapedPath, bytes: number): Promise<number> {
  const sink = path.spawn('server', process.execPath, ['-e', SINK(path.serverHost, bytes)]);
  try {
    const port = Number(await output(sink));
    const url = new URL(await path.expose(port));
    const client = path.spawn('edge', process.execPath, ['-e', SEND(url.hostname, Number(url.port), bytes)]);
    return Number(await output(client));
  } finally {
    sink.kill();
  }
}

/** What the link model predicts for a fresh connection: the transfer, then the 4-byte answer back. */
function predicted(kind: ShapedPath['kind'], spec: { upMbps: number; delayMs: number }, bytes: number): number {
  const link = resolveLink({ ...spec, downMbps: spec.upMbps, framing: 'ethernet' });
  const t = transportFor(kind);
  return drawTransfers(pathOf(link, 'up'), t, bytes).lossless.endMs + drawTransfers(pathOf(link, 'down'), t, 4).lossless.endMs;
}

describe.skipIf(!canUseNetns())('network namespaces joined by the link emulator', () => {
  it('take as long as the TCP model says, at 10 and 100 Mb/s', async () => {
    const path = await NetnsPath.open(`${process.pid}9`);
    try {
      for (const [spec, bytes] of [[{ upMbps: 10, delayMs: 5 }, 200_000], [{ upMbps: 100, delayMs: 20 }, 1_000_000]] as const) {
        await path.set(shapeParams(resolveLink({ ...spec, downMbps: spec.upMbps, framing: 'ethernet' })));
        // the best of three fresh connections: the machine's other work only ever delays packets
        const ms = Math.min(await transferMs(path, bytes), await transferMs(path, bytes), await transferMs(path, bytes));
        expect(ms / predicted('netns', spec, bytes) - 1).toBeGreaterThan(-0.1);
        expect(ms / predicted('netns', spec, bytes) - 1).toBeLessThan(0.15);
      }
      await path.set({ ...shapeParams(resolveLink({ upMbps: 100, delayMs: 1 })), loss: 0.05 });
      await transferMs(path, 500_000);
      expect((await path.stats()) as { ab: { lost: number } }).toMatchObject({ ab: { lost: expect.any(Number) } });
      expect(((await path.stats()) as { ab: { lost: number } }).ab.lost).toBeGreaterThan(0);
    } finally {
      await path.close();
    }
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toMatch(new RegExp(`impera-${process.pid}9-`));
  });
});

describe('the shaping proxy', () => {
  it('delivers after the delay with the bytes at the link rate, and refuses loss', async () => {
    const path = new ProxyPath();
    try {
      const spec = { upMbps: 10, delayMs: 20 };
      await path.set(shapeParams(resolveLink({ ...spec, downMbps: 10, framing: 'none' })));
      // the best of three fresh connections, as for the namespaces: the machine's other work only ever delays
      const ms = Math.min(await transferMs(path, 200_000), await transferMs(path, 200_000), await transferMs(path, 200_000));
      const expected = 20 + (200_000 * 8) / 10_000 + 20;
      expect(Math.abs(ms / expected - 1)).toBeLessThan(0.15);
      expect(Math.abs(predicted('proxy', spec, 200_000) / expected - 1)).toBeLessThan(0.05);
      await expect(path.set({ ...shapeParams(resolveLink({ upMbps: 10 })), loss: 0.01 })).rejects.toThrow(/cannot lose packets/);
    } finally {
      await path.close();
    }
  });
});
