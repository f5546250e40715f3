/**
 * bench:serve — the tail server under load, faults and hostile input (`impera serve` in its own process, clients
 * here, loopback).
 *  1. Load: 64 concurrent edge clients send real cut tensors (MobileNetV2 cut after features.16, 31 kB; the tail is
 *     43 M MACs, as `impera inspect --width 1` lists it) back to back for 60 s (IMPERA_LOAD_S), once without and
 *     once with dynamic batching. Throughput, latency p50/p99, every request answered or refused with 429 (lost =
 *     neither), server memory (RSS) over time.
 *  2. Faults: an edge runner sends 25 frames/s for 20 s; the server is killed (SIGKILL) at 5 s and restarted at
 *     10 s. Frames in must equal results out; the edge falls back to its local tail and reconnects.
 *  3. Hostile input: 10,000 requests that are wrong by construction (src/harness/hostile.ts), 25 at a time, while
 *     a client keeps sending correct requests: every hostile one must get a 4xx, every correct one a 200.
 *  4. Limits (issue 14): `impera serve` arguments that would lock clients out or hold requests for days are refused
 *     at start; a request held past --inference-timeout-ms gets 504; stream messages nested thousands deep or
 *     listing too many tensors get a 4xx that keeps their id; and the server's RSS while a WebSocket client sends
 *     3,000 requests (IMPERA_UNREAD) with 64 kB ids, which every answer echoes, without reading a single answer,
 *     and after it goes away - with the default stream buffer limit and without one (as before it existed).
 *  5. A worker killed under load: 16 clients back to back for 10 s (IMPERA_KILL_S) on a server with 2 workers, one
 *     worker killed (SIGKILL) at 3 s. Only the request it was running may fail (503 saying why); nothing is lost,
 *     a replacement starts, and the server answers 200s after the kill.
 * Last line: {"bench":"serve","load_rps_no_batching":…,"load_rps_batching":…,"p99_ms_no_batching":…,
 *   "p99_ms_batching":…,"lost":…,"rss_growth":…,"fault_frames_in":…,"fault_results_out":…,"fuzz_non_4xx":…,
 *   "start_refusals_missed":…,"deadline_status":…,"stream_refusals_without_id":…,"unread_rss_mb":[before, peak, after],
 *   "unread_close_code":…,"unread_rss_mb_no_limit":[…],"worker_kill_503":…,"worker_kill_lost":…,
 *   "worker_kill_ok_after":…,"worker_kill_replaced":…}
 */
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { findCuts, resolveCut } from '../src/cuts/cuts.js';
import { openDataset } from '../src/data/dataset.js';
import { mean, quantile } from '../src/util/stats.js';
import { splitModel, writeParts } from '../src/export/split.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { createSession, run } from '../src/ort/session.js';
import { CallError, HttpClient } from '../src/runtime/edge/client.js';
import { resolveRuntimeConfig } from '../src/runtime/edge/config.js';
import { EdgeRunner, type FrameResult } from '../src/runtime/edge/runner.js';
import { summarize } from '../src/runtime/edge/summary.js';
import WebSocket from 'ws';
import { HOSTILE_SERVE_ARGS, hostileRequests, hostileStreamMessages, serverWorkers, type RawRequest } from '../src/harness/hostile.js';
import { encodeRequest } from '../src/runtime/protocol/messages.js';
import { frameMessage, STREAM_PATH, unframeMessage } from '../src/runtime/protocol/stream.js';
import { startServerProcess, type ServerProcess } from '../src/harness/processes.js';
import type { InferTensor } from '../src/runtime/protocol/tensor.js';
import { LoopbackPath } from '../src/harness/shaper/loopback.js';
import { EXAMPLE_DATA, EXAMPLE_MODEL } from '../src/util/package.js';
import { machine, pad } from './common.js';

