/**
 * bench:adaptive — the adaptive edge against every static configuration of its switching plan, on the same frames
 * over the same shaped link replaying the same bandwidth trace, with a deadline, on a device whose own speed
 * follows a trace of its own.
 *  - The device: the Node edge in a process of its own (bench/adaptive-edge.ts) under a CPU quota (a cgroup, as
 *    containers do; harness/cpu-quota.ts) that follows DEVICE_TRACE: a spell at `--device-slow` cores (default
 *    0.05 in 20 ms periods: another app busy, or thermal throttling; MobileNetV2 ~8x slower here, unevenly: the
 *    kernel throttles at its tick, so short bursts overrun the quota), then a spell unthrottled. `impera serve`
 *    runs unthrottled in its own process and holds every tail. `--device-slow 1` never throttles (and needs no
 *    root): the uplink is the only condition that varies.
 *  - The two traces are bad at different times (the device slow while the uplink is good; the uplink bad while the
 *    device is fast; both good in between): the conditions an adaptive edge can win, where options weigh them
 *    differently (a shallow cut: little device work, many bytes; a deep cut: the reverse). Where only the uplink
 *    varies, the option with the fewest bytes meets the deadline wherever any option does (BENCHMARKS.md).
 *  - Model and data: the built-in MobileNetV2 (or `--model resnet50`, the zoo's, whose cuts differ by tens of ms of
 *    device work where MobileNetV2's differ by ~3) on the Fashion-MNIST sample (labelled: quality is top-1 accuracy,
 *    scored by the task layer), split at cuts from shallow (much to send, little device work) to deep (the reverse)
 *    with a few codecs, every configuration exported as `impera plan --export` writes a switching plan
 *    (runtime/deploy.ts exportSwitching).
 *  - The plan's figures are measured first on the unthrottled device (head and encode time, bytes on the wire,
 *    server time as the unthrottled server reports it, accuracy on calibration frames over the unshaped link), then
 *    swept by plan/switching.ts as the planner does: the options it keeps are the ones the runs compare.
 *  - The edge runs behind the shaping proxy (loopback, no root needed), which replays a generated trace with large
 *    swings (TRACE below).
 *  - Frames arrive at a fixed rate; a frame's latency runs from its arrival to its result (a frame that waits for
 *    the previous one waits in it). The runner's latency budget is the deadline: a frame not answered by then runs
 *    the tail on the device (as the product does), so it both misses and costs more.
 * The "best static" is the one with the fewest deadline misses (then the lowest p95). Last line:
 *   {"bench":"adaptive","p95_ratio":…,"miss_ratio":…,"lost":…,"switches":…, …}
 * Each run is done twice, in the order adaptive, c0, c1, ..., then the reverse (ABBA), and the two pooled, so that
 * the machine's other work weighs on every run alike.
 * The adaptive edge knows neither trace: it reads the uplink from its requests and its slowdown from its head times.
 * Env: IMPERA_ADAPTIVE_S (seconds per run, default 24: two periods of the traces), IMPERA_ADAPTIVE_FPS (default 4),
 * IMPERA_DEADLINE_MS (150); --device-slow CORES (default 0.05; 1: no throttle); --model mobilenet_v2 | resnet50.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCuts, resolveCut } from '../src/cuts/cuts.js';
import { openDataset } from '../src/data/dataset.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { isImperaError } from '../src/errors.js';
import { createCpuQuota, replayCpuQuota, type CpuQuota, type CpuQuotaTrace } from '../src/harness/cpu-quota.js';
import { startServerProcess } from '../src/harness/processes.js';
import type { ShapeParams } from '../src/harness/shaper/path.js';
import { ProxyPath } from '../src/harness/shaper/proxy.js';
import { replayTrace, traceStepAt } from '../src/harness/shaper/replay.js';
import type { BandwidthTrace } from '../src/net/rate.js';
import { loadModel } from '../src/onnx/io.js';
import type { PlanContext } from '../src/plan/planner.js';
import { DEFAULT_HYSTERESIS, loadSwitchingPlan, SWITCHING_FORMAT, switchingPlan, type SwitchingPlan } from '../src/plan/switching.js';
import type { PlanConfiguration, PlanResult } from '../src/plan/types.js';
import { exportSwitching } from '../src/runtime/deploy.js';
import type { SwitchRecord } from '../src/runtime/edge/adaptive.js';
import type { FrameResult } from '../src/runtime/edge/runner.js';
import { EXAMPLE_DATA, EXAMPLE_MODEL } from '../src/util/package.js';
import { mean, quantile } from '../src/util/stats.js';
import type { DeviceReply, DeviceRequest, DeviceRun, DeviceSetup } from './adaptive-edge.js';
import { arg, machine, pad, ZOO } from './common.js';

const RUN_S = Number(process.env.IMPERA_ADAPTIVE_S ?? 24);
const FPS = Number(process.env.IMPERA_ADAPTIVE_FPS ?? 4);
const DEADLINE_MS = Number(process.env.IMPERA_DEADLINE_MS ?? 150);
const DEVICE_SLOW = Number(arg('device-slow', '0.05'));
/** The quota's period (µs): 20 ms takes quotas down to 0.05 core (1 ms, the kernel's least). */
const QUOTA_PERIOD_US = 20_000;
/** Accuracies within this count as equal (30 calibration frames: one frame is 3.3 points); the faster option wins. */
const TOLERANCE = 0.05;
/** The models the bench runs, each with its cuts from shallow to deep. */
const MODELS: Record<string, { file: string; cuts: string[] }> = {
  /** After features.2 (24x56x56), features.6 (32x28x28), features.10 (64x14x14), features.16 (160x7x7): ~3 ms of device work apart. */
  mobilenet_v2: { file: EXAMPLE_MODEL, cuts: ['/1/features/features.2/conv/conv.2/Conv_output_0', '/1/features/features.6/Add_output_0', '/1/features/features.10/Add_output_0', '/1/features/features.16/Add_output_0'] },
  /** After the stem (64x56x56, 3 % of the MACs), layer2 (512x28x28), layer3 (1024x14x14), the pool (2048: all of them). */
  resnet50: { file: join(ZOO, 'resnet50.onnx'), cuts: ['/1/maxpool/MaxPool_output_0', '/1/layer2/layer2.3/relu_2/Relu_output_0', '/1/layer3/layer3.5/relu_2/Relu_output_0', '/1/avgpool/GlobalAveragePool_output_0'] },
};
const MODEL_NAME = arg('model', 'mobilenet_v2');
const MODEL = MODELS[MODEL_NAME];
if (!MODEL) {
  console.error(`bench:adaptive: no model '${MODEL_NAME}' (use --model ${Object.keys(MODELS).join(' or ')})`);
  process.exit(1);
}
const CUTS = MODEL.cuts;
const CODECS = ['int8+deflate', 'int4+deflate'];
const CALIBRATION_FRAMES = 30;
/** The uplink: 20 Mb/s from 0 s, 0.4 Mb/s from 8 s, repeated every 12 s (50x). */
const TRACE: BandwidthTrace = { source: 'bench:adaptive', timesS: [0, 8], mbps: [20, 0.4], periodS: 12 };
/** The device: slow from 0 s, unthrottled (1 core) from 4 s, repeated every 12 s: slow only while the uplink is good. */
const DEVICE_TRACE: CpuQuotaTrace = { timesS: [0, 4], cores: [DEVICE_SLOW, 1], periodS: 12 };
/** The spells of the two traces together, for the per-spell tables: [start s, end s, name]. */
const SPELLS: [number, number, string][] = [[0, 4, `20 Mb/s, device ${DEVICE_SLOW} core`], [4, 8, '20 Mb/s, device 1 core'], [8, 12, '0.4 Mb/s, device 1 core']];
const LINK: ShapeParams = { upMbps: TRACE.mbps[0]!, downMbps: 50, delayMs: 5, loss: 0, downLoss: 0, overheadBytes: 0 };

