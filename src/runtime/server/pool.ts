/**
 * The server's workers: child processes that each hold a warm ONNX Runtime session per model, so inference never
 * blocks the event loop that parses requests, and a worker that fails - killed, aborted inside ONNX Runtime's
 * native code, out of memory - takes down only itself. The request it was running fails with a 503 that says why
 * (one it had not received yet goes to another worker), a replacement starts (after a delay that doubles while
 * replacements keep failing), and the other workers keep serving. A replacement that cannot load a model serves
 * the others; requests for that model get a 503 naming why.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImperaError } from '../../errors.js';
import { numel } from '../../onnx/dtype.js';
import type { Tensor } from '../../onnx/tensor.js';
import { PACKAGE_ROOT } from '../../util/package.js';
import { allocate, onnxType, type NumericDatatype } from '../protocol/datatypes.js';
import { ProtocolError } from '../protocol/errors.js';
import type { ServedModel } from './model.js';
import type { FromWorker, InferResult, InferTask, ToWorker, WorkerSetup } from './tasks.js';

export interface PoolOptions {
  workers: number;
  /** Intra-op threads per session. */
  threads: number;
}

/** A replacement that keeps failing is retried after this long at most (ms). */
const MAX_RESTART_DELAY_MS = 5000;

/** worker.js beside this module (built package), else in dist/ (tests run the TypeScript sources). */
function workerFile(): string {
  const candidates = [fileURLToPath(new URL('./worker.js', import.meta.url)), join(PACKAGE_ROOT, 'dist', 'src', 'runtime', 'server', 'worker.js')];
  const found = candidates.find((f) => existsSync(f));
  if (!found) throw new ImperaError('FILE_NOT_FOUND', 'the server worker (dist/src/runtime/server/worker.js) is missing', 'build impera first: npm run build');
  return found;
}

/**
 * Zeros for every input at batch 1, or none when an input has a variable dim besides the batch (an audio length, an
 * image size): only requests give a size the model runs at (Silero VAD's reflect padding fails at length 1).
 */
export function warmupFeeds(model: ServedModel): Record<string, Tensor> | undefined {
  if (model.metadata.inputs.some((m) => m.shape.some((d, i) => d === -1 && i > 0))) return undefined;
  return Object.fromEntries(model.metadata.inputs.map((m) => {
    const dims = m.shape.map((d) => (d === -1 ? 1 : d));
    return [m.name, { dtype: onnxType(m.datatype), dims, data: allocate(m.datatype as NumericDatatype, numel(dims)) }];
  }));
}

/**
 * A tensor that alone owns its buffer; a view into a larger one (a request body) is copied, since the channel to
 * the worker would carry the whole buffer behind the view.
 */
const compact = (t: Tensor): Tensor => (t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength ? t : { ...t, data: t.data.slice() });

interface Pending {
  task: InferTask;
  resolve: (r: InferResult) => void;
  reject: (e: unknown) => void;
}

interface Worker {
  child: ChildProcess;
  /** Set once loaded: model name -> why this worker could not load it. */
  failed?: Record<string, string>;
  /** The task it runs; `started` once the worker said it has it (before that, a worker that stops never saw it). */
  running?: { id: number; pending: Pending; started: boolean };
}

const stopped = (code: number | null, signal: NodeJS.Signals | null): string => (signal ? `was killed (${signal})` : `exited with code ${code}`);

export class InferencePool {
  private readonly workers = new Set<Worker>();
  /** Tasks waiting for a worker that can run them, oldest first. */
  private readonly waiting: Pending[] = [];
  private nextId = 0;
  private closing = false;
  /** Replacements in a row that stopped before loading. */
  private failedStarts = 0;
  /** Why the last worker stopped, for requests while none runs. */
  private lastFailure = '';

  private constructor(private readonly setup: WorkerSetup) {}

  /** Start the workers; resolves once every worker has loaded every model. */
  static async start(models: readonly ServedModel[], o: PoolOptions): Promise<InferencePool> {
    const pool = new InferencePool({
      models: Object.fromEntries(models.map((m) => [m.name, m.file])),
      threads: o.threads,
      warmup: Object.fromEntries(models.flatMap((m) => { const feeds = warmupFeeds(m); return feeds ? [[m.name, feeds]] : []; })),
    });
    const file = workerFile();
    const loaded = await Promise.allSettled(Array.from({ length: o.workers }, () => pool.spawn(file)));
    const stoppedEarly = loaded.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const [name, why] = loaded.flatMap((r) => (r.status === 'fulfilled' ? Object.entries(r.value) : []))[0] ?? [];
    if (stoppedEarly || name !== undefined) {
      await pool.close();
      if (name !== undefined) throw new ImperaError('BAD_REPOSITORY', `model '${name}' failed to load in ONNX Runtime: ${why}`, 'check the model with `impera inspect`');
      throw new ImperaError('SERVER_ERROR', `a server worker ${(stoppedEarly!.reason as Error).message} while loading the models`, 'run `impera serve` again; if it persists, check the models with `impera inspect`');
    }
    return pool;
  }

