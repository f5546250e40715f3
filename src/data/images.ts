/** Decoding PNG and JPEG files (pngjs, jpeg-js) into 8-bit gray or RGB rasters. */
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ImperaError } from '../errors.js';
import type { RasterImage } from './preprocess.js';

export const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;

/** Megapixels decoded per image unless IMPERA_MAX_IMAGE_MEGAPIXELS says otherwise: a small file may declare a huge raster. */
export const DEFAULT_MAX_MEGAPIXELS = 64;

/** The most pixels one image may declare (IMPERA_MAX_IMAGE_MEGAPIXELS, default 64 megapixels). */
export function maxImagePixels(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.IMPERA_MAX_IMAGE_MEGAPIXELS;
  if (text === undefined) return DEFAULT_MAX_MEGAPIXELS * 1e6;
  const megapixels = Number(text);
  if (!(megapixels > 0) || !Number.isFinite(megapixels)) throw new ImperaError('BAD_ARGUMENT', `IMPERA_MAX_IMAGE_MEGAPIXELS is '${text}', not a positive number`, `unset it for the default of ${DEFAULT_MAX_MEGAPIXELS}`);
  return megapixels * 1e6;
}

/** The start-of-frame markers of JPEG (baseline, progressive, lossless, arithmetic): they carry the image size. */
const isStartOfFrame = (marker: number): boolean => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** The size a JPEG declares in its first start-of-frame segment, read without decoding. */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 2; at + 9 <= bytes.length; ) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (isStartOfFrame(marker)) return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

/** The size an image file declares in its header (PNG's IHDR, JPEG's start of frame), or undefined when it has none. */
export function declaredSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isPng = bytes.length >= 24 && bytes[0] === 0x89 && Buffer.from(bytes.subarray(12, 16)).toString('latin1') === 'IHDR';
  if (isPng) return { width: view.getUint32(16), height: view.getUint32(20) };
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes);
  return undefined;
}

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

/** Decode a PNG or JPEG file, refusing one that declares more than `maxPixels` before decoding it. */
export function decodeImage(path: string, maxPixels = maxImagePixels()): RasterImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new ImperaError('DATASET', `image '${path}' cannot be read`);
  }
  return decodeImageBytes(bytes, path, maxPixels);
}

/** Decode PNG or JPEG bytes (`source` names them in errors and says which format by its extension). */
export function decodeImageBytes(bytes: Buffer, source: string, maxPixels = maxImagePixels()): RasterImage {
  const size = declaredSize(bytes);
  if (size && size.width * size.height > maxPixels) {
    throw new ImperaError('DATASET', `image '${source}' declares ${size.width}x${size.height} pixels, more than the limit of ${maxPixels / 1e6} megapixels`, 'resize it, or raise IMPERA_MAX_IMAGE_MEGAPIXELS');
  }
  try {
    if (/\.png$/i.test(source)) {
      const png = PNG.sync.read(bytes);
      return fromRgba(png.data, png.width, png.height);
    }
    // jpeg-js checks the size of every frame it meets, not just the first one declaredSize reads
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels / 1e6 });
    return fromRgba(img.data, img.width, img.height);
  } catch (e) {
    throw new ImperaError('DATASET', `image '${source}' cannot be decoded (${(e as Error).message})`, 'PNG and JPEG files are supported');
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
