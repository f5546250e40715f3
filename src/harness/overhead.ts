/**
 * The runtime's own cost per request, per protocol: an edge client calls `impera serve` (its own process) over
 * loopback with a real cut tensor, one request at a time (no load), and everything but the server's inference
 * (session.run, which the server reports) is overhead - encoding and decoding JSON or binary tensors, HTTP or
 * WebSocket framing, the loopback copy, validation, queueing and the hop to the worker thread. Protocols take
 * turns in blocks so the machine's slow phases hit them alike.
 */
import type { Cut } from '../cuts/cuts.js';
import type { Graph } from '../graph/graph.js';
import { quantile } from '../util/stats.js';
import { seededRandom } from '../util/random.js';
import { graphTensor, splitCut } from './e2e.js';
import { startServerProcess } from './processes.js';
import { createClient, PROTOCOLS, type Protocol } from '../runtime/edge/client.js';
import { TIMING } from '../runtime/protocol/extensions.js';
import type { InferTensor } from '../runtime/protocol/tensor.js';
import { LoopbackPath } from './shaper/loopback.js';

export interface OverheadStats {
  protocol: Protocol;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Median of the whole call (overhead + inference). */
  callP50Ms: number;
  /** Median of the server's inference time. */
  computeP50Ms: number;
}

export interface OverheadOptions {
  requests: number;
  warmup: number;
  /** Requests per protocol per turn. */
  block: number;
  workDir: string;
  protocols?: readonly Protocol[];
  /** Idle time after each request (ms): 0 sends back to back; a pause is how an edge sending frames periodically uses it. */
  gapMs?: number;
}

/** The cut tensor with seeded values (JSON's size depends on the digits). */
function cutInputs(g: Graph, cut: Cut): InferTensor[] {
  const rand = seededRandom(7);
  return cut.tensors.map((name) => graphTensor(g, name, rand));
}

export async function measureOverhead(g: Graph, cut: Cut, o: OverheadOptions): Promise<OverheadStats[]> {
  const protocols = o.protocols ?? PROTOCOLS;
  splitCut(g, cut, o.workDir);
  const server = await startServerProcess(new LoopbackPath(), o.workDir, ['--threads', '1', '--workers', '1']);
  const clients = protocols.map((protocol) => createClient({ url: server.url, protocol }));
  const inputs = cutInputs(g, cut);
  const samples = protocols.map(() => ({ overhead: [] as number[], call: [] as number[], compute: [] as number[] }));
  try {
    const call = async (i: number, keep: boolean) => {
      const start = performance.now();
      const reply = await clients[i]!.infer({ model: 'tail', inputs, timeoutMs: 30_000 });
      const ms = performance.now() - start;
      const compute = reply.response.parameters?.[TIMING.compute] as number;
      if (keep) {
        samples[i]!.overhead.push(ms - compute);
        samples[i]!.call.push(ms);
        samples[i]!.compute.push(compute);
      }
      if (o.gapMs) await new Promise((resolve) => setTimeout(resolve, o.gapMs));
    };
    for (let i = 0; i < protocols.length; i++) for (let k = 0; k < o.warmup; k++) await call(i, false);
    for (let done = 0; done < o.requests; done += o.block) {
      for (let i = 0; i < protocols.length; i++) for (let k = 0; k < Math.min(o.block, o.requests - done); k++) await call(i, true);
    }
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
  return protocols.map((protocol, i) => {
    const s = samples[i]!;
    return { protocol, requests: s.overhead.length, p50Ms: quantile(s.overhead, 0.5), p90Ms: quantile(s.overhead, 0.9), p99Ms: quantile(s.overhead, 0.99), callP50Ms: quantile(s.call, 0.5), computeP50Ms: quantile(s.compute, 0.5) };
  });
}
