/**
 * The end-to-end check: the split run for real - `impera serve` on one side of a shaped link, `impera edge` on the
 * other - for every candidate cut and link, against the prediction for the same cut and link:
 *
 *   predicted = head (profile) + uplink transfer of the request (TCP model) + tail (profile)
 *             + downlink transfer of the response (TCP model) + the runtime's own overhead (measured on loopback,
 *               with a pause between requests as the edge sends frames).
 *
 * Compute times come from a measured profile (src/profile: partMs of the head and tail of the cut), transfers from
 * the analytic link model (src/net: TCP rounds over the link, frames every `period` on one connection as the
 * edge sends them), with the exact bytes the protocol puts on the wire. With the netns shaper the kernels' TCP (Reno)
 * runs over an emulated link; Linux grows its window by the segments an ACK covers, which the model reproduces by
 * acknowledging every segment (ackEvery 1). The proxy shaper has no TCP on the shaped link: a transfer is the delay
 * plus the bytes at the link rate (the model with one segment as large as any frame).
 */
import { numel } from '../onnx/dtype.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../errors.js';
import type { Cut } from '../cuts/cuts.js';
import { splitModel, writeParts } from '../export/split.js';
import type { Graph } from '../graph/graph.js';
import { tensor } from '../graph/graph.js';
import { parseLinkSpec, resolveLink, type Link } from '../net/link.js';
import { pathOf } from '../net/path.js';
import { constantRate } from '../net/rate.js';
import { drawTransfers, resolveTransport, type Transport } from '../net/transfer.js';
import { partMs, type Profile } from '../profile/profile-file.js';
import { allocate, datatypeOf, type NumericDatatype } from '../runtime/protocol/datatypes.js';
import { encodeRequest, encodeResponse } from '../runtime/protocol/messages.js';
import type { InferTensor } from '../runtime/protocol/tensor.js';
import { TIMING } from '../runtime/protocol/extensions.js';
import type { Protocol } from '../runtime/edge/client.js';
import { RUNTIME_FORMAT } from '../runtime/edge/config.js';
import { NetnsPath, netnsUnavailable } from './shaper/netns.js';
import { runEdgeProcess, startServerProcess } from './processes.js';
import { HEADER_LENGTH } from '../runtime/protocol/body.js';
import { shapeParams, type PathKind, type ShapedPath, type ShaperKind } from './shaper/path.js';
import { replayTrace } from './shaper/replay.js';
import { ProxyPath } from './shaper/proxy.js';
import { median } from '../util/stats.js';

/**
 * The links of the check: `10/5` is 10 Mb/s both ways with a 5 ms one-way delay, `trace:FILE/5` an uplink that
 * follows a bandwidth trace (replayed on the path during the run), Ethernet framing (the shapers emulate no more).
 */
export function parseLinks(specs: string): Link[] {
  return specs.split(',').map((spec) => {
    if (!['rate', 'trace'].includes(parseLinkSpec(spec).kind)) throw new ImperaError('BAD_ARGUMENT', `link '${spec}' must be RATE/DELAY in Mb/s and ms, e.g. 10/5, or trace:FILE/DELAY`);
    return resolveLink(spec, { where: '--links' });
  });
}

/** The link at its trace's lowest rate above 0 (the link itself without a trace): frames paced for it never queue. */
function slowestOf(link: Link): Link {
  return link.trace ? { ...link, up: constantRate(Math.min(...link.trace.mbps.filter((r) => r > 0))) } : link;
}

/** The transport model of a shaped path (see the file header). */
export function transportFor(kind: PathKind): Transport {
  // the proxy paces payload bytes: one 'segment' as large as any frame, sent at once
  return kind === 'netns' ? resolveTransport({ protocol: 'tcp', ackEvery: 1 }) : resolveTransport({ protocol: 'tcp', segmentBytes: 1 << 30, maxWindowBytes: 1 << 30 });
}