console.log(`bench:adaptive  ${new Date().toISOString()}  ${machine()}  node ${process.version}  ${MODEL_NAME}  ${RUN_S} s per run at ${FPS} fps, deadline ${DEADLINE_MS} ms, device ${DEVICE_SLOW === 1 ? 'unthrottled' : `${DEVICE_SLOW} core (${QUOTA_PERIOD_US / 1000} ms periods) from ${DEVICE_TRACE.timesS[0]} s, unthrottled from ${DEVICE_TRACE.timesS[1]} s, every ${DEVICE_TRACE.periodS} s`}`);

// ------------------------------------------------------------------------------------------------ the options

const dir = mkdtempSync(join(tmpdir(), 'impera-adaptive-bench-'));
const g = await analyzeModel(loadModel(MODEL.file), { batch: 1 });
const allCuts = findCuts(g, { maxWidth: 1 });
const cuts = CUTS.map((c) => resolveCut(g, allCuts, c));
const images = openDataset(EXAMPLE_DATA);
const context: PlanContext = { g, cuts, exits: null, data: { name: 'fashion-mnist sample', test: images, samples: images.size, calibration: images, train: images, folder: true } };
const scenario: PlanResult['scenario'] = { name: 'bench:adaptive', file: null, qos: { latency: { limit: DEADLINE_MS, at: 'p95' } }, objective: 'max-quality' };
const grid = cuts.flatMap((cut) => CODECS.map((codec) => ({ cut, codec })));
/** A cut's short name: its block (features.2, layer3.5), else its layer (maxpool). */
const cutName = (index: number) => {
  const parts = CUTS[cuts.findIndex((c) => c.index === index)]!.split('/').filter(Boolean).slice(1);
  return parts.length > 2 ? parts[1]! : parts[0]!;
};

