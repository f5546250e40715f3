/**
 * Exit features: global average pooling over the positions of the cut tensor's own layout, so an NHWC tensor of a
 * tf2onnx export pools H and W and keeps its channels (checked against the mean computed here from the head's output).
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
import { tf2onnxCnn } from '../helpers/models.js';

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
