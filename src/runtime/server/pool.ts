/**
 * The server's worker threads (piscina): each holds a session per model, so inference never blocks the event
 * loop that parses requests. Inputs are moved to the worker, not copied, when they own their buffer.
 */
import { numel } from '../../onnx/dtype.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ImperaError } from '../../errors.js';
import type { Tensor } from '../../onnx/tensor.js';
import { PACKAGE_ROOT } from '../../util/package.js';
import { allocate, onnxType, type NumericDatatype } from '../protocol/datatypes.js';
import type { ServedModel } from './model.js';
import { LOADED, type InferResult, type InferTask, type WorkerSetup } from './tasks.js';

export interface PoolOptions {
  workers: number;
  /** Intra-op threads per session. */
  threads: number;
}

/** worker.js beside this module (built package), else in dist/ (tests run the TypeScript sources). */
function workerFile(): string {
  const candidates = [fileURLToPath(new URL('./worker.js', import.meta.url)), join(PACKAGE_ROOT, 'dist', 'src', 'runtime', 'server', 'worker.js')];
  const found = candidates.find((f) => existsSync(f));
  if (!found) throw new ImperaError('FILE_NOT_FOUND', 'the server worker (dist/src/runtime/server/worker.js) is missing', 'build impera first: npm run build');
  return found;
}

/** Zeros for every input at batch 1 (variable dims set to 1). */
export function warmupFeeds(model: ServedModel): Record<string, Tensor> {
  return Object.fromEntries(model.metadata.inputs.map((m) => {
    const dims = m.shape.map((d) => (d === -1 ? 1 : d));
    return [m.name, { dtype: onnxType(m.datatype), dims, data: allocate(m.datatype as NumericDatatype, numel(dims)) }];
  }));
}

const ownsBuffer = (t: Tensor): boolean => t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && t.data.buffer instanceof ArrayBuffer;

export class InferencePool {
  private constructor(private readonly pool: Piscina) {}

  /** Start the workers; resolves once every worker has loaded every model. */
  static async start(models: readonly ServedModel[], o: PoolOptions): Promise<InferencePool> {
    const setup: WorkerSetup = {
      models: Object.fromEntries(models.map((m) => [m.name, m.file])),
      threads: o.threads,
      warmup: Object.fromEntries(models.map((m) => [m.name, warmupFeeds(m)])),
    };
    const pool = new Piscina({ filename: workerFile(), minThreads: o.workers, maxThreads: o.workers, idleTimeout: Infinity, workerData: setup });
    await new Promise<void>((resolve, reject) => {
      let loaded = 0;
      const onMessage = (m: unknown) => {
        if (typeof m === 'object' && m !== null && LOADED in m && ++loaded === o.workers) {
          pool.off('message', onMessage);
          pool.off('error', onError);
          resolve();
        }
      };
      const onError = (e: unknown) => {
        pool.off('message', onMessage);
        void pool.destroy();
        reject(new ImperaError('BAD_REPOSITORY', `a model failed to load in ONNX Runtime: ${(e as Error).message}`, 'check the model with `impera inspect`'));
      };
      pool.on('message', onMessage);
      pool.on('error', onError);
    });
    return new InferencePool(pool);
  }

  run(task: InferTask): Promise<InferResult> {
    const transferList = Object.values(task.feeds).filter(ownsBuffer).map((t) => t.data.buffer as ArrayBuffer);
    return this.pool.run(task, { transferList });
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
