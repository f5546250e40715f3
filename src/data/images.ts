/** Decoding PNG and JPEG files (pngjs, jpeg-js) into 8-bit gray or RGB rasters. */
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ImperaError } from '../errors.js';
import type { RasterImage } from './preprocess.js';

export const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;

/** RGBA from the decoders -> gray when every pixel is gray (R = G = B), RGB otherwise. */
function fromRgba(rgba: Uint8Array, width: number, height: number): RasterImage {
  const n = width * height;
  let gray = true;
  for (let i = 0; i < n && gray; i++) gray = rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i] === rgba[4 * i + 2];
  const channels = gray ? 1 : 3;
  const pixels = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) pixels[i * channels + c] = rgba[4 * i + c]!;
  return { width, height, channels, pixels };
}

export function decodeImage(path: string): RasterImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new ImperaError('DATASET', `image '${path}' cannot be read`);
  }
  try {
    if (/\.png$/i.test(path)) {
      const png = PNG.sync.read(bytes);
      return fromRgba(png.data, png.width, png.height);
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return fromRgba(img.data, img.width, img.height);
  } catch (e) {
    throw new ImperaError('DATASET', `image '${path}' cannot be decoded (${(e as Error).message})`, 'PNG and JPEG files are supported');
  }
}

/** Encode an 8-bit gray raster as PNG (for the committed sample and for reports). */
export function encodeGrayPng(width: number, height: number, gray: Uint8Array): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(gray);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

function toRgba(img: RasterImage): Uint8Array {
  const n = img.width * img.height;
  const rgba = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = img.pixels[i * img.channels + (img.channels === 1 ? 0 : c)]!;
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

/** PNG of a gray or RGB raster (lossless). */
export function encodePng(img: RasterImage): Buffer {
  if (img.channels === 1) return encodeGrayPng(img.width, img.height, img.pixels);
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.pixels);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** JPEG at `quality` (1-100) and what a receiver decodes from it. */
export function jpegRoundTrip(img: RasterImage, quality: number): { bytes: number; decoded: RasterImage } {
  const encoded = jpeg.encode({ data: toRgba(img), width: img.width, height: img.height }, quality).data;
  const back = jpeg.decode(encoded, { useTArray: true, formatAsRGBA: true });
  const decoded = fromRgba(back.data, back.width, back.height);
  // a gray source decodes to gray channels that may differ by rounding: keep the receiver's view in gray
  return { bytes: encoded.length, decoded: img.channels === 1 && decoded.channels === 3 ? grayFromRgb(decoded) : decoded };
}

function grayFromRgb(img: RasterImage): RasterImage {
  const n = img.width * img.height;
  return { ...img, channels: 1, pixels: Uint8Array.from({ length: n }, (_, i) => img.pixels[3 * i]!) };
}
