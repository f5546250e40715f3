/**
 * Exit features: global average pooling over the positions of the cut tensor's own layout, so an NHWC tensor of a
 * tf2onnx export pools H and W and keeps its channels (checked against the mean computed here from the head's output);
 * without labels, the targets are the full model's top-1 (checked against the model run here); an output that is not
 * class scores is refused.
 */
import { describe, expect, it } from 'vitest';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import type { Dataset } from '../../src/data/dataset.js';
import { makeBranch } from '../../src/exits/branch.js';
import { extractFeatures } from '../../src/exits/features.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { tensorLayout } from '../../src/graph/layout.js';
import { DataType } from '../../src/onnx/dtype.js';
import { createSession, run } from '../../src/ort/session.js';
import { seededRandom } from '../../src/util/random.js';
import { argmax } from '../../src/util/stats.js';
import { mapModel, tf2onnxCnn } from '../helpers/models.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';

describe('exit features at an NHWC tensor (tf2onnx)', async () => {
  const g = await analyzeModel(tf2onnxCnn());
  const t = 'batch_normalization/add_1:0'; // [N, 6, 10, 5]
  const rand = seededRandom(5);
  const pixels = Float32Array.from({ length: 4 * 720 }, () => rand());
  const feeds = (idx: readonly number[]) => ({ 'input_1:0': { dtype: DataType.FLOAT, dims: [idx.length, 12, 20, 3], data: Float32Array.from(idx.flatMap((i) => [...pixels.subarray(i * 720, (i + 1) * 720)])) } });
  const data: Dataset = { name: 'noise', size: 4, classes: ['a'], labelled: true, label: () => 0, load: () => new Float32Array(0), feeds };

  it('pool H and W and keep the 5 channels on axis 3', async () => {
    const f = await extractFeatures(g, [t], data, [0, 1, 2, 3]);
    expect(f.channels).toEqual([5]);
    const cut = resolveCut(g, findCuts(g), t);
    const head = await createSession(splitModel(g, [cut]).parts[0]!.proto, g.model.dir);
    const x = (await run(head, feeds([0, 1, 2, 3])))[t]!.data as Float32Array;
    await head.release();
    for (let n = 0; n < 4; n++) {
      for (let c = 0; c < 5; c++) {
        let sum = 0;
        for (let p = 0; p < 60; p++) sum += x[(n * 60 + p) * 5 + c]!;
        expect(f.features[0]![n * 5 + c]).toBeCloseTo(sum / 60, 5);
      }
    }
  });

  it('size a linear branch by those channels and refuse a conv branch, which reads NCHW', () => {
    const shape = g.tensors.get(t)!.shape;
    expect(makeBranch({ kind: 'linear', hidden: 0 }, 'exit0', shape, 4, 1, undefined, tensorLayout(g, t)).input.dims).toEqual(['batch', 5]);
    expect(() => makeBranch({ kind: 'conv', hidden: 0 }, 'exit0', shape, 4, 1, undefined, tensorLayout(g, t))).toThrow(/needs an \[N, C, H, W\] cut tensor, got \[1,6,10,5\] with channels on axis 3/);
  });
});

describe('exit targets', () => {
  // y = mean over H, W of relu(x) [N, 4, 4, 4]: its top-1 class is the channel with the largest mean of relu(x)
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 4, 4, 4]);
  b.op('Flatten', [b.op('GlobalAveragePool', [b.op('Relu', ['x'], {}, { output: 'feat' })])], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 4]);
  const rand = seededRandom(9);
  const x = Float32Array.from({ length: 6 * 64 }, () => rand() - 0.5);
  const feeds = (idx: readonly number[]) => ({ x: { dtype: DataType.FLOAT, dims: [idx.length, 4, 4, 4], data: Float32Array.from(idx.flatMap((i) => [...x.subarray(i * 64, (i + 1) * 64)])) } });
  const unlabelled: Dataset = { name: 'unlabelled', size: 6, classes: [], labelled: false, label: () => { throw new Error('no labels'); }, load: () => new Float32Array(0), feeds };

  it("without labels are the full model's top-1 class of each sample (distillation)", async () => {
    const g = await analyzeModel(inMemoryModel(b.build(), 'gap'));
    const f = await extractFeatures(g, ['feat'], unlabelled, [5, 0, 3, 1, 4], { batchSize: 3 });
    const top = [5, 0, 3, 1, 4].map((i) => argmax([0, 1, 2, 3].map((c) => x.subarray(i * 64 + c * 16, i * 64 + (c + 1) * 16).reduce((s, v) => s + Math.max(0, v), 0))));
    expect(f.distilled).toBe(true);
    expect([...f.labels]).toEqual(top);
    expect(new Set(top).size).toBeGreaterThan(1); // the targets differ between samples: the check can fail
  });

  it('are refused in one line for an output that is not class scores [N, K] (a probability map)', async () => {
    const g = await analyzeModel(mapModel());
    const data: Dataset = { ...unlabelled, feeds: (idx) => ({ x: { dtype: DataType.FLOAT, dims: [idx.length, 3, 16, 16], data: new Float32Array(idx.length * 768) } }) };
    await expect(extractFeatures(g, ['feat'], data, [0])).rejects.toThrow(/exit branches are classifiers whose softmax confidence decides when a sample leaves early, and output 'map' \[1, 1, 16, 16\] is not class scores \[N, K\]/);
  });
});
