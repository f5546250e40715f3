/** The prediction side of the end-to-end check: links, the bytes a frame puts on the wire, and the sum. */
import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { pathOf } from '../../src/net/path.js';
import { drawTransfers } from '../../src/net/transfer.js';
import { messageBytes, parseLinks, predictE2e, transportFor } from '../../src/harness/e2e.js';
import { HttpClient, StreamClient } from '../../src/runtime/edge/client.js';
import { cutInputs, serve, splitRepo } from '../helpers/runtime.js';

describe('links of the check', () => {
  it('reads RATE/DELAY lists', () => {
    const [a, b] = parseLinks('10/5, 100/20');
    expect([a!.up.meanMbps, a!.down.meanMbps, a!.delayMs, a!.framing, a!.name]).toEqual([10, 10, 5, 'ethernet', '10 Mb/s, 5 ms']);
    expect([b!.up.meanMbps, b!.delayMs]).toEqual([100, 20]);
    for (const bad of ['10', 'a/b', '10/5/1', '']) expect(() => parseLinks(bad)).toThrow(/must be RATE\/DELAY/);
  });
});

describe('bytes on the wire', () => {
  it('are what the clients actually send and receive for a frame', async () => {
    const repo = await splitRepo();
    const server = await serve(repo);
    try {
      const host = new URL(server.url).hostname;
      for (const protocol of ['binary', 'websocket'] as const) {
        const client = protocol === 'binary' ? new HttpClient({ url: server.url, protocol }) : new StreamClient({ url: server.url, protocol });
        const reply = await client.infer({ model: 'tail', inputs: cutInputs(repo), timeoutMs: 10_000 });
        client.close();
        const predicted = messageBytes(repo.g, repo.cut, protocol, host);
        expect(Math.abs(predicted.request - reply.sentBytes), protocol).toBeLessThanOrEqual(8); // the port's digits
        expect(Math.abs(predicted.response - reply.receivedBytes), protocol).toBeLessThanOrEqual(40); // timing digits
      }
    } finally {
      await server.close();
    }
  });
});

describe('the prediction', () => {
  const link = resolveLink({ upMbps: 10, downMbps: 10, delayMs: 5, framing: 'ethernet' });
  const base = { headMs: 3, tailMs: 2, requestBytes: 100_000, responseBytes: 400, link, transport: transportFor('netns'), periodMs: 500, overheadMs: 0.5 };

  it('is head + uplink + tail + downlink + overhead, the transfers from the TCP model', () => {
    const p = predictE2e({ ...base, frames: [0] });
    expect(p.totalMs).toBeCloseTo(3 + p.upMs + 2 + p.downMs + 0.5, 9);
    expect(p.upMs).toBeCloseTo(drawTransfers(pathOf(link, 'up'), base.transport, 100_000).lossless.endMs, 9);
    expect(p.upMs).toBeGreaterThan((100_000 * 8) / 10_000 + 5); // serialisation, headers and delay
    expect(p.downMs).toBeGreaterThan(5);
  });

  it('takes the measured frames of a stream, whose window has grown', () => {
    const fast = { ...base, link: resolveLink({ upMbps: 100, delayMs: 20, framing: 'ethernet' }), periodMs: 150 };
    const first = predictE2e({ ...fast, frames: [0] });
    const later = predictE2e({ ...fast, frames: [3, 4, 5] });
    expect(later.upMs).toBeLessThan(first.upMs);
  });
});