/** A configuration with placeholder figures, for the export; the measured ones replace them. */
function configuration(k: number, figures?: { deviceMs: number; serverMs: number; bytes: number; accuracy: number }): PlanConfiguration {
  const { cut, codec } = grid[k]!;
  const f = figures ?? { deviceMs: 0, serverMs: 0, bytes: 0, accuracy: 0 };
  const total = f.deviceMs + f.serverMs;
  return {
    id: `split #${cut.index} ${codec}`,
    placement: 'split',
    link: 'trace',
    cuts: [{ index: cut.index, id: cut.id }],
    devices: ['this machine under a CPU quota', 'impera serve'],
    codec,
    exits: null,
    latency: { meanMs: total, p50Ms: total, p95Ms: total, p99Ms: total, source: 'analytic', breakdown: { deviceMs: f.deviceMs, transferMs: 0, serverMs: f.serverMs, queueMs: 0 } },
    quality: { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', value: f.accuracy, source: 'measured' },
    bytes: f.bytes,
    downlinkBytes: 0,
    energyJ: null,
    edgeMemoryBytes: 0,
    throughputFps: Infinity,
    checks: [],
    feasible: true,
  };
}

// every configuration exported as one switching plan (all options), so one server holds every tail; figures come later
const every: SwitchingPlan = {
  format: SWITCHING_FORMAT,
  plan: scenario.name,
  latencyLimitMs: DEADLINE_MS,
  tolerance: 0,
  hysteresis: DEFAULT_HYSTERESIS,
  options: grid.map((_, k) => ({ name: `o${k}`, id: configuration(k).id, deviceMs: 0, serverMs: 0, share: 1, bytes: 0, goodness: 0 })),
  grid: { upMbps: [1], rttMs: [0], queueMs: [0] },
  winners: [[['o0']]],
};
const t0 = performance.now();
await exportSwitching(every, grid.map((_, k) => configuration(k)), context, dir, { scenario });
const root = join(dir, 'switching');
console.log(`exported ${grid.length} configurations (${cuts.length} cuts x ${CODECS.length} codecs, fitted on the sample) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${root}`);

// ------------------------------------------------------------------------------------------------ the device

/** The edge process under the quota, and one request to it at a time. */
function device(quota: CpuQuota | undefined): { ask: (r: DeviceRequest) => Promise<DeviceReply>; child: ChildProcess } {
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'adaptive-edge.js'), [], { stdio: 'inherit' });
  quota?.add(child.pid!);
  const ask = (r: DeviceRequest) =>
    new Promise<DeviceReply>((resolve, reject) => {
      const gone = () => reject(new Error('the edge process exited'));
      child.once('exit', gone);
      child.once('message', (reply: DeviceReply) => {
        child.off('exit', gone);
        if (reply.kind === 'error') reject(new Error(`the edge process: ${reply.message}`));
        else resolve(reply);
      });
      child.send(r);
    });
  return { ask, child };
}

