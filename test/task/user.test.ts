/** A user's metric module: loaded, called per sample, and every way it can fail is one line naming it. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseTask } from '../../src/task/choose.js';
import { f32 } from './helpers.js';
import { DataType } from '../../src/onnx/dtype.js';

const baseDir = join(import.meta.dirname, '..', 'fixtures', 'metrics');
const outputs = [{ name: 'y', dims: [1, 2] }];
const data = { labelled: false, classes: 0 };
const batch = { n: 2, split: { y: f32([2, 2], [1, 2, 3, 5]) }, full: { y: f32([2, 2], [1, 3, 3, 3]) }, labels: null };

describe('user metric modules', () => {
  it('scores each sample with the module, by --metric-module or custom:<file>', async () => {
    const task = await chooseTask(outputs, data, { module: 'mean-abs.mjs', baseDir });
    expect(task.metric).toMatchObject({ name: 'custom:mean-abs.mjs', label: 'mean |y - y_full|', better: 'lower', kind: 'mean' });
    expect(await task.score(batch)).toEqual([0.5, 1]);
    expect(await task.scoreFull(batch)).toEqual([0, 0]);
    expect((await chooseTask(outputs, data, { metric: 'custom:mean-abs.mjs', baseDir })).metric.name).toBe('custom:mean-abs.mjs');
  });

  it('gives a model run one sample at a time its outputs whole: a detector\'s boxes [K, 4] and labels [K], K its own per sample (examples/pytorch-detector/box-f1.mjs)', async () => {
    const detections = [{ name: 'boxes', dims: [3, 4], variableLength: true }, { name: 'labels', dims: [3], variableLength: true }];
    const task = await chooseTask(detections, data, { module: join(import.meta.dirname, '..', '..', 'examples', 'pytorch-detector', 'box-f1.mjs') });
    const labels = (...v: number[]) => ({ dtype: DataType.INT64, dims: [v.length], data: BigInt64Array.from(v.map(BigInt)) });
    const full = { boxes: f32([2, 4], [0, 0, 10, 10, 20, 20, 30, 30]), labels: labels(1, 2) };
    // the first box moved by 2 (IoU 80 / 120 = 0.67: a match), the second by 6 (IoU 16 / 184: none), and a third box
    const split = { boxes: f32([3, 4], [2, 0, 12, 10, 26, 26, 36, 36, 40, 40, 50, 50]), labels: labels(1, 2, 0) };
    // F1 = 2 * 1 matched / (3 + 2)
    expect(await task.score({ n: 1, split, full, labels: null })).toEqual([0.4]);
    expect(await task.score({ n: 1, split: { boxes: f32([0, 4], []), labels: labels() }, full: { boxes: f32([0, 4], []), labels: labels() }, labels: null })).toEqual([1]);
  });

  it('a missing module, no score, a throw and a NaN are each one METRIC error naming the module', async () => {
    await expect(chooseTask(outputs, data, { module: 'gone.mjs', baseDir })).rejects.toMatchObject({ code: 'METRIC', message: expect.stringMatching(/^metric module 'gone.mjs' not found/) });
    await expect(chooseTask(outputs, data, { module: 'no-score.mjs', baseDir })).rejects.toThrow(/^metric module 'no-score.mjs' exports no score function$/);
    const throws = await chooseTask(outputs, data, { module: 'throws.mjs', baseDir });
    await expect(throws.score(batch)).rejects.toThrow(/^metric module 'throws.mjs' threw on a sample: boxes file missing$/);
    const nan = await chooseTask(outputs, data, { module: 'nan.mjs', baseDir });
    await expect(nan.score(batch)).rejects.toThrow(/^metric module 'nan.mjs' returned NaN for a sample, not a finite number$/);
  });
});
