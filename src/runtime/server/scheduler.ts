/**
 * Admission, queueing and dynamic batching in front of the worker pool. Requests wait in one bounded FIFO; a free
 * execution slot (one per worker) takes the oldest request's model and runs it - alone, or, with dynamic batching,
 * together with the model's other queued requests up to the largest batch, waiting at most the batching delay
 * after the oldest arrived for the batch to fill (Triton's dynamic batcher, max_queue_delay_microseconds). A full
 * queue refuses new requests with 429 and a Retry-After estimated from the work ahead.
 */
import type { Tensor, TypedArray } from '../../onnx/tensor.js';
import { ProtocolError } from '../protocol/errors.js';
import type { ServedModel } from './model.js';
import type { InferResult, InferTask } from './tasks.js';

export interface SchedulerOptions {
  /** Requests that may wait (beyond those running); more are refused with 429. */
  maxQueue: number;
  /** Executions at once (the worker count). */
  slots: number;
}

export interface Completed {
  outputs: Record<string, Tensor>;
  /** Waiting in the queue (ms). */
  queueMs: number;
  /** session.run of the (possibly larger) batch this request ran in. */
  computeMs: number;
  /** Samples in that batch. */
  batchSize: number;
}

interface Job {
  model: ServedModel;
  feeds: Record<string, Tensor>;
  batch: number;
  outputs: string[];
  enqueued: number;
  /** The client went away: skip it. */
  abandoned: () => boolean;
  resolve: (c: Completed) => void;
  reject: (e: unknown) => void;
}

export type Runner = (task: InferTask) => Promise<InferResult>;

/** The longest batching delay (ms): longer holds requests for minutes (and past 2^31 ms overflows Node's timers). */
export const MAX_BATCH_DELAY_MS = 60_000;

/** Feeds of several requests stacked along dim 0. */
export function concatFeeds(parts: readonly Record<string, Tensor>[]): Record<string, Tensor> {
  if (parts.length === 1) return parts[0]!;
  return Object.fromEntries(Object.keys(parts[0]!).map((name) => {
    const ts = parts.map((p) => p[name]!);
    const first = ts[0]!;
    const data = new (first.data.constructor as new (n: number) => TypedArray)(ts.reduce((s, t) => s + t.data.length, 0));
    let at = 0;
    for (const t of ts) {
      (data as Float32Array).set(t.data as Float32Array, at);
      at += t.data.length;
    }
    return [name, { dtype: first.dtype, dims: [ts.reduce((s, t) => s + t.dims[0]!, 0), ...first.dims.slice(1)], data }];
  }));
}

/** Rows [from, from + count) of every output (dim 0), copied. */
export function sliceOutputs(outputs: Record<string, Tensor>, names: readonly string[], from: number, count: number, total: number): Record<string, Tensor> {
  return Object.fromEntries(names.map((name) => {
    const t = outputs[name]!;
    if (total === count) return [name, t];
    const per = t.data.length / total;
    return [name, { dtype: t.dtype, dims: [count, ...t.dims.slice(1)], data: t.data.slice(from * per, (from + count) * per) }];
  }));
}

export class Scheduler {
  private readonly queue: Job[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Moving average of execution time per sample (ms), for Retry-After. */
  private msPerSample = 1;

  constructor(
    private readonly run: Runner,
    private readonly o: SchedulerOptions,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.running;
  }

  submit(model: ServedModel, feeds: Record<string, Tensor>, batch: number, outputs: string[], abandoned: () => boolean = () => false): Promise<Completed> {
    if (this.queue.length >= this.o.maxQueue) {
      const samples = this.queue.reduce((s, j) => s + j.batch, 0);
      const retry = Math.max(1, Math.ceil((samples * this.msPerSample) / this.o.slots / 1000));
      throw new ProtocolError(429, `the server is busy: ${this.queue.length} requests are waiting`, `retry after ${retry} s`, retry);
    }
    return new Promise<Completed>((resolve, reject) => {
      this.queue.push({ model, feeds, batch, outputs, enqueued: performance.now(), abandoned, resolve, reject });
      this.pump();
    });
  }

  /** Jobs of the oldest job's model to run now, or the time (ms) to wait for its batch to fill. */
  private nextBatch(now: number): Job[] | number {
    const model = this.queue[0]!.model;
    if (model.batchDelayMs === undefined) return [this.queue[0]!];
    const jobs: Job[] = [];
    let samples = 0;
    for (const j of this.queue) {
      if (j.model.name !== model.name) continue;
      if (samples + j.batch > model.maxBatch) return jobs; // full: run what fits
      jobs.push(j);
      samples += j.batch;
    }
    const wait = this.queue[0]!.enqueued + model.batchDelayMs - now;
    return samples >= model.maxBatch || wait <= 0 ? jobs : wait;
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running < this.o.slots && this.queue.length) {
      const head = this.queue[0]!;
      if (head.abandoned()) {
        this.queue.shift();
        head.reject(new ProtocolError(499, 'the client went away'));
        continue;
      }
      const next = this.nextBatch(performance.now());
      if (typeof next === 'number') {
        this.timer = setTimeout(() => this.pump(), next);
        return;
      }
      for (const j of next) this.queue.splice(this.queue.indexOf(j), 1);
      void this.execute(next);
    }
  }

  private async execute(jobs: Job[]): Promise<void> {
    this.running++;
    const start = performance.now();
    const model = jobs[0]!.model;
    const total = jobs.reduce((s, j) => s + j.batch, 0);
    const outputs = jobs.length === 1 ? jobs[0]!.outputs : model.metadata.outputs.map((o) => o.name);
    try {
      const result = await this.run({ model: model.name, feeds: concatFeeds(jobs.map((j) => j.feeds)), outputs });
      this.msPerSample = 0.8 * this.msPerSample + (0.2 * result.computeMs) / total;
      let from = 0;
      for (const j of jobs) {
        j.resolve({ outputs: sliceOutputs(result.outputs, j.outputs, from, j.batch, total), queueMs: start - j.enqueued, computeMs: result.computeMs, batchSize: total });
        from += j.batch;
      }
    } catch (e) {
      for (const j of jobs) j.reject(e);
    } finally {
      this.running--;
      this.pump();
    }
  }

  /** Resolves once nothing runs (or after `maxMs`). */
  async idle(maxMs: number): Promise<void> {
    const until = performance.now() + maxMs;
    while (this.running > 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Refuse everything still queued (shutdown). */
  drain(error: ProtocolError): void {
    clearTimeout(this.timer);
    for (const j of this.queue.splice(0)) j.reject(error);
  }
}
