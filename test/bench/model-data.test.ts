/**
 * bench:models' data files: the .npz writer against NumPy's own reader (names, shapes, dtypes, values, a 0-d
 * int64 scalar), and the text pages it renders (light paper, some dark ink, a 180-degree turn that is its own inverse).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gaussianArray, rotated180, textPage } from '../../bench/model-data.js';
import { encodeNpz } from '../../src/data/npz.js';
import { DataType } from '../../src/onnx/dtype.js';

const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
const noNumpy = numpy.status === 0 ? undefined : `python3 with numpy is needed to read the .npz back (${numpy.error?.message ?? numpy.stderr.trim()})`;

describe.skipIf(noNumpy !== undefined)(`encodeNpz is read by numpy.load${noNumpy ? ` (skipped: ${noNumpy})` : ''}`, () => {
  it('gives back every array with its name, shape, dtype and values', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'impera-npz-')), 'a.npz');
    const input = gaussianArray([2, 3], 7);
    writeFileSync(file, encodeNpz({ input, 'onnx::Flatten_0': gaussianArray([1, 2, 2], 8), sr: { dtype: DataType.INT64, dims: [], data: BigInt64Array.of(16000n) } }));
    const script = 'import numpy as np, json, sys; z = np.load(sys.argv[1]); print(json.dumps({k: [list(z[k].shape), str(z[k].dtype), z[k].ravel().tolist()] for k in z.files}))';
    const r = spawnSync('python3', ['-c', script, file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const arrays = JSON.parse(r.stdout) as Record<string, [number[], string, number[]]>;
    expect(Object.keys(arrays)).toEqual(['input', 'onnx::Flatten_0', 'sr']);
    expect(arrays.input!.slice(0, 2)).toEqual([[2, 3], 'float32']);
    expect(arrays.input![2]).toEqual(Array.from(input.data as Float32Array));
    expect(arrays['onnx::Flatten_0']![0]).toEqual([1, 2, 2]);
    expect(arrays.sr).toEqual([[], 'int64', [16000]]);
  });
});

describe('textPage', () => {
  const page = textPage(64, 48, 3);
  const gray = Array.from({ length: 64 * 48 }, (_, i) => page[i * 4]!);

  it('is light paper with dark strokes covering some, not most, of it', () => {
    const ink = gray.filter((v) => v < 100).length / gray.length;
    expect(ink).toBeGreaterThan(0.03);
    expect(ink).toBeLessThan(0.5);
    expect(gray.filter((v) => v > 200).length / gray.length).toBeGreaterThan(0.5);
  });

  it('is the same for the same seed, and turned twice by 180 degrees is itself', () => {
    expect(textPage(64, 48, 3)).toEqual(page);
    expect(textPage(64, 48, 4)).not.toEqual(page);
    expect(rotated180(rotated180(page))).toEqual(page);
    expect(rotated180(page)).not.toEqual(page);
  });
});
