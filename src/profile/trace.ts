/**
 * ONNX Runtime's own profiling trace (Chrome trace JSON, written by a session created with profiling on): the
 * time of every kernel in every profiled run. A kernel is a node of the graph as ORT optimised it, which may
 * stand for several ONNX nodes (fusions) or for none (layout changes ORT inserted); `attribute.ts` maps them back.
 */
import { readFileSync } from 'node:fs';
import { median } from '../util/stats.js';

export interface TraceEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

/** A kernel's time per inference. */
export interface KernelTime {
  /** The node name in ORT's optimised graph. */
  name: string;
  opType: string;
  ms: number;
}

export interface Trace {
  /** Kernel name -> op type, in the order kernels first ran. */
  ops: Map<string, string>;
  /** Per run, in order: each kernel's summed duration in that run, ms. */
  runs: Map<string, number>[];
  /** Per run: the time ORT spent inside the run call, ms. */
  runMs: number[];
}

const KERNEL_SUFFIX = '_kernel_time';

export function parseTrace(events: readonly TraceEvent[]): Trace {
  const windows = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const runs = windows.map(() => new Map<string, number>());
  const ops = new Map<string, string>();
  let w = 0;
  for (const e of [...events].filter((x) => x.cat === 'Node' && x.name.endsWith(KERNEL_SUFFIX)).sort((a, b) => a.ts - b.ts)) {
    while (w < windows.length && e.ts > windows[w]!.ts + windows[w]!.dur) w++;
    if (w >= windows.length || e.ts < windows[w]!.ts) continue;
    const name = e.name.slice(0, -KERNEL_SUFFIX.length);
    if (!ops.has(name)) ops.set(name, e.args?.op_name ?? '');
    runs[w]!.set(name, (runs[w]!.get(name) ?? 0) + e.dur / 1000);
  }
  return { ops, runs, runMs: windows.map((r) => r.dur / 1000) };
}

/** Each kernel's median time over runs [from, to) of the trace. */
export function kernelTimes(trace: Trace, from = 0, to = trace.runs.length): KernelTime[] {
  const runs = trace.runs.slice(from, to);
  return [...trace.ops].map(([name, opType]) => ({ name, opType, ms: median(runs.map((r) => r.get(name) ?? 0)) }));
}

export function readTrace(path: string): TraceEvent[] {
  const events: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(events)) throw new Error(`ONNX Runtime trace '${path}' is not a JSON array of events`);
  return events as TraceEvent[];
}