  /** Start one worker; resolves with the models it could not load, rejects if it stops before loading. */
  private spawn(file: string): Promise<Record<string, string>> {
    const child = fork(file, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const worker: Worker = { child };
    this.workers.add(worker);
    return new Promise((resolve, reject) => {
      child.on('message', (m: FromWorker) => {
        if ('loaded' in m) {
          worker.failed = m.loaded.failed;
          this.failedStarts = 0;
          resolve(m.loaded.failed);
        } else if ('started' in m) {
          if (worker.running?.id === m.started) worker.running.started = true;
          return;
        } else if (worker.running?.id === m.id) {
          const { pending } = worker.running;
          worker.running = undefined;
          if ('result' in m) pending.resolve(m.result);
          else pending.reject(new Error(m.error));
        }
        this.dispatch();
      });
      child.on('error', () => child.kill('SIGKILL')); // could not be reached: 'exit' follows and replaces it
      child.once('exit', (code, signal) => {
        const how = stopped(code, signal);
        if (!worker.failed) reject(new Error(how));
        this.onExit(worker, file, how);
      });
      child.send({ setup: this.setup } satisfies ToWorker);
    });
  }

  private onExit(worker: Worker, file: string, how: string): void {
    this.workers.delete(worker);
    const running = worker.running;
    if (running?.started || (running && this.closing)) running.pending.reject(new ProtocolError(503, `the worker running this request ${how}; a new one is starting`, 'send the request again', 1));
    else if (running) this.waiting.unshift(running.pending); // it never reached the worker: another one runs it
    if (this.closing) return;
    this.lastFailure = `the last one ${how}`;
    if (!worker.failed) this.failedStarts++;
    const delay = this.failedStarts ? Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** this.failedStarts) : 0;
    const replace = () => {
      if (!this.closing) this.spawn(file).catch(() => undefined); // a replacement that stops early is handled by its own 'exit'
    };
    if (delay) setTimeout(replace, delay).unref();
    else replace(); // at once, so the tasks waiting now wait for it
    this.dispatch();
  }

  /** Why no worker can run a task for `model` (a 503). */
  private unavailable(model: string): ProtocolError {
    const why = [...this.workers].map((w) => w.failed?.[model]).find((x) => x !== undefined);
    if (why !== undefined) return new ProtocolError(503, `model '${model}' is unavailable: the worker that replaced a failed one could not load it (${why})`, 'fix the model file and restart the server');
    return new ProtocolError(503, `no inference worker is running (${this.lastFailure}); a new one is starting`, 'send the request again', 1);
  }

  /** Hand waiting tasks to free workers that hold their model; refuse those no live or starting worker can run. */
  private dispatch(): void {
    for (let i = 0; i < this.waiting.length;) {
      const pending = this.waiting[i]!;
      const able = [...this.workers].filter((w) => !(w.failed && pending.task.model in w.failed));
      const free = able.find((w) => w.failed && !w.running);
      if (able.length && !free) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      if (!free) {
        pending.reject(this.unavailable(pending.task.model));
        continue;
      }
      const id = this.nextId++;
      free.running = { id, pending, started: false };
      free.child.send({ id, task: pending.task } satisfies ToWorker);
    }
  }

  run(task: InferTask): Promise<InferResult> {
    if (this.closing) return Promise.reject(new ProtocolError(503, 'the server is shutting down'));
    return new Promise((resolve, reject) => {
      const feeds = Object.fromEntries(Object.entries(task.feeds).map(([name, t]) => [name, compact(t)]));
      this.waiting.push({ task: { ...task, feeds }, resolve, reject });
      this.dispatch();
    });
  }

  /** Stop every worker (what still runs fails with a 503). */
  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.waiting.splice(0)) p.reject(new ProtocolError(503, 'the server is shutting down'));
    await Promise.all([...this.workers].map((w) => new Promise<void>((resolve) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
      w.child.once('exit', () => resolve());
      w.child.kill('SIGTERM');
    })));
  }
}
