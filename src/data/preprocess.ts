/**
 * Turning images into model inputs: one pipeline driven by a `PreprocessSpec` (preprocess-spec.ts) — channels
 * matched, RGB or BGR, bilinear resize as PyTorch's F.interpolate(align_corners=False) without antialiasing
 * (stretched, padded keeping the ratio, or cropped after the shorter side), scale, mean/std, NCHW or NHWC — and the
 * zoo's reference path for Fashion-MNIST (`grayToInput`).
 */
import { ImperaError } from '../errors.js';
import type { GrayImages } from './fashion-mnist.js';
import { PRESETS, type PreprocessSpec } from './preprocess-spec.js';

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

export const IMAGENET: Normalisation = { mean: PRESETS.imagenet.mean, std: PRESETS.imagenet.std };

/** Where an image goes: the input's channels, height and width, and the order of its axes. */
export interface ImageTarget {
  channels: number;
  height: number;
  width: number;
  layout: PreprocessSpec['layout'];
}

/** Positions of channels, height and width in a batch-first 4-d image input. */
const AXES = { nchw: { c: 1, h: 2, w: 3 }, nhwc: { c: 3, h: 1, w: 2 } } as const;

const roundUp = (v: number, multiple: number): number => Math.max(multiple, Math.ceil(v / multiple) * multiple);

/**
 * The image an input of dims `dims` (batch first, -1 where the data decides) takes under `spec`: the spec's size,
 * else the model's fixed dims, and dynamic dims from the data's first image (scaled with the ratio when the other
 * dim is fixed and images are resized), rounded up to `spec.multiple`.
 */
export function imageTarget(name: string, dims: readonly number[], spec: PreprocessSpec, first: () => { width: number; height: number }): ImageTarget {
  const layout = spec.layout;
  if (dims.length !== 4) throw new ImperaError('DATASET', `input '${name}' is [${dims.join(', ')}], not an image batch [N, C, H, W] or [N, H, W, C]`, 'give its data as .npy or .npz arrays');
  const ax = AXES[layout];
  const channels = dims[ax.c]! > 0 ? dims[ax.c]! : 3;
  if (channels !== 1 && channels !== 3) {
    const other = layout === 'nchw' ? 'nhwc' : 'nchw';
    throw new ImperaError('DATASET', `input '${name}' is [${dims.join(', ')}]: as ${layout.toUpperCase()} it has ${channels} channels, images have 1 or 3`, `pass --preprocess layout=${other} if that is its layout, or give its data as .npy or .npz arrays`);
  }
  for (const [what, values] of [['mean', spec.mean], ['std', spec.std]] as const) {
    if (values.length > 1 && values.length !== channels) throw new ImperaError('BAD_ARGUMENT', `the preprocessing gives ${values.length} ${what} values, input '${name}' has ${channels} channels`, `give one ${what} value, or ${channels}`);
  }
  const [height, width] = [dims[ax.h]!, dims[ax.w]!];
  if (spec.size) {
    for (const [dim, side, given] of [[height, 'height', spec.size.height], [width, 'width', spec.size.width]] as const) {
      if (dim > 0 && dim !== given) throw new ImperaError('BAD_ARGUMENT', `the preprocessing's size is ${spec.size.width}x${spec.size.height}, but input '${name}' fixes its ${side} at ${dim}`, `drop size= or give the model's ${dims[ax.w]}x${dims[ax.h]}`);
    }
    return { channels, height: spec.size.height, width: spec.size.width, layout };
  }
  if (height > 0 && width > 0) return { channels, height, width, layout };
  const img = first();
  const keepRatio = spec.resize !== 'none';
  if (height <= 0 && width <= 0) return { channels, height: roundUp(img.height, spec.multiple), width: roundUp(img.width, spec.multiple), layout };
  if (height <= 0) return { channels, height: roundUp(keepRatio ? Math.round((img.height * width) / img.width) : img.height, spec.multiple), width, layout };
  return { channels, height, width: roundUp(keepRatio ? Math.round((img.width * height) / img.height) : img.width, spec.multiple), layout };
}

/** ITU-R 601 luma, as PIL's convert('L'). */
export function toGray(img: RasterImage): RasterImage {
  const n = img.width * img.height;
  const pixels = new Uint8Array(n);
  for (let i = 0; i < n; i++) pixels[i] = Math.round(0.299 * img.pixels[3 * i]! + 0.587 * img.pixels[3 * i + 1]! + 0.114 * img.pixels[3 * i + 2]!);
  return { ...img, channels: 1 as const, pixels };
}

