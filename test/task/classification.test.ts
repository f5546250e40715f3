/** Class scores: accuracy against labels, top-1 and top-5 agreement with the full model, on hand-made rows. */
import { describe, expect, it } from 'vitest';
import { chooseTask } from '../../src/task/choose.js';
import { topClass } from '../../src/task/classification.js';
import { f32 } from './helpers.js';

const outputs = [{ name: 'logits', dims: [1, 7] }];
// three samples of 7 scores; the full model predicts 6, 0, 3
const full = f32([3, 7], [0, 1, 2, 3, 4, 5, 6, /**/ 9, 1, 1, 1, 1, 1, 1, /**/ 0, 0, 0, 5, 4, 3, 2]);
// the split predicts 6 (same), 1 (differs; full's 0 is 2nd), 0 (differs; full's 3 is the 6th largest)
const split = f32([3, 7], [0, 1, 2, 3, 4, 5, 6, /**/ 8, 9, 1, 1, 1, 1, 1, /**/ 9, 8, 7, 1, 6, 5, 4]);

describe('classification metrics', () => {
  it('topClass is the argmax of each row', () => {
    expect(topClass(full, 3)).toEqual([6, 0, 3]);
  });

  it('accuracy: 1 where the top class is the label', async () => {
    const task = await chooseTask(outputs, { labelled: true, classes: 7 }, { metric: 'accuracy' });
    expect(await task.score({ n: 3, split: { logits: split }, full: { logits: full }, labels: [6, 0, 0] })).toEqual([1, 0, 1]);
    expect(await task.scoreFull({ n: 3, full: { logits: full }, labels: [6, 0, 0] })).toEqual([1, 1, 0]);
    expect(task.predict!({ logits: split }, 3)).toEqual([6, 1, 0]);
  });

  it('top-1 agreement compares the argmaxes; top-5 asks whether the full top-1 is among the split top 5', async () => {
    const top1 = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'top1-agreement' });
    expect(await top1.score({ n: 3, split: { logits: split }, full: { logits: full }, labels: null })).toEqual([1, 0, 0]);
    const top5 = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'top5-agreement' });
    expect(await top5.score({ n: 3, split: { logits: split }, full: { logits: full }, labels: null })).toEqual([1, 1, 0]);
    expect(top5.metric).toMatchObject({ label: 'top-5 agreement', better: 'higher', kind: 'rate' });
  });

  it('a label outside the output classes fails instead of counting as a miss', async () => {
    const task = await chooseTask(outputs, { labelled: true, classes: 7 }, { metric: 'accuracy' });
    await expect(task.score({ n: 3, split: { logits: split }, full: { logits: full }, labels: [6, 0, 7] })).rejects.toThrow(/label 7 is not one of the output's 7 classes/);
  });
});
