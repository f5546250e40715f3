/**
 * A failed worker is contained: the server (in this process) keeps running, the failure costs only the requests that
 * worker was running - each a 503 saying why - a replacement takes over, and a replacement that cannot load a model
 * serves the other models while requests for that one get a 503 naming why. Workers are killed for real (SIGKILL on
 * the worker processes this test process started).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallError, HttpClient } from '../../../src/runtime/edge/client.js';
import { serverWorkers } from '../../../src/harness/hostile.js';
import type { InferTensor } from '../../../src/runtime/protocol/tensor.js';
import type { RunningServer } from '../../../src/runtime/server/app.js';
import { createSession, run } from '../../../src/ort/session.js';
import { ModelBuilder } from '../../../src/onnx/builder.js';
import { inMemoryModel, saveModel } from '../../../src/onnx/io.js';
import { weights } from '../../helpers/models.js';
import { cutInputs, serve, splitRepo, tailReference, type SplitRepo } from '../../helpers/runtime.js';

/** Pids of the server workers this process started. */
const workerPids = (): number[] => serverWorkers(process.pid);

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
};

let repo: SplitRepo;
let server: RunningServer;
let client: HttpClient;
beforeEach(async () => {
  repo = await splitRepo();
});
afterEach(async () => {
  client.close();
  await server.close();
  expect(workerPids()).toEqual([]); // closing stops every worker
});

const inferTail = (inputs: InferTensor[]) => client.infer({ model: 'tail', inputs, timeoutMs: 20_000 });

/** `slow.onnx` beside the split: 24 MatMuls of [1, 256, 256] (about 400 M multiply-adds), so a kill lands mid-run. */
function addSlowModel(dir: string): void {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 256, 256]);
  const w = weights(b, 'w', [256, 256], 11);
  let t = 'x';
  for (let i = 0; i < 24; i++) t = b.op('Tanh', [b.op('MatMul', [t, w])]);
  b.op('Identity', [t], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 256, 256]);
  saveModel(inMemoryModel(b.build(), 'slow'), join(dir, 'slow.onnx'));
}

describe('a worker that fails', () => {
  it.each([1, 2])('under load (%i workers) fails at most the request it runs, with a 503 that says why; a replacement serves the rest', async (workers) => {
    addSlowModel(repo.dir);
    server = await serve(repo, { workers });
    client = new HttpClient({ url: server.url, protocol: 'binary' });
    expect(workerPids()).toHaveLength(workers);
    const x: InferTensor = { name: 'x', datatype: 'FP32', shape: [1, 256, 256], data: new Float32Array(256 * 256).fill(0.01) };
    const outcomes: (CallError | 'ok')[] = [];
    let stop = false;
    const loop = async () => {
      while (!stop) outcomes.push(await client.infer({ model: 'slow', inputs: [x], timeoutMs: 60_000 }).then(() => 'ok' as const, (e: CallError) => e));
    };
    const load = Array.from({ length: 2 * workers }, loop);
    const failed = () => outcomes.filter((o): o is CallError => o !== 'ok');
    // a kill can land before the worker has its next task (that task then runs elsewhere): kill until one lands in a run
    const answers = async (count: number) => {
      const from = outcomes.length;
      await until(`${count} more answers`, () => (outcomes.length >= from + count ? true : undefined));
    };
    await answers(2 * workers);
    let kills = 0;
    while (kills < 6 && failed().length === 0) {
      const [victim] = workerPids();
      process.kill(victim!, 'SIGKILL');
      kills++;
      await until('a replacement worker', () => {
        const now = workerPids();
        return now.length === workers && !now.includes(victim!) ? true : undefined;
      });
      await answers(2 * workers); // the killed worker's request among them, answered at once
    }
    const afterKills = outcomes.length;
    await answers(2 * workers);
    stop = true;
    await Promise.all(load);
    expect(failed().length).toBeGreaterThan(0);
    expect(failed().length).toBeLessThanOrEqual(kills); // one per kill at most: the others waited for a worker
    for (const e of failed()) {
      expect(e).toMatchObject({ kind: 'overloaded', status: 503, retryAfterS: 1 });
      expect(e.message).toMatch(/^the server answered 503: the worker running this request was killed \(SIGKILL\); a new one is starting/);
    }
    expect(outcomes.slice(afterKills).every((o) => o === 'ok')).toBe(true);
    const inputs = cutInputs(repo, 2, 7);
    close((await inferTail(inputs)).response.outputs[0]!.data as Float32Array, await tailReference(repo, inputs));
  });

  it('killed while idle costs no request: the next one waits for the replacement', async () => {
    server = await serve(repo, { workers: 1 });
    client = new HttpClient({ url: server.url, protocol: 'binary' });
    const inputs = cutInputs(repo, 1, 3);
    await inferTail(inputs);
    const [pid] = workerPids();
    process.kill(pid!, 'SIGKILL');
    await until('the worker gone', () => (workerPids().includes(pid!) ? undefined : true));
    close((await inferTail(inputs)).response.outputs[0]!.data as Float32Array, await tailReference(repo, inputs));
  });
});

describe('a model with a variable dim besides the batch', () => {
  it('loads without a warm-up at size 1 (where reflect padding fails) and serves the sizes requests give', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 'T']);
    b.op('Pad', ['x', b.constantNode('int64', [4], [0, 2, 0, 2])], { mode: 'reflect' }, { output: 'y' });
    b.output('y', 'float32', ['batch', 'T2']);
    saveModel(inMemoryModel(b.build(), 'reflect'), join(repo.dir, 'reflect.onnx'));
    server = await serve(repo, { workers: 1 });
    client = new HttpClient({ url: server.url, protocol: 'binary' });
    const x: InferTensor = { name: 'x', datatype: 'FP32', shape: [1, 4], data: Float32Array.of(1, 2, 3, 4) };
    const { response } = await client.infer({ model: 'reflect', inputs: [x], timeoutMs: 20_000 });
    expect(response.outputs[0]!.shape).toEqual([1, 8]);
    expect([...(response.outputs[0]!.data as Float32Array)]).toEqual([3, 2, 1, 2, 3, 4, 3, 2]);
  });
});

describe('a replacement that cannot load a model', () => {
  it('serves the other models, and requests for that one get a 503 naming why', async () => {
    server = await serve(repo, { workers: 1 });
    client = new HttpClient({ url: server.url, protocol: 'binary' });
    writeFileSync(join(repo.dir, 'tail.onnx'), 'this is not an ONNX model');
    const [pid] = workerPids();
    process.kill(pid!, 'SIGKILL');
    const x: InferTensor = { name: 'x', datatype: 'FP32', shape: [1, 3, 8, 8], data: Float32Array.from({ length: 192 }, (_, i) => Math.sin(i)) };
    const head = await until('the head served by the replacement', () => client.infer({ model: 'head', inputs: [x], timeoutMs: 20_000 }).catch(() => undefined));
    const session = await createSession(repo.parts[0]!.proto, repo.dir);
    const reference = await run(session, { x: { dtype: 1, dims: x.shape, data: x.data as Float32Array } });
    await session.release();
    close(head.response.outputs.find((o) => o.name === 'r1')!.data as Float32Array, reference.r1!.data as Float32Array);
    for (let i = 0; i < 3; i++) {
      const refused = await inferTail(cutInputs(repo)).then(() => undefined, (e: CallError) => e);
      expect(refused).toMatchObject({ status: 503, message: expect.stringMatching(/model 'tail' is unavailable: the worker that replaced a failed one could not load it \(.+\)/) });
    }
    expect(workerPids()).toHaveLength(1);
  });
});
