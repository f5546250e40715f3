/**
 * A worker process of the server's pool: it opens one ONNX Runtime session per served model when the server sends
 * its set-up, runs each once so the first request pays no warm-up, tells the server it is loaded (and which models
 * it could not load, so it serves the others), and then runs inference tasks one at a time. A process rather than a
 * thread, so whatever happens to it - a native abort inside ONNX Runtime, a kill - ends only this process.
 */
import { loadModel } from '../../onnx/io.js';
import { createSession, run, type ort } from '../../ort/session.js';
import type { FromWorker, InferResult, InferTask, ToWorker, WorkerSetup } from './tasks.js';

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function open(setup: WorkerSetup): Promise<{ sessions: Map<string, ort.InferenceSession>; failed: Record<string, string> }> {
  const sessions = new Map<string, ort.InferenceSession>();
  const failed: Record<string, string> = {};
  for (const [name, file] of Object.entries(setup.models)) {
    try {
      const model = loadModel(file);
      const session = await createSession(model.proto, model.dir, { threads: setup.threads });
      const warmup = setup.warmup[name];
      if (warmup) await run(session, warmup);
      sessions.set(name, session);
    } catch (e) {
      failed[name] = message(e);
    }
  }
  return { sessions, failed };
}

async function infer(sessions: Map<string, ort.InferenceSession>, task: InferTask): Promise<InferResult> {
  const session = sessions.get(task.model);
  if (!session) throw new Error(`this worker has no session for model '${task.model}'`);
  const start = performance.now();
  const outputs = await run(session, task.feeds, task.outputs);
  return { outputs, computeMs: performance.now() - start };
}

/** Resolves once the message is written, not merely queued behind a run that blocks this thread. */
const send = (m: FromWorker): Promise<void> => new Promise((resolve) => process.send?.(m, undefined, {}, () => resolve()));

process.on('disconnect', () => process.exit(0)); // the server is gone
process.on('SIGINT', () => undefined); // Ctrl-C reaches the whole process group: the server stops its workers itself
process.once('message', (first: ToWorker) => {
  if (!('setup' in first)) return process.exit(1);
  void open(first.setup).then(({ sessions, failed }) => {
    process.on('message', (m: ToWorker) => {
      if (!('task' in m)) return;
      void send({ started: m.id })
        .then(() => infer(sessions, m.task))
        .then((result) => send({ id: m.id, result }), (e: unknown) => send({ id: m.id, error: message(e) }));
    });
    void send({ loaded: { failed } });
  });
});
