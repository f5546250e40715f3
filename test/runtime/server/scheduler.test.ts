/** Queueing and dynamic batching in front of the workers, with a runner that records what it ran. */
import { describe, expect, it } from 'vitest';
import { DataType } from '../../../src/onnx/dtype.js';
import type { Tensor } from '../../../src/onnx/tensor.js';
import { isProtocolError, ProtocolError } from '../../../src/runtime/protocol/errors.js';
import type { ServedModel } from '../../../src/runtime/server/model.js';
import { concatFeeds, Scheduler, sliceOutputs } from '../../../src/runtime/server/scheduler.js';
import type { InferTask } from '../../../src/runtime/server/tasks.js';

const model = (batchDelayMs?: number): ServedModel => ({
  name: 'm',
  version: '1',
  file: 'm.onnx',
  maxBatch: 4,
  ...(batchDelayMs !== undefined ? { batchDelayMs } : {}),
  metadata: { name: 'm', platform: 'onnx_onnxv1', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }] },
});

const rows = (...values: number[][]): Record<string, Tensor> => ({ x: { dtype: DataType.FLOAT, dims: [values.length, 2], data: Float32Array.from(values.flat()) } });

/** Runs y = 2x after `ms`, recording each batch's size. */
function doubler(ms = 5) {
  const batches: number[] = [];
  const run = async (task: InferTask) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const x = task.feeds.x!;
    batches.push(x.dims[0]!);
    return { outputs: { y: { ...x, data: (x.data as Float32Array).map((v) => 2 * v) } }, computeMs: ms };
  };
  return { batches, run };
}

describe('feeds of several requests', () => {
  it('stack along the batch dim and split back into each request\'s rows', () => {
    const all = concatFeeds([rows([1, 2]), rows([3, 4], [5, 6])]);
    expect(all.x!.dims).toEqual([3, 2]);
    expect(Array.from(all.x!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(sliceOutputs({ y: all.x! }, ['y'], 1, 2, 3).y!.data as Float32Array)).toEqual([3, 4, 5, 6]);
  });
});

describe('the scheduler', () => {
  it('runs requests one at a time per slot, in order, without batching', async () => {
    const { batches, run } = doubler();
    const s = new Scheduler(run, { maxQueue: 10, slots: 1 });
    const done = await Promise.all([1, 2, 3].map((v) => s.submit(model(), rows([v, v]), 1, ['y'])));
    expect(batches).toEqual([1, 1, 1]);
    expect(done.map((d) => (d.outputs.y!.data as Float32Array)[0])).toEqual([2, 4, 6]);
    expect(done[2]!.queueMs).toBeGreaterThan(done[0]!.queueMs);
  });

  it('batches queued requests up to the largest batch, and waits at most the delay for a batch to fill', async () => {
    const { batches, run } = doubler();
    const s = new Scheduler(run, { maxQueue: 10, slots: 1 });
    const start = performance.now();
    const done = await Promise.all([1, 2, 3, 4, 5, 6].map((v) => s.submit(model(30), rows([v, -v]), 1, ['y'])));
    expect(batches).toEqual([4, 2]); // full at once, then the rest after the delay
    expect(performance.now() - start).toBeGreaterThanOrEqual(30);
    expect(done.map((d) => Array.from(d.outputs.y!.data as Float32Array))).toEqual([1, 2, 3, 4, 5, 6].map((v) => [2 * v, -2 * v]));
    expect(done.map((d) => d.batchSize)).toEqual([4, 4, 4, 4, 2, 2]);
  });

  it('refuses requests beyond the queue with 429 and a Retry-After', async () => {
    const { run } = doubler(20);
    const s = new Scheduler(run, { maxQueue: 2, slots: 1 });
    const accepted = [1, 2, 3].map(() => s.submit(model(), rows([0, 0]), 1, ['y'])); // one runs, two wait
    let refusal: unknown;
    try {
      await s.submit(model(), rows([0, 0]), 1, ['y']);
    } catch (e) {
      refusal = e;
    }
    expect(isProtocolError(refusal) && [refusal.status, refusal.retryAfterS! >= 1]).toEqual([429, true]);
    await Promise.all(accepted);
  });

  it('skips requests whose client went away, and refuses what is queued when draining', async () => {
    const { batches, run } = doubler(20);
    const s = new Scheduler(run, { maxQueue: 10, slots: 1 });
    const first = s.submit(model(), rows([1, 1]), 1, ['y']);
    const gone = s.submit(model(), rows([2, 2]), 1, ['y'], () => true);
    const queued = s.submit(model(), rows([3, 3]), 1, ['y']);
    await expect(gone).rejects.toMatchObject({ status: 499 });
    await first;
    await queued;
    expect(batches).toEqual([1, 1]);
    const a = s.submit(model(), rows([1, 1]), 1, ['y']);
    const b = s.submit(model(), rows([1, 1]), 1, ['y']);
    const refused = expect(b).rejects.toMatchObject({ status: 503 });
    s.drain(new ProtocolError(503, 'closing'));
    await a;
    await refused;
  });
});