/** The device's quota (unthrottled until a run replays its trace), or one line saying why there is none and how to run without it. */
function deviceQuota(): CpuQuota | undefined {
  if (DEVICE_SLOW === 1) return undefined;
  try {
    const quota = createCpuQuota(DEVICE_SLOW, { periodUs: QUOTA_PERIOD_US }); // refuses a quota the kernel would not take
    quota.set(1);
    return quota;
  } catch (e) {
    if (!isImperaError(e)) throw e;
    console.error(`bench:adaptive needs a device it can slow down: ${e.oneLine()}; or run \`npm run bench:adaptive -- --device-slow 1\` (no throttle: only the uplink varies)`);
    process.exit(1);
  }
}
const quota = deviceQuota();
const path = new ProxyPath();
const cleanups: (() => Promise<void> | void)[] = [() => path.close(), () => quota?.remove()];
const cleanUp = async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
};
process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));

/** The plan's figures of every configuration, measured on the device over the unshaped link (medians). */
function figuresOf(rs: readonly FrameResult[][]): PlanConfiguration[] {
  return grid.map(({ cut, codec }, k) => {
    const ok = rs[k]!.slice(2).filter((r) => r.outcome === 'server'); // the first frames warm the server
    const median = (f: (r: FrameResult) => number) => quantile(ok.map(f), 0.5);
    const figures = {
      deviceMs: median((r) => r.timings.headMs + (r.timings.encodeMs ?? 0)),
      serverMs: median((r) => (r.timings.serverComputeMs ?? 0) + (r.timings.serverQueueMs ?? 0)),
      bytes: mean(ok.map((r) => r.sentBytes!)),
      accuracy: mean(rs[k]!.map((r) => Number(r.prediction === r.label))),
    };
    console.log(`  o${k} #${pad(cut.index, 2)} ${pad(cutName(cut.index), 11)} ${pad(codec, 13)}  device ${pad(figures.deviceMs.toFixed(1), 6)} ms  server ${pad(figures.serverMs.toFixed(1), 5)} ms  ${pad(Math.round(figures.bytes), 6)} B  accuracy ${(100 * figures.accuracy).toFixed(1)} %`);
    return configuration(k, figures);
  });
}

/** The switching plan the planner makes from these figures; its options keep their exported folders. */
function planOf(measured: PlanConfiguration[]): SwitchingPlan {
  const swept = switchingPlan({ configurations: measured, recommendation: { id: measured.at(-1)!.id, objective: 'max-quality', explanation: [], binding: null, runnerUp: null }, scenario }, { tolerance: TOLERANCE })!;
  const folderOf = new Map(measured.map((c, k) => [c.id, `o${k}`]));
  const plan: SwitchingPlan = { ...swept, options: swept.options.map((o) => ({ ...o, name: folderOf.get(o.id)!, runtime: `${folderOf.get(o.id)}/runtime.yaml` })) };
  plan.winners = plan.winners.map((q) => q.map((r) => r.map((w) => plan.options[swept.options.findIndex((o) => o.name === w)]!.name)));
  return plan;
}

/** One run label's frames over the trace replayed from its start. */
interface Run extends DeviceRun {
  label: string;
}

let runs: RunFigures[];
let plan: SwitchingPlan;
let labels: string[];
const done: Run[] = [];
try {
  const server = await startServerProcess(path, join(root, 'server'), ['--threads', '1']);
  cleanups.push(() => server.stop());
  await path.set({ ...LINK, upMbps: 1000 });
  const edge = device(quota);
  cleanups.push(() => void edge.child.kill());
  const setup: DeviceSetup = { root, url: server.url, deadlineMs: DEADLINE_MS, calibrationFrames: CALIBRATION_FRAMES };

  console.log(`\nthe plan's figures, measured on the device (${CALIBRATION_FRAMES} frames interleaved, medians; server ms as the server reports it):`);
  const measured = await edge.ask({ kind: 'measure', setup, options: grid.map((_, k) => `o${k}`) });
  plan = planOf(figuresOf((measured as Extract<DeviceReply, { kind: 'measured' }>).results));
  const planFile = join(root, 'switching.json');
  writeFileSync(planFile, JSON.stringify(plan, null, 1));
  loadSwitchingPlan(planFile);
  console.log(`switching plan (hysteresis ${plan.hysteresis.margin} x ${plan.hysteresis.frames} frames; accuracies within ${TOLERANCE} count as equal):`);
  for (const o of plan.options) console.log(`  ${o.name} ${pad(o.id, 24)}  device ${pad(o.deviceMs.toFixed(1), 6)} ms  server ${pad(o.serverMs.toFixed(1), 5)} ms  ${pad(Math.round(o.bytes), 6)} B  accuracy ${(100 * o.goodness).toFixed(1)} %`);

  labels = ['adaptive', ...plan.options.map((o) => `static ${o.name}`)];
  const count = Math.floor(RUN_S * FPS);
  for (const label of [...labels, ...[...labels].reverse()]) {
    await edge.ask(label === 'adaptive' ? { kind: 'open', setup, adaptive: true, count } : { kind: 'open', setup, adaptive: false, option: label.replace('static ', ''), count });
    const replays = [await replayTrace(path, TRACE, LINK), ...(quota ? [await replayCpuQuota(quota, DEVICE_TRACE)] : [])];
    try {
      const ran = await edge.ask({ kind: 'run', fps: FPS });
      done.push({ label, ...(ran as Extract<DeviceReply, { kind: 'ran' }>).run });
    } finally {
      for (const r of replays) await r.stop();
      quota?.set(1);
    }
  }
  runs = labels.map((label) => pooled(label, done.filter((r) => r.label === label)));
} finally {
  await cleanUp();
}

