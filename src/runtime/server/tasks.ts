/** What the server's event loop and its worker threads exchange (kept apart: importing worker.ts starts a worker). */
import type { Tensor } from '../../onnx/tensor.js';

export interface WorkerSetup {
  /** Model name -> .onnx file. */
  models: Record<string, string>;
  /** Intra-op threads per session. */
  threads: number;
  /** Warm-up feeds per model (batch 1). */
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

/** The message a worker posts once its sessions are open and warm. */
export const LOADED = 'impera:worker-loaded';
