/**
 * A worker thread of the server's pool (piscina): it opens one ONNX Runtime session per served model when it
 * starts, runs each once so the first request pays no warm-up, tells the pool it is loaded, and then runs
 * inference tasks. Sessions live as long as the worker, so every request reuses them.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { loadModel } from '../../onnx/io.js';
import { createSession, run, type ort } from '../../ort/session.js';
import { LOADED, type InferResult, type InferTask, type WorkerSetup } from './tasks.js';

const setup = workerData as WorkerSetup;

async function open(): Promise<Map<string, ort.InferenceSession>> {
  const sessions = new Map<string, ort.InferenceSession>();
  for (const [name, file] of Object.entries(setup.models)) {
    const model = loadModel(file);
    const session = await createSession(model.proto, model.dir, { threads: setup.threads });
    await run(session, setup.warmup[name]!);
    sessions.set(name, session);
  }
  return sessions;
}

const sessions = await open();
parentPort?.postMessage({ [LOADED]: threadId });

export default async function infer(task: InferTask): Promise<InferResult> {
  const session = sessions.get(task.model)!;
  const start = performance.now();
  const outputs = await run(session, task.feeds, task.outputs);
  return { outputs, computeMs: performance.now() - start };
}
