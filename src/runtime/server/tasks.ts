/** What the server's event loop and its worker processes exchange (kept apart: importing worker.ts starts a worker). */
import type { Tensor } from '../../onnx/tensor.js';

export interface WorkerSetup {
  /** Model name -> .onnx file. */
  models: Record<string, string>;
  /** Intra-op threads per session. */
  threads: number;
  /** Warm-up feeds per model (batch 1); a model without any (a size only requests give) is not warmed up. */
  warmup: Record<string, Record<string, Tensor>>;
}

export interface InferTask {
  model: string;
  feeds: Record<string, Tensor>;
  outputs: string[];
}

export interface InferResult {
  outputs: Record<string, Tensor>;
  /** Time inside session.run. */
  computeMs: number;
}

/** Server -> worker: the set-up (first message), then tasks by id. */
export type ToWorker = { setup: WorkerSetup } | { id: number; task: InferTask };

/**
 * Worker -> server: loaded once its sessions are open and warm (`failed`: model name -> why it could not be loaded;
 * the worker serves the others), then per task: started when it has the task, and its answer.
 */
export type FromWorker = { loaded: { failed: Record<string, string> } } | { started: number } | { id: number; result: InferResult } | { id: number; error: string };
