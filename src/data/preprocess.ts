/** Turning gray images into model inputs: scale to [0, 1], bilinear resize as PyTorch does, replicate channels. */
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

export interface ImageInputOptions {
  /** Output height and width (default: the images' own size). */
  height?: number;
  width?: number;
  /** Output channels; the gray channel is copied into each (default 3). */
  channels?: number;
}

/** A float32 [n, channels, height, width] batch of images `indices`, in [0, 1]. */
export function grayToInput(images: GrayImages, indices: readonly number[], options: ImageInputOptions = {}): { data: Float32Array; dims: number[] } {
  const height = options.height ?? images.rows;
  const width = options.width ?? images.cols;
  const channels = options.channels ?? 3;
  const ty = bilinearTaps(images.rows, height);
  const tx = bilinearTaps(images.cols, width);
  const plane = height * width;
  const out = new Float32Array(indices.length * channels * plane);
  const px = images.pixels;
  indices.forEach((img, n) => {
    const base = img * images.rows * images.cols;
    const dst = n * channels * plane;
    for (let y = 0; y < height; y++) {
      const r0 = base + ty.lo[y]! * images.cols;
      const r1 = base + ty.hi[y]! * images.cols;
      const wy = ty.w[y]!;
      for (let x = 0; x < width; x++) {
        const [c0, c1, wx] = [tx.lo[x]!, tx.hi[x]!, tx.w[x]!];
        const top = (px[r0 + c0]! / 255) * (1 - wx) + (px[r0 + c1]! / 255) * wx;
        const bottom = (px[r1 + c0]! / 255) * (1 - wx) + (px[r1 + c1]! / 255) * wx;
        out[dst + y * width + x] = top * (1 - wy) + bottom * wy;
      }
    }
    for (let c = 1; c < channels; c++) out.copyWithin(dst + c * plane, dst, dst + plane);
  });
  return { data: out, dims: [indices.length, channels, height, width] };
}
