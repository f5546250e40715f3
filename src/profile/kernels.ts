/**
 * Running a model under ONNX Runtime's profiler: the time of each kernel in each run (ORT's own trace), and the
 * graph ORT actually ran (its optimised graph, to map kernels back to ONNX nodes). Runs are counted so a caller
 * can take kernel times from the runs made during a window of its own measurements.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../onnx/io.js';
import type { ModelProto } from '../onnx/proto.js';
import { createSession, run, type Feeds, type SessionOptions } from '../ort/session.js';
import type { OptimizedNode } from './attribute.js';
import { kernelTimes, parseTrace, readTrace, type KernelTime, type Trace } from './trace.js';

export interface TraceOptions {
  threads: number;
  optimization?: SessionOptions['optimization'];
  /** Also save and read the optimised graph. */
  optimizedGraph?: boolean;
}

/** A session whose runs ORT profiles; `runs` counts the runs so far. */
export class TracedSession {
  runs = 0;

  private constructor(
    private readonly session: Awaited<ReturnType<typeof createSession>>,
    private readonly tmp: string,
    private readonly feeds: Feeds,
    /** ORT's optimised graph (written when the session was created), when asked for. */
    readonly optimized: OptimizedNode[] | undefined,
  ) {}

  static async open(proto: ModelProto, dir: string, feeds: Feeds, o: TraceOptions): Promise<TracedSession> {
    const tmp = mkdtempSync(join(tmpdir(), 'impera-trace-'));
    const optimizedPath = o.optimizedGraph ? join(tmp, 'optimized.onnx') : undefined;
    try {
      const session = await createSession(proto, dir, { threads: o.threads, optimization: o.optimization ?? 'all', profilePrefix: join(tmp, 'trace'), ...(optimizedPath ? { optimizedModelPath: optimizedPath } : {}) });
      return new TracedSession(session, tmp, feeds, optimizedPath ? optimizedNodes(loadModel(optimizedPath).proto) : undefined);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  async run(): Promise<void> {
    await run(this.session, this.feeds);
    this.runs++;
  }

  /** End profiling and read the trace; the session is released. */
  async finish(): Promise<Trace> {
    try {
      this.session.endProfiling();
      await this.session.release();
      const file = readdirSync(this.tmp).find((f) => f.startsWith('trace'));
      if (!file) throw new Error('ONNX Runtime wrote no profiling trace');
      return parseTrace(readTrace(join(this.tmp, file)));
    } finally {
      rmSync(this.tmp, { recursive: true, force: true });
    }
  }
}

/** Kernel medians over `runs` profiled runs after `warmup` runs left out. */
export async function traceRuns(proto: ModelProto, dir: string, feeds: Feeds, o: TraceOptions & { warmup: number; runs: number }): Promise<{ kernels: KernelTime[] }> {
  const session = await TracedSession.open(proto, dir, feeds, o);
  let trace: Trace | undefined;
  try {
    for (let i = 0; i < o.warmup + o.runs; i++) await session.run();
  } finally {
    trace = await session.finish();
  }
  return { kernels: kernelTimes(trace, o.warmup) };
}

function optimizedNodes(proto: ModelProto): OptimizedNode[] {
  return (proto.graph?.node ?? []).map((n) => ({ name: n.name ?? '', opType: n.opType ?? '', domain: n.domain ?? '', inputs: n.input ?? [], outputs: n.output ?? [] }));
}
