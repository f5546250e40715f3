/**
 * Turning images into model inputs. Two pipelines: the zoo's (scale to [0, 1], bilinear resize as PyTorch's
 * F.interpolate(align_corners=False) without antialiasing, gray copied to every channel) and ImageNet's (resize the
 * shorter side, centre crop, normalise with mean/std).
 */
import type { GrayImages } from './fashion-mnist.js';

interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  w: Float32Array;
}

/** Source taps of PyTorch's bilinear interpolation with align_corners=False and no antialiasing. */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const w = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    lo[o] = i0;
    hi[o] = Math.min(i0 + 1, inSize - 1);
    w[o] = src - i0;
  }
  return { lo, hi, w };
}

/** Resize one plane (row-major h x w, values read through `at`) into `out` at `offset`. */
export function resizeBilinear(at: (i: number) => number, h: number, w: number, outH: number, outW: number, out: Float32Array, offset = 0): void {
  const ty = bilinearTaps(h, outH);
  const tx = bilinearTaps(w, outW);
  for (let y = 0; y < outH; y++) {
    const r0 = ty.lo[y]! * w;
    const r1 = ty.hi[y]! * w;
    const wy = ty.w[y]!;
    for (let x = 0; x < outW; x++) {
      const [c0, c1, wx] = [tx.lo[x]!, tx.hi[x]!, tx.w[x]!];
      const top = at(r0 + c0) * (1 - wx) + at(r0 + c1) * wx;
      const bottom = at(r1 + c0) * (1 - wx) + at(r1 + c1) * wx;
      out[offset + y * outW + x] = top * (1 - wy) + bottom * wy;
    }
  }
}

export interface ImageInputOptions {
  /** Output height and width (default: the images' own size). */
  height?: number;
  width?: number;
  /** Output channels; the gray channel is copied into each (default 3). */
  channels?: number;
}

/** A float32 [n, channels, height, width] batch of gray images `indices`, in [0, 1] (the zoo's preprocessing). */
export function grayToInput(images: GrayImages, indices: readonly number[], options: ImageInputOptions = {}): { data: Float32Array; dims: number[] } {
  const height = options.height ?? images.rows;
  const width = options.width ?? images.cols;
  const channels = options.channels ?? 3;
  const plane = height * width;
  const out = new Float32Array(indices.length * channels * plane);
  const px = images.pixels;
  indices.forEach((img, n) => {
    const base = img * images.rows * images.cols;
    const dst = n * channels * plane;
    resizeBilinear((i) => px[base + i]! / 255, images.rows, images.cols, height, width, out, dst);
    for (let c = 1; c < channels; c++) out.copyWithin(dst + c * plane, dst, dst + plane);
  });
  return { data: out, dims: [indices.length, channels, height, width] };
}

/** An 8-bit image with 1 (gray) or 3 (RGB) interleaved channels. */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
}

export interface Normalisation {
  mean: readonly number[];
  std: readonly number[];
}

export const IMAGENET: Normalisation = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * Write `img` as [channels, outH, outW] floats at `offset`: resized bilinearly (or cropped after resizing the
 * shorter side to `shorter`), gray copied to every channel, scaled to [0, 1] and optionally normalised.
 */
export function rasterToInput(img: RasterImage, channels: number, outH: number, outW: number, out: Float32Array, offset: number, opts: { shorter?: number; norm?: Normalisation } = {}): void {
  const plane = outH * outW;
  // resize target before cropping: the whole image, or the shorter side to `shorter` keeping the aspect ratio
  const scale = opts.shorter ? opts.shorter / Math.min(img.width, img.height) : 0;
  const [rh, rw] = opts.shorter ? [Math.round(img.height * scale), Math.round(img.width * scale)] : [outH, outW];
  const [top, left] = [Math.floor((rh - outH) / 2), Math.floor((rw - outW) / 2)];
  const resized = new Float32Array(rh * rw);
  for (let c = 0; c < channels; c++) {
    const src = img.channels === 1 ? 0 : c;
    resizeBilinear((i) => img.pixels[i * img.channels + src]! / 255, img.height, img.width, rh, rw, resized);
    const mean = opts.norm?.mean[c] ?? 0;
    const std = opts.norm?.std[c] ?? 1;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) out[offset + c * plane + y * outW + x] = (resized[(y + top) * rw + x + left]! - mean) / std;
    }
  }
}