interface RunFigures {
  label: string;
  framesIn: number;
  resultsOut: number;
  p50: number;
  p95: number;
  misses: number;
  accuracy: number | null;
  fallbacks: number;
  switches: SwitchRecord[];
  perOption: Record<string, number>;
}

/** The runs of one label pooled: every frame of both, accuracy averaged (equal frame counts). */
function pooled(label: string, rs: readonly Run[]): RunFigures {
  const latencies = rs.flatMap((r) => r.latencies);
  const results = rs.flatMap((r) => r.results);
  const perOption: Record<string, number> = {};
  for (const r of results) perOption[r.option ?? label] = (perOption[r.option ?? label] ?? 0) + 1;
  const accuracies = rs.map((r) => r.accuracy).filter((a): a is number => a !== null);
  return {
    label,
    framesIn: latencies.length,
    resultsOut: rs.reduce((s, r) => s + new Set(r.results.map((x) => x.frame)).size, 0),
    p50: quantile(latencies, 0.5),
    p95: quantile(latencies, 0.95),
    misses: latencies.filter((l) => l > DEADLINE_MS).length,
    accuracy: accuracies.length ? mean(accuracies) : null,
    fallbacks: results.filter((r) => r.outcome !== 'server').length,
    switches: rs.flatMap((r) => r.switches),
    perOption,
  };
}