/** The image's channels as the target takes them, or an error saying how to convert. */
function matchChannels(img: RasterImage, target: ImageTarget, spec: PreprocessSpec, source: string): RasterImage {
  if (img.channels === 3 && target.channels === 1) {
    if (spec.gray !== 'convert') throw new ImperaError('DATASET', `image '${source}' is in colour, the model takes 1 channel`, 'pass --resize (or --preprocess gray=convert) to convert images to gray');
    return toGray(img);
  }
  if (img.channels === 1 && target.channels === 3 && spec.gray === 'strict') throw new ImperaError('DATASET', `image '${source}' is gray, the model takes 3 channels`, 'pass --preprocess gray=copy to copy it into every channel');
  return img;
}

/** The resized image's size and its top-left corner in the target (negative: cropped), per the spec's resize. */
function placement(img: RasterImage, t: ImageTarget, spec: PreprocessSpec, source: string): { rh: number; rw: number; top: number; left: number } {
  const { height: H, width: W } = t;
  const [h, w] = [img.height, img.width];
  switch (spec.resize) {
    case 'none':
      if (h !== H || w !== W) throw new ImperaError('DATASET', `image '${source}' is ${w}x${h}, the model takes ${W}x${H}`, 'pass --resize, or --preprocess resize=stretch|pad|crop, to resize images to the model');
      return { rh: H, rw: W, top: 0, left: 0 };
    case 'stretch':
      return { rh: H, rw: W, top: 0, left: 0 };
    case 'pad': {
      const s = Math.min(H / h, W / w);
      const [rh, rw] = [Math.min(H, Math.max(1, Math.round(h * s))), Math.min(W, Math.max(1, Math.round(w * s)))];
      return spec.anchor === 'topleft' ? { rh, rw, top: 0, left: 0 } : { rh, rw, top: Math.floor((H - rh) / 2), left: Math.floor((W - rw) / 2) };
    }
    case 'crop': {
      // the shorter side resized to target / crop, as torchvision's Resize(256) + CenterCrop(224) at crop = 224/256
      const s = Math.max(Math.round(H / spec.crop) / h, Math.round(W / spec.crop) / w);
      const [rh, rw] = [Math.max(H, Math.round(h * s)), Math.max(W, Math.round(w * s))];
      return { rh, rw, top: -Math.floor((rh - H) / 2), left: -Math.floor((rw - W) / 2) };
    }
  }
}

/**
 * Write one image into `out` at `offset` as the target's [C, H, W] or [H, W, C] floats: channels matched (gray
 * copied, colour to luma, per `spec.gray`), put in `spec.order`, resized bilinearly per `spec.resize` (padding with
 * `spec.pad`), then pixel x scale, minus mean, over std. `source` names the image in errors.
 */
export function imageToInput(image: RasterImage, spec: PreprocessSpec, target: ImageTarget, out: Float32Array, offset: number, source = 'image'): void {
  const img = matchChannels(image, target, spec, source);
  const { rh, rw, top, left } = placement(img, target, spec, source);
  const { channels, height: H, width: W } = target;
  const plane = H * W;
  const resized = new Float32Array(rh * rw);
  const index = target.layout === 'nchw' ? (c: number, p: number) => offset + c * plane + p : (c: number, p: number) => offset + p * channels + c;
  for (let c = 0; c < channels; c++) {
    const src = img.channels === 1 ? 0 : spec.order === 'bgr' ? 2 - c : c;
    resizeBilinear((i) => img.pixels[i * img.channels + src]! * spec.scale, img.height, img.width, rh, rw, resized);
    const mean = spec.mean[spec.mean.length === 1 ? 0 : c]!;
    const std = spec.std[spec.std.length === 1 ? 0 : c]!;
    for (let y = 0; y < H; y++) {
      const sy = y - top;
      for (let x = 0; x < W; x++) {
        const sx = x - left;
        const inside = sy >= 0 && sy < rh && sx >= 0 && sx < rw;
        out[index(c, y * W + x)] = inside ? (resized[sy * rw + sx]! - mean) / std : spec.pad;
      }
    }
  }
}

/**
 * Write `img` as [channels, outH, outW] floats at `offset`: resized bilinearly (or cropped after resizing the
 * shorter side to `shorter`), gray copied to every channel, scaled to [0, 1] and optionally normalised.
 */
export function rasterToInput(img: RasterImage, channels: number, outH: number, outW: number, out: Float32Array, offset: number, opts: { shorter?: number; norm?: Normalisation } = {}): void {
  const spec: PreprocessSpec = {
    ...PRESETS.zoo,
    resize: opts.shorter ? 'crop' : 'stretch',
    crop: opts.shorter ? Math.max(outH, outW) / opts.shorter : 1,
    ...(opts.norm ? { mean: opts.norm.mean, std: opts.norm.std } : {}),
  };
  imageToInput(img, spec, { channels, height: outH, width: outW, layout: 'nchw' }, out, offset);
}
