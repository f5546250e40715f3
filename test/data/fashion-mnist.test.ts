import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { readIdx } from '../../src/data/idx.js';
import { grayToInput } from '../../src/data/preprocess.js';
import { ZOO } from '../helpers/models.js';

describe('Fashion-MNIST', () => {
  it('loads the Debian test split with its labels', () => {
    const test = loadFashionMnist('test');
    expect([test.count, test.rows, test.cols]).toEqual([10000, 28, 28]);
    expect(Array.from(test.labels.subarray(0, 8))).toEqual([9, 2, 1, 1, 6, 1, 4, 6]);
    expect(FASHION_MNIST_CLASSES[9]).toBe('Ankle boot');
  });

  it('preprocesses exactly as the zoo was trained (PyTorch bilinear 28 -> 224)', () => {
    const ref = readFileSync(join(ZOO, 'vgg16.ref_inputs.f32'));
    const expected = new Float32Array(ref.buffer, ref.byteOffset, ref.byteLength / 4);
    const x = grayToInput(loadFashionMnist('test', 8), [0, 1, 2, 3, 4, 5, 6, 7], { height: 224, width: 224, channels: 1 });
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i]! - x.data[i]!));
    expect(worst).toBeLessThan(1e-6);
  });

  it('copies the gray channel into three channels', () => {
    const x = grayToInput(loadFashionMnist('test', 1), [0], { height: 32, width: 48 });
    expect(x.dims).toEqual([1, 3, 32, 48]);
    expect(x.data.subarray(0, 32 * 48)).toEqual(x.data.subarray(2 * 32 * 48));
  });

  describe('when the dataset is missing or broken', () => {
    afterEach(() => {
      delete process.env.IMPERA_FASHION_MNIST;
    });
    it('says how to install it', () => {
      process.env.IMPERA_FASHION_MNIST = '/nowhere';
      expect(() => loadFashionMnist('test')).toThrow(/not installed at \/nowhere/);
    });
    it('rejects files that are not IDX', () => {
      const dir = mkdtempSync(join(tmpdir(), 'impera-idx-'));
      writeFileSync(join(dir, 'bad.gz'), gzipSync(Buffer.from('not idx')));
      expect(() => readIdx(join(dir, 'bad.gz'))).toThrow(/not an IDX file/);
    });
  });
});
