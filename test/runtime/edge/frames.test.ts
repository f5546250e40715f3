import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeGrayPng } from '../../../src/data/images.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { frameSource } from '../../../src/runtime/edge/frames.js';
import { encodeNpz } from '../../../src/data/npz.js';

describe('edge frames', () => {
  it('feed every input of a multi-input head from an .npz, one sample per frame, with its label', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'impera-frames-')), 'f.npz');
    writeFileSync(file, encodeNpz({
      ids: { dtype: DataType.INT64, dims: [2, 3], data: BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n]) },
      x: { dtype: DataType.FLOAT, dims: [2, 1], data: Float32Array.from([0.5, -0.5]) },
      labels: { dtype: DataType.INT64, dims: [2], data: BigInt64Array.from([1n, 0n]) },
    }));
    const source = frameSource(file, [{ name: 'ids', datatype: 'INT64', shape: [-1, 3] }, { name: 'x', datatype: 'FP32', shape: [-1, 1] }]);
    expect(source.size).toBe(2);
    // frames wrap around the samples
    expect(source.frame(3)).toEqual({ index: 3, label: 0, feeds: { ids: { dtype: DataType.INT64, dims: [1, 3], data: BigInt64Array.from([4n, 5n, 6n]) }, x: { dtype: DataType.FLOAT, dims: [1, 1], data: Float32Array.from([-0.5]) } } });
  });

  it('give unlabelled image files no label, preprocessed as asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-frames-'));
    writeFileSync(join(dir, 'a.png'), encodeGrayPng(2, 1, Uint8Array.from([0, 255])));
    const frame = frameSource(join(dir, 'a.png'), [{ name: 'img', datatype: 'FP32', shape: [-1, 1, 1, 2] }], { preprocess: 'mean=0.5,std=0.5' }).frame(0);
    expect(frame).toEqual({ index: 0, feeds: { img: { dtype: DataType.FLOAT, dims: [1, 1, 1, 2], data: Float32Array.from([-1, 1]) } } });
  });
});