/** Bytes of the request line and headers Node's HTTP client sends with an inference request. */
function httpHeadBytes(path: string, host: string, headers: Record<string, string>): number {
  const lines = [`POST ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `Host: ${host}`, 'Connection: keep-alive'];
  return lines.reduce((s, l) => s + l.length + 2, 2);
}

/** A tensor of the graph as a protocol tensor at its analysed shape: zeros, or values drawn from `fill`. */
export function graphTensor(g: Graph, name: string, fill?: () => number): InferTensor {
  const t = tensor(g, name);
  const datatype = datatypeOf(t.dtype)!;
  const data = allocate(datatype as NumericDatatype, numel(t.shape));
  if (fill) for (let i = 0; i < data.length; i++) (data as Float32Array)[i] = fill();
  return { name, datatype, shape: [...t.shape], data };
}

/** Bytes on the wire (above TCP) for one frame's request and response through `protocol`. */
export function messageBytes(g: Graph, cut: Cut, protocol: Protocol, host: string): { request: number; response: number } {
  const inputs = cut.tensors.map((name) => graphTensor(g, name));
  const request = encodeRequest({ inputs }, { binaryInputs: true, ...(protocol === 'websocket' ? { modelName: 'tail' } : {}) });
  const outputs = [graphTensor(g, g.outputs[0]!.name!)];
  // typical digits; over HTTP also the body's arrival
  const timing = { [TIMING.queue]: 0.0123456789, [TIMING.compute]: 1.23456789012, [TIMING.batch]: 1, ...(protocol === 'websocket' ? {} : { [TIMING.receive]: 0.123456789012, [TIMING.receiveBytes]: 1234 }) };
  const response = encodeResponse({ model_name: 'tail', model_version: '1', parameters: timing, outputs }, () => true);
  if (protocol === 'websocket') {
    const frame = (n: number) => n + 4 + (n < 126 ? 2 : n < 65536 ? 4 : 10); // JSON-length prefix + WebSocket header
    return { request: frame(request.byteLength) + 4 /* client mask */, response: frame(response.byteLength) };
  }
  const headers = { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(request.headerLength), 'content-length': String(request.byteLength) };
  const responseHead = 'HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ninference-header-content-length: 000\r\ncontent-length: 000\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=65\r\n\r\n'.length;
  return { request: httpHeadBytes('/v2/models/tail/infer', `${host}:8000`, headers) + request.byteLength, response: responseHead + response.byteLength };
}

export interface Prediction {
  headMs: number;
  upMs: number;
  tailMs: number;
  downMs: number;
  overheadMs: number;
  totalMs: number;
}

export interface PredictionInput {
  headMs: number;
  tailMs: number;
  requestBytes: number;
  responseBytes: number;
  link: Link;
  transport: Transport;
  /** One frame every this many ms on one connection. */
  periodMs: number;
  /** Frames whose transfers count (the measured ones: after the warm-up). */
  frames: readonly number[];
  overheadMs: number;
}

/** The predicted latency of the measured frames (median over them). */
export function predictE2e(p: PredictionInput): Prediction {
  const transfer = (direction: 'up' | 'down', bytes: number) => {
    const { draws } = drawTransfers(pathOf(p.link, direction), p.transport, bytes, { periodMs: p.periodMs, samples: Math.max(...p.frames) + 1 });
    return median(p.frames.map((k) => draws[Math.min(k, draws.length - 1)]!.endMs));
  };
  const upMs = transfer('up', p.requestBytes);
  const downMs = transfer('down', p.responseBytes);
  return { headMs: p.headMs, upMs, tailMs: p.tailMs, downMs, overheadMs: p.overheadMs, totalMs: p.headMs + upMs + p.tailMs + downMs + p.overheadMs };
}

/**
 * The period frames are sent at: 10 % (+10 ms) above the latency the connection sustains once its window is open,
 * as a camera sending about as fast as the deployment keeps up. Every frame finishes before the next, and the
 * connection idles too briefly for TCP to restart its window (Linux and the model alike restart after an idle
 * time above the retransmission timeout, at least 200 ms, but estimate that timeout differently once queueing
 * delay enters the RTT samples).
 */
export function framePeriod(p: Omit<PredictionInput, 'periodMs'>): number {
  const open = p.transport.protocol === 'tcp' ? { ...p.transport, tcp: { ...p.transport.tcp, restartAfterIdle: false } } : p.transport;
  return Math.ceil(predictE2e({ ...p, transport: open, periodMs: 1e9 }).totalMs * 1.1 + 10);
}

/** Open the shaped path: network namespaces where possible ('auto'), else the proxy. */
export async function openPath(kind: 'auto' | ShaperKind): Promise<ShapedPath> {
  if (kind === 'proxy' || (kind === 'auto' && netnsUnavailable())) return new ProxyPath();
  return NetnsPath.open();
}

export interface CutResult {
  model: string;
  cut: number;
  cutId: string;
  tensorBytes: number;
  link: string;
  requestBytes: number;
  periodMs: number;
  predicted: Prediction;
  measured: { totalMs: number; headMs: number; requestMs: number; serverComputeMs: number; frames: number; sentBytes: number };
  /** measured / predicted - 1. */
  error: number;
}

export interface ModelUnderTest {
  name: string;
  graph: Graph;
  cuts: Cut[];
  profile: Profile;
}

export interface E2eOptions {
  links: readonly Link[];
  frames: number;
  warmup: number;
  protocol: Exclude<Protocol, 'json'>;
  threads: number;
  source: string;
  workDir: string;
  /** The runtime's own overhead per request (ms), from the loopback measurement. */
  overheadMs: number;
  onResult?: (r: CutResult, done: number, total: number) => void;
}

/** The edge's runtime configuration for a cut written by splitCut, talking to `url`; returns its path. */
function writeEdgeConfig(dir: string, url: string, o: Pick<E2eOptions, 'protocol' | 'threads'>): string {
  const config = {
    format: RUNTIME_FORMAT,
    head: 'head.onnx',
    server: { url, model: 'tail', protocol: o.protocol },
    latencyBudgetMs: 600_000,
    fallback: 'none',
    threads: o.threads,
  };
  const file = join(dir, 'edge.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** head.onnx and tail.onnx of a cut in `dir`. */
export function splitCut(g: Graph, cut: Cut, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeParts(g, splitModel(g, [cut]).parts, dir);
}

/** Every cut of every model over every link, on one shaped path. */
export async function runE2e(path: ShapedPath, models: readonly ModelUnderTest[], o: E2eOptions): Promise<CutResult[]> {
  const results: CutResult[] = [];
  const total = models.reduce((s, m) => s + m.cuts.length, 0) * o.links.length;
  const transport = transportFor(path.kind);
  for (const m of models) {
    for (const cut of m.cuts) {
      const dir = join(o.workDir, m.name, `cut${cut.index}`);
      splitCut(m.graph, cut, dir);
      const server = await startServerProcess(path, dir, ['--threads', String(o.threads), '--workers', '1']);
      try {
        const config = writeEdgeConfig(dir, server.url, o);
        const bytes = messageBytes(m.graph, cut, o.protocol, path.serverHost);
        const headMs = partMs(m.profile, 'head', cut.id);
        const tailMs = partMs(m.profile, 'tail', cut.id);
        if (headMs === undefined || tailMs === undefined) throw new ImperaError('PROFILE_INVALID', `the profile of ${m.name} has no head/tail timing for cut '${cut.id}'`, 'profile every single-tensor cut (impera profile --cuts all)');
        for (const link of o.links) {
          const frames = Array.from({ length: o.frames }, (_, i) => o.warmup + i);
          const base = { headMs, tailMs, requestBytes: bytes.request, responseBytes: bytes.response, link, transport, frames, overheadMs: o.overheadMs };
          const periodMs = framePeriod({ ...base, link: slowestOf(link) });
          // a trace's time 0 is when its replay starts, just before the edge: frame k is predicted k periods in
          // (the edge's start-up shifts the measured frames later in the trace by a few hundred ms)
          const predicted = predictE2e({ ...base, periodMs });
          const replay = link.trace ? await replayTrace(path, link.trace, shapeParams(link)) : undefined;
          if (!replay) await path.set(shapeParams(link));
          const run = await runEdgeProcess(path, config, { source: o.source, frames: o.warmup + o.frames, fps: 1000 / periodMs }).finally(() => replay?.stop());
          const measuredFrames = run.frames.slice(o.warmup);
          const failed = measuredFrames.find((f) => f.outcome !== 'server');
          if (failed) throw new ImperaError('SERVER_ERROR', `${m.name} cut ${cut.index} over ${link.name}: frame ${failed.frame} did not reach the server: ${failed.reason}`);
          const med = (k: 'totalMs' | 'headMs' | 'requestMs' | 'serverComputeMs') => median(measuredFrames.map((f) => f.timings[k] ?? NaN));
          const measured = { totalMs: med('totalMs'), headMs: med('headMs'), requestMs: med('requestMs'), serverComputeMs: med('serverComputeMs'), frames: measuredFrames.length, sentBytes: median(measuredFrames.map((f) => f.sentBytes ?? NaN)) };
          const r: CutResult = { model: m.name, cut: cut.index, cutId: cut.id, tensorBytes: cut.bytes, link: link.name, requestBytes: bytes.request, periodMs, predicted, measured, error: measured.totalMs / predicted.totalMs - 1 };
          results.push(r);
          o.onResult?.(r, results.length, total);
        }
      } finally {
        await server.stop();
      }
    }
  }
  return results;
}

/** Can the netns shaper run here? (For tests that need it.) */
export const canUseNetns = (): boolean => netnsUnavailable() === undefined;