const LOAD_S = Number(process.env.IMPERA_LOAD_S ?? 60);
const CLIENTS = 64;
const CUT = '/1/features/features.16/Add_output_0';
const FUZZ = Number(process.env.IMPERA_FUZZ ?? 10_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

console.log(`bench:serve  ${new Date().toISOString()}  ${machine()}  node ${process.version}  load ${LOAD_S} s, ${CLIENTS} clients`);

const dir = mkdtempSync(join(tmpdir(), 'impera-serve-bench-'));
const g = await analyzeModel(loadModel(EXAMPLE_MODEL), { batch: 1 });
const cut = resolveCut(g, findCuts(g, { maxWidth: 1 }), CUT);
const { parts } = splitModel(g, [cut]);
writeParts(g, parts, dir);

/** The cut tensor of real images (the head run here), one per client. */
async function cutTensors(count: number): Promise<InferTensor[][]> {
  const data = openDataset(EXAMPLE_DATA);
  const head = await createSession(parts[0]!.proto, g.model.dir, { threads: 1 });
  const out: InferTensor[][] = [];
  for (let i = 0; i < count; i++) {
    const x = data.load([i % data.size], { channels: 3, height: 224, width: 224 });
    const y = (await run(head, { input: { dtype: 1, dims: [1, 3, 224, 224], data: x } }))[CUT]!;
    out.push([{ name: CUT, datatype: 'FP32', shape: y.dims, data: y.data }]);
  }
  await head.release();
  return out;
}
const inputs = await cutTensors(CLIENTS);

const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
/** The server's memory: its own process and its worker processes. */
const serverRssMb = (pid: number): number => [pid, ...serverWorkers(pid)].reduce((s, p) => s + rssMb(p), 0);

interface LoadResult {
  label: string;
  sent: number;
  ok: number;
  refused: number;
  lost: number;
  rps: number;
  p50: number;
  p99: number;
  rss: number[];
  lostReasons: string[];
}

async function load(label: string, args: string[]): Promise<LoadResult> {
  const server = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1', '--workers', '1', '--max-queue', '48', ...args]);
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(serverRssMb(server.child.pid!)), 1000);
  const latencies: number[] = [];
  let sent = 0;
  let refused = 0;
  const lostReasons: string[] = [];
  const deadline = performance.now() + LOAD_S * 1000;
  const client = async (k: number) => {
    const c = new HttpClient({ url: server.url, protocol: 'binary' });
    while (performance.now() < deadline) {
      const t = performance.now();
      sent++;
      try {
        await c.infer({ model: 'tail', inputs: inputs[k]!, timeoutMs: 30_000 });
        latencies.push(performance.now() - t);
      } catch (e) {
        if (e instanceof CallError && e.status === 429) refused++;
        else lostReasons.push((e as Error).message);
      }
    }
    c.close();
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  await server.stop();
  return { label, sent, ok: latencies.length, refused, lost: sent - latencies.length - refused, rps: latencies.length / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), rss, lostReasons };
}

console.log(`\n1. load: ${CLIENTS} clients back to back for ${LOAD_S} s, tail of mobilenet_v2 after features.16 (31 kB per request), 1 worker, queue 48`);
const loads = [await load('no batching', []), await load('dynamic batching (max 16, 2 ms)', ['--max-batch', '16', '--batch-delay-ms', '2'])];
const third = (xs: number[], which: 'first' | 'last') => {
  const n = Math.max(1, Math.floor(xs.length / 3));
  const part = which === 'first' ? xs.slice(1, 1 + n) : xs.slice(-n);
  return mean(part);
};
console.log(`   ${'run'.padEnd(34)} ${pad('sent', 7)} ${pad('200', 7)} ${pad('429', 6)} ${pad('lost', 5)} ${pad('req/s', 7)} ${pad('p50 ms', 7)} ${pad('p99 ms', 7)} ${pad('RSS MB first/last third, max', 30)}`);
for (const l of loads) {
  console.log(`   ${l.label.padEnd(34)} ${pad(l.sent, 7)} ${pad(l.ok, 7)} ${pad(l.refused, 6)} ${pad(l.lost, 5)} ${pad(l.rps.toFixed(0), 7)} ${pad(l.p50.toFixed(1), 7)} ${pad(l.p99.toFixed(1), 7)} ${pad(`${third(l.rss, 'first').toFixed(0)} / ${third(l.rss, 'last').toFixed(0)}, ${Math.max(...l.rss).toFixed(0)}`, 30)}`);
  if (l.lostReasons.length) console.log(`     lost: ${[...new Set(l.lostReasons)].slice(0, 3).join('; ')}`);
}
const rssGrowth = Math.max(...loads.map((l) => third(l.rss, 'last') / third(l.rss, 'first') - 1));

