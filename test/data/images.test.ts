/** Decoding PNG and JPEG files: sizes read from the headers, and images too large to decode refused before decoding. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, declaredSize, encodeGrayPng, maxImagePixels } from '../../src/data/images.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-images-'));

/** A real 40x30 JPEG, and the offset of its start-of-frame height field. */
function smallJpeg(): { bytes: Buffer; sizeAt: number } {
  const bytes = Buffer.from(jpeg.encode({ data: new Uint8Array(40 * 30 * 4).fill(128), width: 40, height: 30 }, 90).data);
  return { bytes, sizeAt: bytes.indexOf(Buffer.from([0xff, 0xc0])) + 5 };
}

/** A small PNG whose IHDR declares `width` x `height` (its CRC no longer matches; the size is all a bomb needs). */
function pngDeclaring(width: number, height: number): Buffer {
  const bytes = encodeGrayPng(16, 16, new Uint8Array(256));
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  return bytes;
}

describe('image headers', () => {
  it('give the size the encoder wrote, for PNG and JPEG, without decoding', () => {
    expect(declaredSize(encodeGrayPng(37, 11, new Uint8Array(37 * 11)))).toEqual({ width: 37, height: 11 });
    expect(declaredSize(smallJpeg().bytes)).toEqual({ width: 40, height: 30 });
    expect(declaredSize(Buffer.from('not an image'))).toBeUndefined();
  });
});

describe('decoding images', () => {
  it('refuses a PNG declaring 16000x16000 pixels (1 GB decoded) before decoding it', () => {
    writeFileSync(join(dir, 'bomb.png'), pngDeclaring(16000, 16000));
    expect(() => decodeImage(join(dir, 'bomb.png'))).toThrow(expect.objectContaining({ code: 'DATASET', message: expect.stringMatching(/image '.*bomb\.png' declares 16000x16000 pixels, more than the limit of 64 megapixels/), hint: expect.stringMatching(/IMPERA_MAX_IMAGE_MEGAPIXELS/) }));
  });

  it('refuses a JPEG whose frame declares more pixels than the limit', () => {
    const { bytes, sizeAt } = smallJpeg();
    bytes.writeUInt16BE(16000, sizeAt);
    bytes.writeUInt16BE(16000, sizeAt + 2);
    writeFileSync(join(dir, 'bomb.jpg'), bytes);
    expect(() => decodeImage(join(dir, 'bomb.jpg'))).toThrow(/image '.*bomb\.jpg' declares 16000x16000 pixels, more than the limit of 64 megapixels/);
  });

  it('takes the limit from IMPERA_MAX_IMAGE_MEGAPIXELS, and decodes images within it', () => {
    expect(maxImagePixels({})).toBe(64e6);
    expect(maxImagePixels({ IMPERA_MAX_IMAGE_MEGAPIXELS: '0.001' })).toBe(1000);
    for (const bad of ['0', '-1', 'many', 'Infinity']) expect(() => maxImagePixels({ IMPERA_MAX_IMAGE_MEGAPIXELS: bad })).toThrow(/IMPERA_MAX_IMAGE_MEGAPIXELS is '.*', not a positive number/);
    writeFileSync(join(dir, 'small.png'), encodeGrayPng(40, 30, new Uint8Array(1200).fill(9)));
    expect(() => decodeImage(join(dir, 'small.png'), 1000)).toThrow(/declares 40x30 pixels, more than the limit of 0.001 megapixels/);
    expect(decodeImage(join(dir, 'small.png'), 1200)).toMatchObject({ width: 40, height: 30, channels: 1 });
    writeFileSync(join(dir, 'small.jpg'), smallJpeg().bytes);
    expect(decodeImage(join(dir, 'small.jpg'))).toMatchObject({ width: 40, height: 30 });
  });
});
