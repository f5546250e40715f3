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