console.log(`\n2 x ${RUN_S} s per configuration (ABBA order, pooled), ${FPS} fps, deadline ${DEADLINE_MS} ms, uplink trace ${TRACE.mbps.map((m, i) => `${m} Mb/s from ${TRACE.timesS[i]} s`).join(', ')} (period ${TRACE.periodS} s), delay ${LINK.delayMs} ms each way; device ${quota ? DEVICE_TRACE.cores.map((c, i) => `${c} core from ${DEVICE_TRACE.timesS[i]} s`).join(', ') : 'unthrottled'}`);
console.log(`${pad('run', 10)} ${pad('frames', 7)} ${pad('results', 8)} ${pad('p50 ms', 8)} ${pad('p95 ms', 8)} ${pad('misses', 7)} ${pad('accuracy', 9)} ${pad('fallbacks', 10)} ${pad('switches', 9)}  frames per option`);
for (const r of runs) {
  console.log(`${pad(r.label, 10)} ${pad(r.framesIn, 7)} ${pad(r.resultsOut, 8)} ${pad(r.p50.toFixed(1), 8)} ${pad(r.p95.toFixed(1), 8)} ${pad(r.misses, 7)} ${pad(r.accuracy === null ? '-' : `${(100 * r.accuracy).toFixed(1)} %`, 9)} ${pad(r.fallbacks, 10)} ${pad(r.switches.length, 9)}  ${Object.entries(r.perOption).map(([k, n]) => `${k} ${n}`).join(', ')}`);
}
// what the edge's uplink estimate has to read: the network part of each request (its time less what the server
// reports) by trace step, per static option; options differing in bytes at one rate show the fixed cost per request
const stepOf = (frame: number) => traceStepAt(TRACE, (1000 * frame) / FPS).index;
console.log(`network ms per request (request less server time; medians) by trace step: ${TRACE.mbps.map((m) => `${m} Mb/s`).join(' | ')}`);
for (const label of labels.slice(1)) {
  const ok = done.filter((r) => r.label === label).flatMap((r) => r.results).filter((r) => r.outcome === 'server' && r.timings.requestMs !== undefined);
  const byStep = TRACE.mbps.map((_, k) => ok.filter((r) => stepOf(r.frame) === k).map((r) => r.timings.requestMs! - (r.timings.serverQueueMs ?? 0) - (r.timings.serverComputeMs ?? 0)));
  console.log(`  ${pad(label, 10)} ${pad(Math.round(mean(ok.map((r) => r.sentBytes!))), 6)} B  ${byStep.map((xs) => (xs.length ? `${quantile(xs, 0.5).toFixed(1)} ms (${xs.length})` : '-')).join(' | ')}`);
}
// where each run misses: deadline misses and p95 by spell of the two traces (a frame's spell: when it arrived)
const spellOf = (frame: number) => {
  const t = (frame / FPS) % TRACE.periodS;
  return SPELLS.findIndex(([a, b]) => t >= a && t < b);
};
console.log(`misses (> ${DEADLINE_MS} ms), p95 ms and device ms (head + encode, median) by spell: ${SPELLS.map(([a, b, name]) => `${a}-${b} s ${name}`).join(' | ')}`);
for (const label of labels) {
  const frames = done.filter((r) => r.label === label).flatMap((r) => r.latencies.map((latency, frame) => ({ latency, spell: spellOf(frame), deviceMs: r.results[frame]!.timings.headMs + (r.results[frame]!.timings.encodeMs ?? 0) })));
  const bySpell = SPELLS.map((_, k) => frames.filter((f) => f.spell === k));
  const cell = (fs: typeof frames) => `${pad(fs.filter((f) => f.latency > DEADLINE_MS).length, 3)} of ${fs.length}, p95 ${pad(quantile(fs.map((f) => f.latency), 0.95).toFixed(0), 4)}, device ${pad(quantile(fs.map((f) => f.deviceMs), 0.5).toFixed(0), 3)}`;
  console.log(`  ${pad(label, 10)} ${bySpell.map(cell).join(' | ')}`);
}
// what the adaptive edge read, by spell (medians of its estimate after each frame)
const read = done.filter((r) => r.label === 'adaptive').flatMap((r) => r.conditions.map((c, frame) => ({ c, spell: spellOf(frame) })));
console.log(`the adaptive edge's estimate by spell (medians): ${SPELLS.map((_, k) => {
  const cs = read.filter((x) => x.spell === k && x.c).map((x) => x.c!);
  const m = (f: (c: (typeof cs)[number]) => number) => quantile(cs.map(f), 0.5);
  return `uplink ${m((c) => c.upMbps).toFixed(2)} Mb/s, fixed ${m((c) => c.rttMs).toFixed(0)} ms, device x${m((c) => c.deviceSlowdown ?? 1).toFixed(1)}`;
}).join(' | ')}`);
const adaptive = runs[0]!;
for (const s of adaptive.switches) console.log(`  switch at frame ${s.frame}: ${s.from} -> ${s.to} (${s.reason})`);
const statics = runs.slice(1);
const best = [...statics].sort((a, b) => a.misses - b.misses || a.p95 - b.p95)[0]!;
const fastest = [...statics].sort((a, b) => a.p95 - b.p95)[0]!;
const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? 1 : null) : Number((a / b).toFixed(3)));
console.log(`best static (fewest misses, then p95): ${best.label}; lowest p95 static: ${fastest.label}`);
console.log(
  JSON.stringify({
    bench: 'adaptive',
    p95_ratio: ratio(adaptive.p95, best.p95),
    miss_ratio: ratio(adaptive.misses, best.misses),
    lost: adaptive.framesIn - adaptive.resultsOut + statics.reduce((s, r) => s + r.framesIn - r.resultsOut, 0),
    switches: adaptive.switches.length,
    p95_ratio_vs_lowest_p95: ratio(adaptive.p95, fastest.p95),
    adaptive_p95_ms: Number(adaptive.p95.toFixed(1)),
    adaptive_misses: adaptive.misses,
    adaptive_accuracy: adaptive.accuracy,
    best_static: best.label,
    best_static_p95_ms: Number(best.p95.toFixed(1)),
    best_static_misses: best.misses,
    best_static_accuracy: best.accuracy,
    frames_per_run: adaptive.framesIn,
  }),
);
