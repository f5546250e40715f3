/**
 * bench:adaptive's device: the Node edge in a process of its own, which the bench moves under a CPU quota (a slow
 * device beside an unthrottled server). It answers the bench's messages over IPC, one at a time:
 *  - measure: every option interleaved frame by frame on calibration frames, each frame's result;
 *  - open: the adaptive edge on a switching plan, or one option's runner, opened and warmed, and the run's frames
 *    read and resized beforehand (as a camera hands over a frame ready to run: on the throttled device, decoding
 *    and resizing an image takes longer than the head);
 *  - run: those frames at a fixed rate on what is open, each frame's latency from its arrival; then it is closed.
 * Timing runs here, on the device, as `impera edge` does: the bench starts the trace replay just before `run`.
 */
import { join } from 'node:path';
import type { Feeds } from '../src/ort/session.js';
import { loadSwitchingPlan, type NetworkPoint } from '../src/plan/switching.js';
import { AdaptiveEdge, type SwitchRecord } from '../src/runtime/edge/adaptive.js';
import { loadRuntimeConfig, type RuntimeConfig } from '../src/runtime/edge/config.js';
import { frameSource, type Frame } from '../src/runtime/edge/frames.js';
import { FrameQuality } from '../src/runtime/edge/quality.js';
import { EdgeRunner, type FrameAnswer, type FrameResult } from '../src/runtime/edge/runner.js';
import { EXAMPLE_DATA } from '../src/util/package.js';

/** Where the options live and whom they talk to; the runner's budget is the deadline. */
export interface DeviceSetup {
  /** The exported switching folder (DIR/switching). */
  root: string;
  url: string;
  deadlineMs: number;
  /** Frames at the end of the sample kept for calibration (runs use the others). */
  calibrationFrames: number;
}

export type DeviceRequest =
  | { kind: 'measure'; setup: DeviceSetup; options: string[] }
  | { kind: 'open'; setup: DeviceSetup; adaptive: boolean; option?: string; count: number }
  | { kind: 'run'; fps: number };

/** One run's frames, as the device saw them. */
export interface DeviceRun {
  latencies: number[];
  results: FrameResult[];
  /** The adaptive edge's estimate after each frame (empty for a static run). */
  conditions: (NetworkPoint | null)[];
  accuracy: number | null;
  switches: SwitchRecord[];
}

export type DeviceReply = { kind: 'measured'; results: FrameResult[][] } | { kind: 'ready' } | { kind: 'ran'; run: DeviceRun } | { kind: 'error'; message: string };

/** What a run drives: the adaptive edge or one static runner. */
interface Processor {
  processWithOutputs(frame: number, feeds: Feeds, label?: number, arrivedAtMs?: number): Promise<FrameAnswer>;
  close(): Promise<void>;
  switches?: SwitchRecord[];
  conditions?: NetworkPoint | undefined;
  inputs: EdgeRunner['inputs'];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const runtimeOf = (s: DeviceSetup, option: string, budgetMs = s.deadlineMs): RuntimeConfig => {
  const c = loadRuntimeConfig(join(s.root, option, 'runtime.yaml'));
  return { ...c, server: { ...c.server, url: s.url }, latencyBudgetMs: budgetMs };
};

/** Every option on the same calibration frames (the last of the sample), interleaved so that load weighs alike. */
async function measure(s: DeviceSetup, options: readonly string[]): Promise<FrameResult[][]> {
  const runners = await Promise.all(options.map((o) => EdgeRunner.open(runtimeOf(s, o, 10_000))));
  const frames = frameSource(EXAMPLE_DATA, runners[0]!.inputs);
  const rs: FrameResult[][] = options.map(() => []);
  for (let i = 0; i < s.calibrationFrames; i++) {
    const f = frames.frame(frames.size - 1 - i);
    for (const [k, runner] of runners.entries()) rs[k]!.push(await runner.process(i, f.feeds, f.label));
  }
  await Promise.all(runners.map((r) => r.close()));
  return rs;
}

/** What is open for the next run: the processor and its frames, ready. */
interface Opened {
  processor: Processor;
  frames: Frame[];
  classes: number;
}

async function open(r: Extract<DeviceRequest, { kind: 'open' }>): Promise<Opened> {
  const s = r.setup;
  const file = join(s.root, 'switching.json');
  const processor: Processor = r.adaptive ? await AdaptiveEdge.open(loadSwitchingPlan(file), file, { url: s.url }) : await EdgeRunner.open(runtimeOf(s, r.option!));
  if (processor instanceof EdgeRunner) await processor.warm(frameSource('synthetic', processor.inputs).frame(0).feeds);
  const source = frameSource(EXAMPLE_DATA, processor.inputs);
  return { processor, frames: Array.from({ length: r.count }, (_, i) => source.frame(i % (source.size - s.calibrationFrames))), classes: source.classes };
}

/** Frames arriving at `fps`; a frame that waits for the previous one waits in its latency. */
async function run({ processor: p, frames, classes }: Opened, fps: number): Promise<DeviceRun> {
  const quality = await FrameQuality.open(undefined, { labelled: true, classes }, {}, 1);
  const latencies: number[] = [];
  const results: FrameResult[] = [];
  const conditions: (NetworkPoint | null)[] = [];
  const start = performance.now();
  try {
    for (const [i, f] of frames.entries()) {
      const arrival = start + (1000 * i) / fps;
      await sleep(Math.max(0, arrival - performance.now()));
      const answer = await p.processWithOutputs(i, f.feeds, f.label, arrival);
      latencies.push(performance.now() - arrival);
      results.push(answer.result);
      if (p instanceof AdaptiveEdge) conditions.push(p.conditions ?? null);
      await quality.add(answer, f.feeds, f.label);
    }
  } finally {
    await p.close();
    await quality.close();
  }
  const q = quality.summary();
  return { latencies, results, conditions, accuracy: 'quality' in q ? q.quality.value : null, switches: p.switches ?? [] };
}

let opened: Opened | undefined;

async function answer(r: DeviceRequest): Promise<DeviceReply> {
  if (r.kind === 'measure') return { kind: 'measured', results: await measure(r.setup, r.options) };
  if (r.kind === 'open') {
    opened = await open(r);
    return { kind: 'ready' };
  }
  const o = opened!;
  opened = undefined;
  return { kind: 'ran', run: await run(o, r.fps) };
}

process.on('message', (r: DeviceRequest) => {
  answer(r).then(
    (reply) => process.send!(reply),
    (e: Error) => process.send!({ kind: 'error', message: e.message } satisfies DeviceReply),
  );
});