console.log('\n2. faults: 25 frames/s for 20 s, the server killed (SIGKILL) at 5 s and restarted at 10 s');
let server: ServerProcess = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1']);
const port = server.port;
const edgeConfig = { format: 'impera-runtime/1', head: 'head.onnx', tail: 'tail.onnx', server: { url: server.url, model: 'tail' }, latencyBudgetMs: 500, fallback: 'local', reconnect: { initialMs: 100, maxMs: 1000 }, threads: 1 };
const edge = await EdgeRunner.open(resolveRuntimeConfig(edgeConfig, join(dir, 'edge.json'))); // paths resolve against dir
const images = openDataset(EXAMPLE_DATA);
const results: FrameResult[] = [];
const t0 = performance.now();
let frames = 0;
let killedAt = 0;
let restartedAt = 0;
let restarting: Promise<void> | undefined;
while (performance.now() - t0 < 20_000) {
  const at = performance.now() - t0;
  if (!killedAt && at >= 5000) {
    server.child.kill('SIGKILL');
    killedAt = at;
  }
  if (killedAt && !restarting && at >= 10_000) {
    // frames keep coming while the server starts again
    restarting = startServerProcess(new LoopbackPath(), dir, ['--threads', '1', '--port', String(port)]).then((s) => {
      server = s;
      restartedAt = performance.now() - t0;
    });
  }
  const i = frames++;
  const x = images.load([i % images.size], { channels: 3, height: 224, width: 224 });
  results.push(await edge.process(i, { input: { dtype: 1, dims: [1, 3, 224, 224], data: x } }, images.label(i % images.size)));
  await sleep(Math.max(0, t0 + frames * 40 - performance.now()));
}
await edge.close();
await restarting;
await server.stop();
const fault = summarize(frames, results);
const firstLocal = results.findIndex((r) => r.outcome === 'local');
const back = results.findIndex((r, i) => i > firstLocal && r.outcome === 'server');
console.log(`   frames in ${fault.framesIn}, results out ${fault.resultsOut}: ${Object.entries(fault.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}; accuracy ${((100 * results.filter((r) => r.label !== undefined && r.prediction === r.label).length) / results.length).toFixed(1)}%`);
console.log(`   killed at ${(killedAt / 1000).toFixed(1)} s, restart begun at 10.0 s and ready at ${(restartedAt / 1000).toFixed(1)} s; back on the server from frame ${back} (${back >= 0 ? ((back * 40) / 1000).toFixed(1) : '-'} s)`);
for (const r of fault.reasons) console.log(`   fallback: ${r.reason} x${r.frames}`);

