/**
 * The fallback shaper: a TCP proxy on loopback that delivers the byte stream in segments of at most a TCP
 * segment's payload, each after serialising it at the direction's rate (behind the bytes before it) and delaying
 * it by the one-way delay, so a message arrives spread over its transfer time as it would over a link (a receiver
 * can time its arrival). It needs no privileges, but it carries a byte stream, not packets: both TCP connections
 * run over loopback, so there is no slow start or window on the shaped link (a transfer takes delay + bytes /
 * rate) and no packet loss.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { ImperaError } from '../../errors.js';
import { LoopbackPath } from './loopback.js';
import type { ShapedPath, ShapeParams } from './path.js';

/** The most bytes delivered at once: a TCP segment's payload on Ethernet (1500 less 52 bytes of IP and TCP headers). */
export const SEGMENT_BYTES = 1448;

/** Bytes in flight through one direction before the sender is paused. */
const HIGH_WATER = 4 * 1024 * 1024;

type Direction = () => { mbps: number; delayMs: number };

/** Deliveries of one direction in order: one timer at a time, so a chunk never overtakes another or the end. */
function deliveries(): (dueMs: number, action: () => void) => void {
  const queue: { dueMs: number; action: () => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    while (queue.length && queue[0]!.dueMs <= performance.now()) queue.shift()!.action();
    if (queue.length) timer = setTimeout(flush, queue[0]!.dueMs - performance.now());
  };
  return (dueMs, action) => {
    queue.push({ dueMs, action });
    timer ??= setTimeout(flush, dueMs - performance.now());
  };
}

function shape(from: Socket, to: Socket, direction: Direction): void {
  const deliver = deliveries();
  let freeAt = 0;
  let inFlight = 0;
  let lastDue = 0;
  from.on('data', (chunk: Buffer) => {
    const { mbps, delayMs } = direction();
    inFlight += chunk.length;
    if (inFlight > HIGH_WATER) from.pause();
    for (let at = 0; at < chunk.length; at += SEGMENT_BYTES) {
      const segment = chunk.subarray(at, at + SEGMENT_BYTES);
      freeAt = Math.max(performance.now(), freeAt) + (segment.length * 8) / (mbps * 1000);
      lastDue = freeAt + delayMs;
      deliver(lastDue, () => {
        to.write(segment);
        inFlight -= segment.length;
        if (from.isPaused() && inFlight <= HIGH_WATER / 2) from.resume();
      });
    }
  });
  from.on('end', () => deliver(lastDue, () => to.end()));
  from.on('error', () => to.destroy());
  from.on('close', () => deliver(lastDue, () => to.end()));
}

export class ProxyPath extends LoopbackPath {
  override readonly kind: ShapedPath['kind'] = 'proxy';
  private params: ShapeParams = { upMbps: 1e6, downMbps: 1e6, delayMs: 0, loss: 0, downLoss: 0, overheadBytes: 0 };
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();

  override async set(p: ShapeParams): Promise<void> {
    if (p.loss > 0 || p.downLoss > 0) throw new ImperaError('SHAPER_FAILED', 'the proxy shaper carries a byte stream and cannot lose packets', 'use the netns shaper (root) for links with loss');
    this.params = p;
  }

  override async expose(port: number): Promise<string> {
    const server = createServer((client) => {
      const upstream = connect(port, this.serverHost);
      for (const s of [client, upstream]) {
        s.setNoDelay(true);
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      }
      shape(client, upstream, () => ({ mbps: this.params.upMbps, delayMs: this.params.delayMs }));
      shape(upstream, client, () => ({ mbps: this.params.downMbps, delayMs: this.params.delayMs }));
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, this.serverHost, resolve));
    const address = server.address();
    return `http://${this.serverHost}:${typeof address === 'object' && address ? address.port : 0}`;
  }

  override async close(): Promise<void> {
    await super.close();
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
