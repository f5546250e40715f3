/** Map IoU and F1 of thresholded maps, counted by hand on 2x3 maps. */
import { describe, expect, it } from 'vitest';
import { chooseTask } from '../../src/task/choose.js';
import { f32 } from './helpers.js';

const outputs = [{ name: 'prob', dims: [1, 1, 2, 3] }];
// full mask (> 0.5): {0, 1, 2}; split mask: {1, 2, 3, 4} -> intersection 2, union 5, |A| + |B| = 7
const full = f32([2, 1, 2, 3], [0.9, 0.8, 0.7, 0.1, 0.2, 0.3, /**/ 0, 0, 0, 0, 0, 0]);
const split = f32([2, 1, 2, 3], [0.4, 0.6, 0.9, 0.51, 0.99, 0.5, /**/ 0, 0, 0.2, 0, 0, 0]);

describe('map metrics', () => {
  it('IoU = |A ∩ B| / |A ∪ B|; two empty masks agree', async () => {
    const task = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'map-iou' });
    expect(await task.score({ n: 2, split: { prob: split }, full: { prob: full }, labels: null })).toEqual([2 / 5, 1]);
    expect(task.metric.label).toBe('map IoU @0.5');
  });
  it('says on how many samples the full model found nothing, where IoU is 1 by convention', async () => {
    const task = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'map-iou' });
    expect(task.notes!()).toEqual([]);
    expect(await task.scoreFull({ n: 2, full: { prob: full }, labels: null })).toEqual([1, 1]);
    expect(task.notes!()).toEqual(["on 1 of 2 samples the full model's map is empty at threshold 0.5 (IoU 1 by convention there: lower the threshold, or use data where the model finds something)"]);
  });

  it('F1 = 2 |A ∩ B| / (|A| + |B|), at a set threshold', async () => {
    const task = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'map-f1' });
    expect(await task.score({ n: 2, split: { prob: split }, full: { prob: full }, labels: null })).toEqual([4 / 7, 1]);
    // at 0.15: full {0, 1, 2, 4, 5}, split {0..5} of sample 0 -> 2*5/11; sample 1: split {2}, full {} -> 0
    const low = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'map-f1', threshold: 0.15 });
    expect(await low.score({ n: 2, split: { prob: split }, full: { prob: full }, labels: null })).toEqual([10 / 11, 0]);
  });
});

describe('class maps: per-pixel class scores [N, C, H, W] of a semantic segmenter', () => {
  // 3 classes over 4 pixels, channel c of pixel p at c * 4 + p (logits, not probabilities)
  // full:  classes [0, 1, 2, 2]; split: classes [0, 1, 1, 2]
  const fullLogits = f32([1, 3, 2, 2], [5, -1, 0, 0, /**/ 1, 4, 0, 0, /**/ 0, 0, 3, 2]);
  const splitLogits = f32([1, 3, 2, 2], [5, -1, 0, 0, /**/ 1, 4, 4, 0, /**/ 0, 0, 3, 2]);
  const seg = [{ name: 'out', dims: [1, 3, 2, 2], range: [-1, 5] as const, producer: 'Resize' }];

  it('mIoU over the classes present: class 0 1/1, class 1 1/2, class 2 1/2; pixel agreement 3/4', async () => {
    const miou = await chooseTask(seg, { labelled: false, classes: 0 });
    expect(miou.metric.name).toBe('class-map-miou');
    expect(miou.reason).toMatch(/class scores per pixel \(made by Resize\)/);
    expect(await miou.score({ n: 1, split: { out: splitLogits }, full: { out: fullLogits }, labels: null })).toEqual([(1 + 0.5 + 0.5) / 3]);
    const agree = await chooseTask(seg, { labelled: false, classes: 0 }, { metric: 'pixel-agreement' });
    expect(await agree.score({ n: 1, split: { out: splitLogits }, full: { out: fullLogits }, labels: null })).toEqual([0.75]);
  });

  it('says on how many samples the full model put one class on every pixel (an untrained U-Net: mIoU 1 there says little)', async () => {
    // sample 2 is class 1 everywhere
    const twoSamples = f32([2, 3, 2, 2], [...(fullLogits.data as Float32Array), ...[0, 0, 0, 0, /**/ 2, 2, 2, 2, /**/ 1, 1, 1, 1]]);
    const miou = await chooseTask(seg, { labelled: false, classes: 0 });
    await miou.scoreFull({ n: 2, full: { out: twoSamples }, labels: null });
    expect(miou.notes!()).toEqual(["on 1 of 2 samples the full model's class map is one class on every pixel (class-map mIoU then only asks whether the split model keeps that class: use data where the model segments something)"]);
  });

  it('is not chosen from the shape alone (a feature map has it too), nor for a sigmoid map or one channel', async () => {
    expect((await chooseTask([{ ...seg[0]!, producer: undefined }], { labelled: false, classes: 0 })).metric.name).toBe('rel-l2');
    expect((await chooseTask([{ ...seg[0]!, producer: 'Relu' }], { labelled: false, classes: 0 })).metric.name).toBe('rel-l2');
    expect((await chooseTask([{ name: 'prob', dims: [1, 2, 2, 2], range: [0, 1] as const, producer: 'Sigmoid' }], { labelled: false, classes: 0 })).metric.name).toBe('map-iou');
    await expect(chooseTask([{ name: 'prob', dims: [1, 1, 2, 2], producer: 'Conv' }], { labelled: false, classes: 0 }, { metric: 'class-map-miou' })).rejects.toThrow(/needs at least 2 classes per pixel, and this output has 1 channel/);
  });
});
