/** Fidelity metrics against their closed forms on two-element samples. */
import { describe, expect, it } from 'vitest';
import { chooseTask } from '../../src/task/choose.js';
import { MAX_DB } from '../../src/task/fidelity.js';
import { f32 } from './helpers.js';

// sample 0: y_full = (3, 4), y = (3, 5): error (0, 1). sample 1: identical.
const full = f32([2, 2], [3, 4, 1, 2]);
const split = f32([2, 2], [3, 5, 1, 2]);
const outputs = [{ name: 'y', dims: [1, 2] }];
const scores = async (metric: 'rel-l2' | 'cosine' | 'snr-db' | 'psnr-db') => (await chooseTask(outputs, { labelled: false, classes: 0 }, { metric })).score({ n: 2, split: { y: split }, full: { y: full }, labels: null });

describe('fidelity metrics', () => {
  it('relative L2 error: ||y - y_full|| / ||y_full||', async () => {
    expect(await scores('rel-l2')).toEqual([1 / 5, 0]);
  });
  it('cosine similarity: <y, y_full> / (||y|| ||y_full||)', async () => {
    const [c0, c1] = await scores('cosine');
    expect(c0).toBeCloseTo(29 / (Math.sqrt(34) * 5), 12);
    expect(c1).toBeCloseTo(1, 12);
  });
  it('SNR = 10 log10(||y_full||^2 / ||e||^2); identical outputs cap at MAX_DB', async () => {
    const [s0, s1] = await scores('snr-db');
    expect(s0).toBeCloseTo(10 * Math.log10(25), 10);
    expect(s1).toBe(MAX_DB);
  });
  it('PSNR = 10 log10(peak^2 / mse), peak = max |y_full|', async () => {
    const [p0] = await scores('psnr-db');
    expect(p0).toBeCloseTo(10 * Math.log10(16 / 0.5), 10);
  });
  it('several outputs: the scores of each are averaged', async () => {
    const two = [{ name: 'a', dims: [1, 2] }, { name: 'b', dims: [1, 2] }];
    const task = await chooseTask(two, { labelled: false, classes: 0 }, { metric: 'rel-l2' });
    expect(task.metric.outputs).toEqual(['a', 'b']);
    const r = await task.score({ n: 2, split: { a: split, b: full }, full: { a: full, b: full }, labels: null });
    expect(r).toEqual([0.1, 0]);
  });
});