console.log(`\n3. hostile input: ${FUZZ.toLocaleString('en-US')} broken requests, 25 at a time, with correct requests alongside (token required)`);
const TOKEN = 'bench-token';
server = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1', '--token', TOKEN, '--body-limit', '4MB']);
const send = (r: RawRequest) =>
  new Promise<number>((resolve) => {
    const req = request(new URL(r.path, server.url), { method: r.method, headers: { ...r.headers, ...(r.body ? { 'content-length': String(r.body.length) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', () => resolve(0));
    req.end(r.body);
  });
const hostile = hostileRequests({ model: 'tail', inputs: inputs[0]!, token: TOKEN }, FUZZ, 7);
const byKind = new Map<string, Map<number, number>>();
const good = new HttpClient({ url: server.url, protocol: 'binary', token: TOKEN });
let goodOk = 0;
let goodBad = 0;
const fuzzStart = performance.now();
for (let i = 0; i < hostile.length; i += 25) {
  const batch = hostile.slice(i, i + 25);
  const [statuses] = await Promise.all([
    Promise.all(batch.map(send)),
    good.infer({ model: 'tail', inputs: inputs[1]!, timeoutMs: 30_000 }).then(() => goodOk++, () => goodBad++),
  ]);
  statuses.forEach((s, k) => {
    const m = byKind.get(batch[k]!.kind) ?? new Map<number, number>();
    m.set(s, (m.get(s) ?? 0) + 1);
    byKind.set(batch[k]!.kind, m);
  });
}
good.close();
await server.stop();
const nonClientError = [...byKind.values()].flatMap((m) => [...m].filter(([s]) => s < 400 || s >= 500).map(([, n]) => n)).reduce((a, b) => a + b, 0);
console.log(`   ${'case'.padEnd(30)} statuses`);
for (const [kind, m] of [...byKind].sort()) console.log(`   ${kind.padEnd(30)} ${[...m].sort().map(([s, n]) => `${s} x${n}`).join(', ')}`);
console.log(`   ${FUZZ} hostile requests in ${((performance.now() - fuzzStart) / 1000).toFixed(1)} s: ${nonClientError} not answered with a 4xx; correct requests alongside: ${goodOk} answered 200, ${goodBad} failed`);

// ---- 4. limits (issue 14) ----
const UNREAD = Number(process.env.IMPERA_UNREAD ?? 3000);

/** A stream to `url` whose messages are decoded as they come (until `ws.pause()` stops reading). */
async function openStream(url: string) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + STREAM_PATH);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (m: Buffer) => {
    const { body, headerLength } = unframeMessage(m);
    messages.push(JSON.parse(body.subarray(0, headerLength).toString()) as Record<string, unknown>);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', resolve));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, messages, closed };
}

/** Start arguments that must be refused: the ones that started anyway. */
async function startRefusals(): Promise<string[]> {
  const started: string[] = [];
  for (const { kind, args } of HOSTILE_SERVE_ARGS) {
    const s = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1', ...args]).catch((e: Error) => {
      console.log(`   refused at start: ${kind.padEnd(26)} ${e.message.replace(/^impera serve did not start: /, '').split('\n')[0]!.slice(0, 110)}`);
      return undefined;
    });
    if (s) {
      started.push(kind);
      await s.stop();
    }
  }
  return started;
}

/** The status of a request the batcher holds (2 s) past its deadline (100 ms). */
async function deadlineStatus(): Promise<number> {
  const s = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1', '--max-batch', '16', '--batch-delay-ms', '2000', '--inference-timeout-ms', '100']);
  const c = new HttpClient({ url: s.url, protocol: 'binary' });
  const status = await c.infer({ model: 'tail', inputs: inputs[0]!, timeoutMs: 10_000 }).then(() => 200, (e: CallError) => e.status ?? 0);
  c.close();
  await s.stop();
  return status;
}

/** Hostile stream messages answered without their id or with a status other than 4xx. */
async function streamRefusals(count: number): Promise<number> {
  const s = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1']);
  const hostile = hostileStreamMessages({ model: 'tail', inputs: inputs[0]! }, count, 11);
  const stream = await openStream(s.url);
  for (const h of hostile) stream.ws.send(h.message);
  const until = performance.now() + 30_000;
  while (stream.messages.length < count && performance.now() < until) await sleep(50);
  stream.ws.close();
  await s.stop();
  const answered = new Map(stream.messages.map((m) => [m.id, m.status as number]));
  return hostile.filter((h) => !((answered.get(h.id) ?? 0) >= 400 && answered.get(h.id)! < 500)).length;
}

/** CPU time a process has used (clock ticks, user + system). */
const cpuTicks = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

/** Server RSS (MB) before, at its peak while a client sends `count` requests and reads nothing, and after it left. */
async function unreadStream(count: number, args: string[]): Promise<{ rss: [number, number, number]; closeCode: number; read: number; statuses: string }> {
  const s = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1', ...args]);
  const pid = s.child.pid!;
  await sleep(1000);
  const before = rssMb(pid);
  const stream = await openStream(s.url);
  stream.ws.pause();
  // every answer echoes its request's id: a 64 kB id makes a 64 kB answer (or 429 refusal)
  const pad = 'x'.repeat(64 * 1024);
  for (let i = 0; i < count; i++) stream.ws.send(frameMessage(encodeRequest({ id: `${i}:${pad}`, inputs: inputs[i % CLIENTS]! }, { binaryInputs: true, modelName: 'tail' })));
  // until the server has done what it will do with them: 2 s without CPU time (at most 5 min)
  let peak = before;
  let idle = 0;
  for (let t = 0, cpu = cpuTicks(pid); idle < 4 && t < 600; t++) {
    await sleep(500);
    peak = Math.max(peak, rssMb(pid));
    const now = cpuTicks(pid);
    idle = now - cpu <= 1 ? idle + 1 : 0;
    cpu = now;
  }
  stream.ws.resume();
  const closeCode = await Promise.race([stream.closed, sleep(5000).then(() => 0)]);
  stream.ws.terminate();
  await sleep(3000);
  const after = rssMb(pid);
  await s.stop();
  const statuses = new Map<number, number>();
  for (const m of stream.messages) statuses.set((m.status as number | undefined) ?? 200, (statuses.get((m.status as number | undefined) ?? 200) ?? 0) + 1);
  return { rss: [before, peak, after], closeCode, read: stream.messages.length, statuses: [...statuses].map(([k, v]) => `${k} x${v}`).join(', ') };
}

console.log('\n4. limits: arguments refused at start, inference deadline, hostile stream messages, a stream client that stops reading');
const missedRefusals = await startRefusals();
const deadline = await deadlineStatus();
console.log(`   ${missedRefusals.length ? `STARTED ANYWAY: ${missedRefusals.join(', ')}` : `all ${HOSTILE_SERVE_ARGS.length} refused`}; a request held 2 s by the batcher with --inference-timeout-ms 100: ${deadline}`);
const withoutId = await streamRefusals(200);
console.log(`   200 stream messages nested 33-5000 deep or listing 1025+ tensors: ${withoutId} answered without their id or a 4xx`);
console.log(`   server RSS while a WebSocket client sends ${UNREAD} requests with 64 kB ids (answers echo them) and reads nothing:`);
const unreadRuns = [['--stream-buffer-limit 16MB (the default)', []], ['no limit (--stream-buffer-limit 1000GB, as before)', ['--stream-buffer-limit', '1000GB']]] as const;
const unreadResults: Awaited<ReturnType<typeof unreadStream>>[] = [];
for (const [label, args] of unreadRuns) {
  const u = await unreadStream(UNREAD, [...args]);
  unreadResults.push(u);
  console.log(`     ${label.padEnd(48)} ${u.rss.map((r) => r.toFixed(0)).join(' -> ')} MB (before, peak, after it left); closed with ${u.closeCode || 'nothing'}; ${u.read} answers read when it read again (${u.statuses})`);
}

// ---- 5. a worker killed under load ----
const KILL_S = Number(process.env.IMPERA_KILL_S ?? 10);

interface WorkerKill {
  ok: number;
  okAfter: number;
  refused: number;
  failed: string[];
  lost: string[];
  killed: number;
  replacedBy: number[];
}

/** 5. Clients back to back on a 2-worker server; one worker killed at 3 s. */
async function workerKill(): Promise<WorkerKill> {
  const s = await startServerProcess(new LoopbackPath(), dir, ['--threads', '1', '--workers', '2', '--max-queue', '48']);
  const [killed] = serverWorkers(s.child.pid!);
  const r: WorkerKill = { ok: 0, okAfter: 0, refused: 0, failed: [], lost: [], killed: killed!, replacedBy: [] };
  let killedYet = false;
  const deadline = performance.now() + KILL_S * 1000;
  const client = async (k: number) => {
    const c = new HttpClient({ url: s.url, protocol: 'binary' });
    while (performance.now() < deadline) {
      try {
        await c.infer({ model: 'tail', inputs: inputs[k]!, timeoutMs: 30_000 });
        r.ok++;
        if (killedYet) r.okAfter++;
      } catch (e) {
        if (e instanceof CallError && e.status === 429) r.refused++;
        else if (e instanceof CallError && e.status === 503) r.failed.push(e.message);
        else r.lost.push((e as Error).message);
      }
    }
    c.close();
  };
  const kill = sleep(3000).then(() => {
    process.kill(killed!, 'SIGKILL');
    killedYet = true;
  });
  await Promise.all([kill, ...Array.from({ length: 16 }, (_, k) => client(k))]);
  r.replacedBy = serverWorkers(s.child.pid!).filter((p) => p !== killed);
  await s.stop();
  return r;
}

console.log(`\n5. a worker killed under load: 16 clients back to back for ${KILL_S} s, 2 workers, one killed (SIGKILL) at 3 s`);
const wk = await workerKill();
console.log(`   200 x${wk.ok} (${wk.okAfter} after the kill), 429 x${wk.refused}, 503 x${wk.failed.length}, lost ${wk.lost.length}; worker ${wk.killed} replaced by ${wk.replacedBy.join(', ') || 'none'}`);
for (const m of new Set([...wk.failed, ...wk.lost])) console.log(`   ${m}`);

console.log(JSON.stringify({
  bench: 'serve',
  load_rps_no_batching: +loads[0]!.rps.toFixed(1),
  load_rps_batching: +loads[1]!.rps.toFixed(1),
  p99_ms_no_batching: +loads[0]!.p99.toFixed(1),
  p99_ms_batching: +loads[1]!.p99.toFixed(1),
  lost: loads.reduce((s, l) => s + l.lost, 0),
  rss_growth: +rssGrowth.toFixed(3),
  fault_frames_in: fault.framesIn,
  fault_results_out: fault.resultsOut,
  fuzz_non_4xx: nonClientError + goodBad,
  start_refusals_missed: missedRefusals.length,
  deadline_status: deadline,
  stream_refusals_without_id: withoutId,
  unread_rss_mb: unreadResults[0]!.rss.map((r) => +r.toFixed(0)),
  unread_close_code: unreadResults[0]!.closeCode,
  unread_rss_mb_no_limit: unreadResults[1]!.rss.map((r) => +r.toFixed(0)),
  worker_kill_503: wk.failed.length,
  worker_kill_lost: wk.lost.length,
  worker_kill_ok_after: wk.okAfter,
  worker_kill_replaced: wk.replacedBy.length === 2,
}));
