import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../src/data/dataset.js';
import { loadFashionMnist } from '../../src/data/fashion-mnist.js';
import { encodeGrayPng } from '../../src/data/images.js';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../src/data/npy.js';
import { DataType } from '../../src/onnx/dtype.js';
import { EXAMPLE_DATA } from '../../src/util/package.js';
import { PNG } from 'pngjs';

const spec = { channels: 3, height: 224, width: 224 };

describe('image folder datasets', () => {
  it('read the committed sample exactly as the IDX files (PNG is lossless, same resize)', () => {
    const folder = openDataset(EXAMPLE_DATA);
    expect(folder.size).toBe(200);
    expect(folder.classes[9]).toBe('9_Ankle-boot');
    // the first sample of class 9 is test image 0 (an ankle boot)
    const first9 = [...Array(folder.size).keys()].find((i) => folder.label(i) === 9)!;
    const fromFolder = folder.load([first9], spec);
    const fromIdx = openDataset('fashion-mnist').load([0], spec);
    expect(loadFashionMnist('test', 1).labels[0]).toBe(9);
    expect(fromFolder).toEqual(fromIdx);
  });

  function folderWith(images: Record<string, { w: number; h: number; rgb?: boolean }[]>): string {
    const dir = mkdtempSync(join(tmpdir(), 'impera-ds-'));
    for (const [cls, list] of Object.entries(images)) {
      mkdirSync(join(dir, cls));
      list.forEach(({ w, h, rgb }, i) => {
        if (!rgb) return writeFileSync(join(dir, cls, `${i}.png`), encodeGrayPng(w, h, new Uint8Array(w * h).fill(100 + i)));
        const png = new PNG({ width: w, height: h });
        for (let p = 0; p < w * h; p++) png.data.set([255, 0, 0, 255], 4 * p);
        writeFileSync(join(dir, cls, `${i}.png`), PNG.sync.write(png));
      });
    }
    return dir;
  }

  it('refuse images of the wrong size unless asked to resize', () => {
    const dir = folderWith({ a: [{ w: 32, h: 30 }] });
    expect(() => openDataset(dir).load([0], spec)).toThrow(/is 32x30, the model takes 224x224/);
    expect(openDataset(dir, { resize: true }).load([0], spec)).toHaveLength(3 * 224 * 224);
  });

  it('refuse colour images for a gray model unless asked to convert', () => {
    const dir = folderWith({ a: [{ w: 4, h: 4, rgb: true }] });
    expect(() => openDataset(dir).load([0], { channels: 1, height: 4, width: 4 })).toThrow(/is in colour, the model takes 1 channel/);
    const gray = openDataset(dir, { resize: true }).load([0], { channels: 1, height: 4, width: 4 });
    expect(gray[0]).toBeCloseTo(Math.round(0.299 * 255) / 255, 6);
  });

  it('say when the folder is missing or holds no images', () => {
    expect(() => openDataset('/no/such/folder')).toThrow(/dataset folder '\/no\/such\/folder' does not exist/);
    const empty = mkdtempSync(join(tmpdir(), 'impera-empty-'));
    mkdirSync(join(empty, 'cats'));
    expect(() => openDataset(empty)).toThrow(/has no images/);
  });

  it("refuse a dataset.json that is not valid or not an object with one line naming it", () => {
    const dir = folderWith({ a: [{ w: 4, h: 4 }] });
    const withDescription = (text: string) => (writeFileSync(join(dir, 'dataset.json'), text), () => openDataset(dir));
    expect(withDescription('null')).toThrow(expect.objectContaining({ code: 'DATASET', message: expect.stringMatching(/dataset\.json' line 1: \(top level\): .*expected object/) }));
    expect(withDescription('[1, 2]')).toThrow(/dataset\.json' line 1: \(top level\): .*expected object/);
    expect(withDescription('{"preprocess": ')).toThrow(/dataset\.json' is not valid JSON/);
    expect(withDescription('{"resize": "yes"}')).toThrow(/dataset\.json' line 1: resize: .*expected boolean/);
    expect(withDescription('{"preprocess": "bicubic"}')).toThrow(/dataset\.json' line 1: preprocess: must be one of "zoo", "imagenet"/);
    expect(withDescription('{"preprocess": "imagenet"}')().size).toBe(1);
  });

  it('normalise as ImageNet models expect (shorter side, centre crop, mean/std)', () => {
    const dir = folderWith({ a: [{ w: 300, h: 200 }] });
    const x = openDataset(dir, { preprocess: 'imagenet' }).load([0], spec);
    expect(x[0]).toBeCloseTo((100 / 255 - 0.485) / 0.229, 4);
    expect(x[2 * 224 * 224]).toBeCloseTo((100 / 255 - 0.406) / 0.225, 4);
  });
});

describe('.npy files', () => {
  it('round-trip float32 and int64 arrays', () => {
    const f = { dtype: DataType.FLOAT, dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) };
    expect(decodeNpy(encodeNpy(f))).toEqual(f);
    const i = { dtype: DataType.INT64, dims: [3], data: BigInt64Array.from([1n, -2n, 3n]) };
    expect(decodeNpy(encodeNpy(i))).toEqual(i);
    expect((encodeNpy(f).length - 24) % 64).toBe(0); // header padded to 64 bytes
  });

  it('reject files that are not .npy or are cut short', () => {
    expect(() => decodeNpy(new TextEncoder().encode('hello'), 'x.npy')).toThrow(/'x.npy' is not a .npy file/);
    const bytes = encodeNpy({ dtype: DataType.FLOAT, dims: [4], data: new Float32Array(4) });
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 4), 'short.npy')).toThrow(/truncated/);
  });

  it('read the data after the header when the bytes are a view into a larger buffer (a Buffer from readFileSync)', () => {
    const f = { dtype: DataType.FLOAT, dims: [2, 2], data: Float32Array.from([1.5, -2, 3, 4]) };
    const inside = Buffer.concat([Buffer.alloc(24, 7), Buffer.from(encodeNpy(f))]).subarray(24);
    expect(decodeNpy(inside)).toEqual(f);
    const dir = mkdtempSync(join(tmpdir(), 'impera-npy-'));
    writeNpy(join(dir, 'x.npy'), f);
    expect(readNpy(join(dir, 'x.npy'))).toEqual(f);
  });

  /** A .npy v1.0 file with `header` as its header text and `data` bytes after it. */
  const withHeader = (header: string, data = 16): Uint8Array => {
    const text = Buffer.from(header, 'latin1');
    return Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length & 0xff, text.length >> 8, ...text, ...new Uint8Array(data)]);
  };

  it('reject negative, NaN, fractional and huge dimensions with one line naming the shape', () => {
    for (const shape of ['(-1, 4)', '(nan,)', '(1.5, 2)', '(2, x)', '(99999999999, 99999999999)']) {
      const run = () => decodeNpy(withHeader(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`), 'bad.npy');
      expect(run).toThrow(expect.objectContaining({ name: 'ImperaError', message: expect.stringMatching(/^'bad\.npy' has shape \(.*\): (every dimension must be a non-negative integer|too many elements)$/) }));
    }
    expect(decodeNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 0)).dims).toEqual([0, 3]);
  });

  it('reject a header length past the end of the file, an unknown version or a header without descr and shape', () => {
    const good = withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }");
    const claimsMore = Uint8Array.from(good);
    claimsMore.set([0xff, 0x7f], 8);
    expect(() => decodeNpy(claimsMore, 'long.npy')).toThrow(/^'long\.npy' is truncated: its header claims 32767 bytes but the file has \d+ after the header length$/);
    const v9 = Uint8Array.from(good);
    v9[6] = 9;
    expect(() => decodeNpy(v9, 'v9.npy')).toThrow(/'v9\.npy' is \.npy format version 9; impera reads versions 1 to 3/);
    expect(() => decodeNpy(withHeader('{}'), 'empty.npy')).toThrow(/'empty\.npy' has a \.npy header without 'descr' and 'shape'/);
    expect(() => decodeNpy(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }"), 'be.npy')).toThrow(/'be\.npy' holds >f4; impera reads/);
  });
});
