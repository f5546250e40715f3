/**
 * bench:adaptive — the adaptive edge against every static configuration of its switching plan, on the same frames
 * over the same shaped link replaying the same bandwidth trace, with a deadline.
 *  - Model and data: the built-in MobileNetV2 on the Fashion-MNIST sample (labelled: quality is top-1 accuracy,
 *    scored by the task layer), split after features.16 with fp32, int8+deflate and int4+deflate on the wire,
 *    exported as `impera plan --export` writes a switching plan (runtime/deploy.ts exportSwitching).
 *  - The plan's figures are measured here first (head and encode time, bytes on the wire, server time, accuracy on
 *    calibration frames over the unshaped link), then swept by plan/switching.ts as the planner does.
 *  - `impera serve` in its own process holds every tail; the edge runs here behind the shaping proxy (loopback, no
 *    root needed), which replays a generated trace with a 50x swing (20 -> 1 -> 0.4 Mb/s every 8 s).
 *  - Frames arrive at a fixed rate; a frame's latency runs from its arrival to its result (a frame that waits for
 *    the previous one waits in it). The runner's latency budget is the deadline: a frame not answered by then runs
 *    the tail here (as the product does), so it both misses and costs more.
 * The "best static" is the one with the fewest deadline misses (then the lowest p95). Last line:
 *   {"bench":"adaptive","p95_ratio":…,"miss_ratio":…,"lost":…,"switches":…, …}
 * Each run is done twice, in the order adaptive, c0, c1, ..., then the reverse (ABBA), and the two pooled, so that
 * the machine's other work weighs on every run alike.
 * Env: IMPERA_ADAPTIVE_S (seconds per run, default 16), IMPERA_ADAPTIVE_FPS (default 2), IMPERA_DEADLINE_MS (300).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCuts, resolveCut } from '../src/cuts/cuts.js';
import { openDataset } from '../src/data/dataset.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { startServerProcess } from '../src/harness/processes.js';
import type { ShapeParams } from '../src/harness/shaper/path.js';
import { ProxyPath } from '../src/harness/shaper/proxy.js';
import { replayTrace } from '../src/harness/shaper/replay.js';
import type { BandwidthTrace } from '../src/net/rate.js';
import { loadModel } from '../src/onnx/io.js';
import type { Feeds } from '../src/ort/session.js';
import type { PlanContext } from '../src/plan/planner.js';
import { DEFAULT_HYSTERESIS, loadSwitchingPlan, SWITCHING_FORMAT, switchingPlan, type SwitchingPlan } from '../src/plan/switching.js';
import type { PlanConfiguration, PlanResult } from '../src/plan/types.js';
import { exportSwitching } from '../src/runtime/deploy.js';
import { AdaptiveEdge, type SwitchRecord } from '../src/runtime/edge/adaptive.js';
import { loadRuntimeConfig } from '../src/runtime/edge/config.js';
import { frameSource, type FrameSource } from '../src/runtime/edge/frames.js';
import { FrameQuality } from '../src/runtime/edge/quality.js';
import { EdgeRunner, type FrameAnswer, type FrameResult } from '../src/runtime/edge/runner.js';
import { EXAMPLE_DATA, EXAMPLE_MODEL } from '../src/util/package.js';
import { mean, quantile } from '../src/util/stats.js';
import { machine, pad } from './common.js';

const RUN_S = Number(process.env.IMPERA_ADAPTIVE_S ?? 16);
const FPS = Number(process.env.IMPERA_ADAPTIVE_FPS ?? 2);
const DEADLINE_MS = Number(process.env.IMPERA_DEADLINE_MS ?? 300);
const CUT = '/1/features/features.16/Add_output_0';
const CODECS = ['fp32', 'int8+deflate', 'int4+deflate'];
const CALIBRATION_FRAMES = 30;
/** The trace: 20 Mb/s from 0 s, 1 Mb/s from 4 s, 0.4 Mb/s from 6 s, repeated every 8 s. */
const TRACE: BandwidthTrace = { source: 'bench:adaptive', timesS: [0, 4, 6], mbps: [20, 1, 0.4], periodS: 8 };
const LINK: ShapeParams = { upMbps: TRACE.mbps[0]!, downMbps: 50, delayMs: 5, loss: 0, downLoss: 0, overheadBytes: 0 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

console.log(`bench:adaptive  ${new Date().toISOString()}  ${machine()}  node ${process.version}  ${RUN_S} s per run at ${FPS} fps, deadline ${DEADLINE_MS} ms`);

// ------------------------------------------------------------------------------------------------ the options

const dir = mkdtempSync(join(tmpdir(), 'impera-adaptive-bench-'));
const g = await analyzeModel(loadModel(EXAMPLE_MODEL), { batch: 1 });
const cut = resolveCut(g, findCuts(g, { maxWidth: 1 }), CUT);
const images = openDataset(EXAMPLE_DATA);
const context: PlanContext = { g, cuts: [cut], exits: null, data: { name: 'fashion-mnist sample', test: images, samples: images.size, calibration: images, train: images, folder: true } };
const scenario: PlanResult['scenario'] = { name: 'bench:adaptive', file: null, qos: { latency: { limit: DEADLINE_MS, at: 'p95' } }, objective: 'max-quality' };

/** A configuration with placeholder figures, for the export; the measured ones replace them. */
function configuration(codec: string, figures?: { deviceMs: number; serverMs: number; bytes: number; accuracy: number }): PlanConfiguration {
  const f = figures ?? { deviceMs: 0, serverMs: 0, bytes: 0, accuracy: 0 };
  const total = f.deviceMs + f.serverMs;
  return {
    id: `split #${cut.index} ${codec}`,
    placement: 'split',
    link: 'trace',
    cuts: [{ index: cut.index, id: cut.id }],
    devices: ['this machine', 'impera serve'],
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

// every codec exported as one switching plan (all options), so one server holds every tail; figures come later
const every: SwitchingPlan = {
  format: SWITCHING_FORMAT,
  plan: scenario.name,
  latencyLimitMs: DEADLINE_MS,
  tolerance: 0,
  hysteresis: DEFAULT_HYSTERESIS,
  options: CODECS.map((c, i) => ({ name: `c${i}`, id: configuration(c).id, deviceMs: 0, serverMs: 0, share: 1, bytes: 0, goodness: 0 })),
  grid: { upMbps: [1], rttMs: [0], queueMs: [0] },
  winners: [[['c0']]],
};
const t0 = performance.now();
await exportSwitching(every, CODECS.map((c) => configuration(c)), context, dir, { scenario });
console.log(`exported ${CODECS.length} options (codecs fitted on the sample) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${dir}/switching`);

const path = new ProxyPath();
await path.set({ ...LINK, upMbps: 1000 });
const server = await startServerProcess(path, join(dir, 'switching', 'server'), ['--threads', '1']);
const frames: FrameSource = frameSource(EXAMPLE_DATA, (await EdgeRunner.open(loadRuntimeConfig(join(dir, 'switching', 'c0', 'runtime.yaml')))).inputs);
const runtimeOf = (name: string) => {
  const c = loadRuntimeConfig(join(dir, 'switching', name, 'runtime.yaml'));
  return { ...c, server: { ...c.server, url: server.url }, latencyBudgetMs: DEADLINE_MS };
};

/**
 * The plan's figures of every option, measured over the unshaped link on calibration frames (the last frames of the
 * sample), the options interleaved frame by frame and medians taken: the machine's other work comes and goes.
 */
async function measure(): Promise<PlanConfiguration[]> {
  const runners = await Promise.all(CODECS.map((_, i) => EdgeRunner.open({ ...runtimeOf(`c${i}`), latencyBudgetMs: 10_000 })));
  const rs: FrameResult[][] = CODECS.map(() => []);
  for (let i = 0; i < CALIBRATION_FRAMES; i++) {
    const f = frames.frame(frames.size - 1 - i);
    for (const [k, runner] of runners.entries()) rs[k]!.push(await runner.process(i, f.feeds, f.label));
  }
  await Promise.all(runners.map((r) => r.close()));
  return CODECS.map((codec, k) => {
    const ok = rs[k]!.slice(2).filter((r) => r.outcome === 'server'); // the first frames warm the server
    const median = (f: (r: FrameResult) => number) => quantile(ok.map(f), 0.5);
    const figures = {
      deviceMs: median((r) => r.timings.headMs + (r.timings.encodeMs ?? 0)),
      serverMs: median((r) => (r.timings.serverComputeMs ?? 0) + (r.timings.serverQueueMs ?? 0)),
      bytes: mean(ok.map((r) => r.sentBytes!)),
      accuracy: mean(rs[k]!.map((r) => Number(r.prediction === r.label))),
    };
    console.log(`  c${k} ${pad(codec, 13)}  device ${figures.deviceMs.toFixed(1)} ms  server ${figures.serverMs.toFixed(1)} ms  ${Math.round(figures.bytes)} B on the wire  accuracy ${(100 * figures.accuracy).toFixed(1)} % (${CALIBRATION_FRAMES} frames; medians)`);
    return configuration(codec, figures);
  });
}

console.log('\nthe plan\'s figures, measured here:');
const measured = await measure();
// the switching plan as the planner makes it from these figures; its options keep their exported folders
const swept = switchingPlan({ configurations: measured, recommendation: { id: measured[0]!.id, objective: 'max-quality', explanation: [], binding: null, runnerUp: null }, scenario })!;
const folderOf = new Map(measured.map((c, i) => [c.id, `c${i}`]));
const plan: SwitchingPlan = { ...swept, options: swept.options.map((o) => ({ ...o, name: folderOf.get(o.id)!, runtime: `${folderOf.get(o.id)}/runtime.yaml` })) };
plan.winners = plan.winners.map((q) => q.map((r) => r.map((w) => plan.options[swept.options.findIndex((o) => o.name === w)]!.name)));
const planFile = join(dir, 'switching', 'switching.json');
writeFileSync(planFile, JSON.stringify(plan, null, 1));
loadSwitchingPlan(planFile);
console.log(`switching plan: ${plan.options.map((o) => `${o.name} (${o.id})`).join(', ')}; hysteresis ${plan.hysteresis.margin} x ${plan.hysteresis.frames} frames`);

// ------------------------------------------------------------------------------------------------ the runs

/** One run's frames: latency from arrival, results, accuracy (task layer), switches. */
interface Run {
  label: string;
  latencies: number[];
  results: FrameResult[];
  accuracy: number | null;
  switches: SwitchRecord[];
}

/** What a run drives: the adaptive edge or one static runner. */
interface Processor {
  processWithOutputs(frame: number, feeds: Feeds, label?: number): Promise<FrameAnswer>;
  close(): Promise<void>;
  switches?: SwitchRecord[];
}

/** One run: the trace replayed from its start, frames arriving at FPS, each frame's latency from its arrival. */
async function runOnce(label: string, open: () => Promise<Processor>): Promise<Run> {
  const edge = await open();
  const quality = await FrameQuality.open(undefined, { labelled: true, classes: frames.classes }, {}, 1);
  const count = Math.floor(RUN_S * FPS);
  const latencies: number[] = [];
  const results: FrameResult[] = [];
  const replay = await replayTrace(path, TRACE, LINK);
  const start = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      const arrival = start + (1000 * i) / FPS;
      await sleep(Math.max(0, arrival - performance.now()));
      const f = frames.frame(i % (frames.size - CALIBRATION_FRAMES));
      const answer = await edge.processWithOutputs(i, f.feeds, f.label);
      latencies.push(performance.now() - arrival);
      results.push(answer.result);
      await quality.add(answer, f.feeds, f.label);
    }
  } finally {
    await replay.stop();
    await edge.close();
    await quality.close();
  }
  const q = quality.summary();
  return { label, latencies, results, accuracy: 'quality' in q ? q.quality.value : null, switches: edge.switches ?? [] };
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

const openers: [string, () => Promise<Processor>][] = [
  ['adaptive', () => AdaptiveEdge.open(plan, planFile, { url: server.url })],
  ...plan.options.map((o): [string, () => Promise<Processor>] => [`static ${o.name}`, async () => {
    const runner = await EdgeRunner.open(runtimeOf(o.name));
    await runner.warm(frames.frame(0).feeds);
    return runner;
  }]),
];
const done: Run[] = [];
for (const [label, open] of [...openers, ...[...openers].reverse()]) done.push(await runOnce(label, open));
const runs = openers.map(([label]) => pooled(label, done.filter((r) => r.label === label)));
await server.stop();
await path.close();

console.log(`\n2 x ${RUN_S} s per configuration (ABBA order, pooled), ${FPS} fps, deadline ${DEADLINE_MS} ms, uplink trace ${TRACE.mbps.map((m, i) => `${m} Mb/s from ${TRACE.timesS[i]} s`).join(', ')} (period ${TRACE.periodS} s), delay ${LINK.delayMs} ms each way`);
console.log(`${pad('run', 10)} ${pad('frames', 7)} ${pad('results', 8)} ${pad('p50 ms', 8)} ${pad('p95 ms', 8)} ${pad('misses', 7)} ${pad('accuracy', 9)} ${pad('fallbacks', 10)} ${pad('switches', 9)}  frames per option`);
for (const r of runs) {
  console.log(`${pad(r.label, 10)} ${pad(r.framesIn, 7)} ${pad(r.resultsOut, 8)} ${pad(r.p50.toFixed(1), 8)} ${pad(r.p95.toFixed(1), 8)} ${pad(r.misses, 7)} ${pad(r.accuracy === null ? '-' : `${(100 * r.accuracy).toFixed(1)} %`, 9)} ${pad(r.fallbacks, 10)} ${pad(r.switches.length, 9)}  ${Object.entries(r.perOption).map(([k, n]) => `${k} ${n}`).join(', ')}`);
}
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
