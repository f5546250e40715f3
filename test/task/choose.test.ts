/** The automatic choice of a metric from output shapes and labels, and the refusals that name the metric that fits. */
import { describe, expect, it } from 'vitest';
import { chooseTask } from '../../src/task/choose.js';

const labelled = { labelled: true, classes: 10 };
const unlabelled = { labelled: false, classes: 0 };

describe('chooseTask', () => {
  it('chooses from the shapes and the data, and says why', async () => {
    const cases: [number[], typeof labelled, string][] = [
      [[1, 10], labelled, 'accuracy'],
      [[1, 10], unlabelled, 'top1-agreement'],
      [[1, 40, 6625], unlabelled, 'sequence-agreement'],
      [[1, 1, 640, 640], labelled, 'map-iou'],
      [[1, 3, 8, 8], unlabelled, 'map-iou'],
      [[1, 1], labelled, 'rel-l2'],
      [[1, 64, 1, 1], unlabelled, 'rel-l2'],
    ];
    for (const [dims, data, metric] of cases) {
      const task = await chooseTask([{ name: 'out', dims }], data);
      expect(task.metric.name, dims.join('x')).toBe(metric);
      expect(task.reason).toMatch(/^chosen: 'out' \[/);
    }
  });

  it('reads what made an output where the graph is known: a normalised output is no class or token scores, a detector\'s concat no sequence', async () => {
    const cases: [number[], string, typeof labelled, string][] = [
      [[1, 10], 'Gemm', labelled, 'accuracy'],
      [[1, 384], 'normalized', unlabelled, 'rel-l2'], // a sentence embedding
      [[1, 16, 32], 'normalized', unlabelled, 'rel-l2'], // a transformer's last hidden state
      [[1, 40, 6625], 'Softmax', unlabelled, 'sequence-agreement'],
      [[1, 50, 32], 'linear', unlabelled, 'sequence-agreement'], // CTC logits from a projection with a bias
      [[1, 84, 8400], 'Concat', unlabelled, 'rel-l2'], // boxes and class scores per anchor
    ];
    for (const [dims, producer, data, metric] of cases) expect((await chooseTask([{ name: 'out', dims, producer }], data)).metric.name, `${dims} from ${producer}`).toBe(metric);
    await expect(chooseTask([{ name: 'emb', dims: [1, 384], producer: 'normalized' }], labelled, { metric: 'accuracy' })).rejects.toThrow(/accuracy does not fit 'emb' \[1, 384\]: this output is normalised \(a layer norm or an L2 normalisation: an embedding or a hidden state\), not class scores/);
    await expect(chooseTask([{ name: 'boxes', dims: [1, 84, 8400], producer: 'Concat' }], unlabelled, { metric: 'token-error-rate' })).rejects.toThrow(/this output comes from Concat, not a projection or a softmax/);
  });

  it('a map whose values leave [0, 1] is not a probability map unless a threshold is given', async () => {
    const logits = { name: 'seg', dims: [1, 21, 8, 8], range: [-7.5, 12] as const };
    expect((await chooseTask([logits], unlabelled)).metric.name).toBe('rel-l2');
    await expect(chooseTask([logits], unlabelled, { metric: 'map-iou' })).rejects.toThrow(/map-iou does not fit 'seg' \[1, 21, 8, 8\]: its values run from -7.50 to 12.0/);
    expect((await chooseTask([logits], unlabelled, { metric: 'map-iou', threshold: 0 })).metric.label).toBe('map IoU @0');
  });

  it('fidelity metrics read every output, the others the first; --outputs picks them', async () => {
    const outs = [{ name: 'a', dims: [1, 4] }, { name: 'b', dims: [1, 1, 4, 4] }];
    expect((await chooseTask(outs, unlabelled)).metric.outputs).toEqual(['a']);
    expect((await chooseTask(outs, unlabelled, { metric: 'cosine' })).metric.outputs).toEqual(['a', 'b']);
    expect((await chooseTask(outs, unlabelled, { outputs: ['b'] })).metric.name).toBe('map-iou');
    await expect(chooseTask(outs, unlabelled, { outputs: ['c'] })).rejects.toMatchObject({ message: "the model has no output 'c'", hint: 'its outputs: a, b' });
    await expect(chooseTask(outs, unlabelled, { outputs: ['a', 'b'], metric: 'map-iou' })).rejects.toThrow(/map-iou reads one output, and 2 were named/);
  });

  it('refuses a metric that does not fit, naming the one that does', async () => {
    const detector = [{ name: 'sigmoid_0.tmp_0', dims: [1, 1, 640, 640] }];
    const refusal = chooseTask(detector, labelled, { metric: 'accuracy' });
    await expect(refusal).rejects.toThrow(/^accuracy does not fit 'sigmoid_0.tmp_0' \[1, 1, 640, 640\]: it needs class scores \[N, classes\], and this output has rank 4$/);
    await expect(refusal).rejects.toMatchObject({ code: 'METRIC', hint: 'the metric that fits is map-iou' });
    await expect(chooseTask([{ name: 'logits', dims: [1, 10] }], unlabelled, { metric: 'accuracy' })).rejects.toMatchObject({ message: /needs labelled data, and this data has no labels/, hint: 'the metric that fits is top1-agreement' });
    await expect(chooseTask([{ name: 'ctc', dims: [1, 40, 6625] }], unlabelled, { metric: 'map-f1' })).rejects.toMatchObject({ hint: 'the metric that fits is sequence-agreement' });
    await expect(chooseTask([{ name: 'logits', dims: [1, 4] }], unlabelled, { metric: 'top5-agreement' })).rejects.toThrow(/at least 6 class scores/);
    await expect(chooseTask([{ name: 'logits', dims: [1, 10] }], unlabelled, { metric: 'f1' as never })).rejects.toThrow(/unknown metric 'f1'/);
  });

  it('refuses every built-in metric for an output of data-dependent length (a detector\'s boxes after NMS), naming a metric module', async () => {
    const detections = [{ name: 'boxes', dims: [24, 4], variableLength: true }, { name: 'labels', dims: [24], variableLength: true }];
    const why = /^output 'boxes' has a data-dependent length \(as a detector's boxes after NMS: each sample keeps its own number, \[24, 4\] on one run\), and built-in metrics compare outputs of one shape element by element$/;
    // by shape alone [24, 4] would be class scores of 24 samples
    await expect(chooseTask(detections, unlabelled)).rejects.toMatchObject({ code: 'METRIC', message: expect.stringMatching(why), hint: expect.stringMatching(/^give a metric module that matches them \(--metric-module FILE.mjs/) });
    for (const metric of ['top1-agreement', 'rel-l2', 'cosine'] as const) await expect(chooseTask(detections, unlabelled, { metric })).rejects.toThrow(why);
    expect((await chooseTask([{ name: 'scores', dims: [1, 8] }, ...detections], unlabelled, { outputs: ['scores'] })).metric.name).toBe('top1-agreement');
  });

  it('refuses labels with more classes than the output scores, chosen or asked', async () => {
    const out = [{ name: 'logits', dims: [1, 10] }];
    const wide = { labelled: true, classes: 12 };
    await expect(chooseTask(out, wide)).rejects.toThrow(/'logits' \[1, 10\] holds class scores, but the data's labels have 12 classes and the output scores only 10/);
    await expect(chooseTask(out, wide, { metric: 'accuracy' })).rejects.toThrow(/labels have 12 classes/);
  });
});
