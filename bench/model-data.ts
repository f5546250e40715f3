/**
 * Small synthetic data for bench:models, made from a seed so every run feeds the same inputs: text-like images
 * (dark glyph strokes in lines on a light page, as OCR models see them), speech-like audio (voiced bursts of a few
 * harmonics under a syllable envelope, over noise), and .npy/.npz files as NumPy's `np.save`/`np.savez` write them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { DataType } from '../src/onnx/dtype.js';
import type { Tensor } from '../src/onnx/tensor.js';
import { gaussian, seededRandom } from '../src/util/random.js';

/** An RGB page of `width` x `height`: light paper, lines of dark glyph-sized strokes. RGBA bytes, row-major. */
export function textPage(width: number, height: number, seed: number): Uint8Array {
  const rand = seededRandom(seed);
  const px = new Uint8Array(width * height * 4);
  const paper = 215 + Math.floor(rand() * 40);
  for (let i = 0; i < width * height; i++) {
    const v = Math.min(255, paper + Math.round(gaussian(rand) * 4));
    px.set([v, v, v, 255], i * 4);
  }
  const ink = [Math.floor(rand() * 60), Math.floor(rand() * 60), Math.floor(rand() * 90)];
  const glyph = Math.max(6, Math.round(height / (2 + rand() * 3))); // text height of this page
  const stroke = Math.max(1, Math.round(glyph / 7));
  const paint = (x0: number, y0: number, w: number, h: number) => {
    for (let y = y0; y < Math.min(height, y0 + h); y++) for (let x = x0; x < Math.min(width, x0 + w); x++) px.set(ink, (y * width + x) * 4);
  };
  for (let top = Math.floor(rand() * glyph * 0.5) + 2; top + glyph < height - 2; top += Math.round(glyph * (1.4 + rand() * 0.6))) {
    const end = width - 2 - Math.floor(rand() * width * 0.3);
    const cell = Math.max(3, Math.round(glyph * 0.6));
    for (let x = 2 + Math.floor(rand() * width * 0.2); x + cell < end; x += cell + 1 + (rand() < 0.18 ? cell : 0)) {
      // a glyph: two to four strokes, vertical (left, middle, right) or horizontal (top, middle, bottom)
      for (let k = 2 + Math.floor(rand() * 3); k > 0; k--) {
        const at = Math.floor(rand() * 3) / 2;
        if (rand() < 0.55) paint(x + Math.round(at * (cell - stroke)), top, stroke, glyph);
        else paint(x, top + Math.round(at * (glyph - stroke)), cell, stroke);
      }
    }
  }
  return px;
}

/** The page turned by 180 degrees (what the PaddleOCR angle classifier tells apart). */
export function rotated180(px: Uint8Array): Uint8Array {
  const out = new Uint8Array(px.length);
  const n = px.length / 4;
  for (let i = 0; i < n; i++) out.set(px.subarray(i * 4, i * 4 + 4), (n - 1 - i) * 4);
  return out;
}

export function writePng(path: string, width: number, height: number, rgba: Uint8Array): void {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  writeFileSync(path, PNG.sync.write(png));
}

/** `count` text pages as PNG files page-00.png... in `dir` (an unlabelled image folder). */
export function writeTextImages(dir: string, count: number, width: number, height: number, seed: number): string {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) writePng(join(dir, `page-${String(i).padStart(2, '0')}.png`), width, height, textPage(width, height, seed + i));
  return dir;
}

/** A labelled folder for an orientation classifier: `0_upright/` and `1_rotated-180/`, `count` pages each. */
export function writeOrientationImages(dir: string, count: number, width: number, height: number, seed: number): string {
  for (const [cls, turn] of [['0_upright', false], ['1_rotated-180', true]] as const) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < count; i++) {
      const page = textPage(width, height, seed + i);
      writePng(join(dir, cls, `line-${i}.png`), width, height, turn ? rotated180(page) : page);
    }
  }
  return dir;
}

/** `count` chunks of `length` samples at `rate` Hz: voiced bursts (120-220 Hz and 3 harmonics) in noise, in [-1, 1]. */
export function speechChunks(count: number, length: number, rate: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(count * length);
  for (let c = 0; c < count; c++) {
    const voiced = c % 3 !== 2; // every third chunk is noise only, so a VAD has both kinds
    const f0 = 120 + rand() * 100;
    const phase = rand() * 2 * Math.PI;
    for (let i = 0; i < length; i++) {
      const t = i / rate;
      const envelope = voiced ? Math.max(0, Math.sin(Math.PI * 4 * t + phase)) : 0; // syllables at 2 Hz
      let s = 0;
      for (let h = 1; h <= 4; h++) s += Math.sin(2 * Math.PI * f0 * h * t + h * phase) / h;
      out[c * length + i] = 0.3 * envelope * s + 0.01 * gaussian(rand);
    }
  }
  return out;
}

/** Seeded standard-normal values, `dims` as given (stand-ins for a feature extractor's outputs). */
export function gaussianArray(dims: readonly number[], seed: number, scale = 1): Tensor {
  const rand = seededRandom(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype: DataType.FLOAT, dims: [...dims], data: Float32Array.from({ length: n }, () => scale * gaussian(rand)) };
}

