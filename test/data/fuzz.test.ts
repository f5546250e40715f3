/**
 * Property-based fuzzing of the binary readers (.npy, PNG, JPEG): thousands of malformed inputs, mutations of valid
 * files (truncations, byte flips, inserted bytes, random headers), each either read into consistent data or refused
 * with an ImperaError (what the CLI prints as one line); never a TypeError/RangeError (the CLI's "internal error").
 */
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImageBytes, encodeGrayPng, encodePng } from '../../src/data/images.js';
import { decodeNpy, encodeNpy } from '../../src/data/npy.js';
import { isImperaError } from '../../src/errors.js';
import { DataType, numel } from '../../src/onnx/dtype.js';

/** `read` either returns (then `check` holds) or throws an ImperaError. */
function readsOrRefuses<T>(read: () => T, check: (value: T) => void): void {
  let value: T;
  try {
    value = read();
  } catch (e) {
    if (!isImperaError(e)) throw new Error(`not an ImperaError: ${(e as Error).stack ?? String(e)}`);
    return;
  }
  check(value);
}

/** One mutation of `bytes`: cut short, bytes flipped, bytes inserted, or a range overwritten with random bytes. */
const mutated = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  valid.chain((bytes) =>
    fc.oneof(
      fc.nat({ max: bytes.length }).map((n) => bytes.slice(0, n)),
      fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
        const out = bytes.slice();
        for (const [at, x] of flips) out[at]! ^= x;
        return out;
      }),
      fc.tuple(fc.nat({ max: bytes.length }), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, extra]) => Uint8Array.from([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)])),
      fc.tuple(fc.nat({ max: bytes.length }), fc.uint8Array({ minLength: 1, maxLength: 32 })).map(([at, noise]) => {
        const out = bytes.slice();
        out.set(noise.subarray(0, out.length - at), at);
        return out;
      }),
    ),
  );

const validNpy = fc
  .tuple(fc.constantFrom(DataType.FLOAT, DataType.DOUBLE, DataType.INT32, DataType.UINT8, DataType.INT64), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .map(([dtype, dims]) => {
    const n = numel(dims);
    const data = dtype === DataType.FLOAT ? new Float32Array(n) : dtype === DataType.DOUBLE ? new Float64Array(n) : dtype === DataType.INT32 ? new Int32Array(n) : dtype === DataType.INT64 ? new BigInt64Array(n) : new Uint8Array(n);
    return encodeNpy({ dtype, dims, data });
  });

/** A .npy v1.0 file around a header assembled from plausible and hostile pieces. */
const randomHeaderNpy = fc
  .tuple(
    fc.constantFrom("'<f4'", "'<f8'", "'|u1'", "'>f4'", "'<c8'", "'O'", "''", '<f4', "'<f4"),
    fc.constantFrom('False', 'True', '0', ''),
    fc.array(fc.constantFrom('0', '1', '3', '-1', 'nan', '1.5', '1e3', '99999999999999999999', '', ' ', 'x', '()', '2L'), { maxLength: 4 }),
    fc.nat({ max: 64 }),
  )
  .map(([descr, fortran, dims, data]) => {
    const header = Buffer.from(`{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': (${dims.join(', ')}), }\n`, 'latin1');
    return Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8, ...header, ...new Uint8Array(data)]);
  });

const rgb = (w: number, h: number) => ({ width: w, height: h, channels: 3 as const, pixels: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256) });
const validPng = fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.boolean()).map(([w, h, color]) => new Uint8Array(color ? encodePng(rgb(w, h)) : encodeGrayPng(w, h, new Uint8Array(w * h).fill(w * h))));
// jpeg-js builds its encoder tables on every call (~0.1 s): encode a few valid files once
const jpegs = [[1, 1, 50], [8, 8, 90], [13, 7, 10], [24, 17, 75], [16, 24, 95]].map(([w, h, q]) => {
  const rgba = Uint8Array.from({ length: w! * h! * 4 }, (_, i) => (i * 53) % 256);
  return new Uint8Array(jpeg.encode({ data: rgba, width: w!, height: h! }, q).data);
});
const validJpeg = fc.constantFrom(...jpegs);

const MAX_PIXELS = 4096; // keeps each case small: a flipped header byte may declare a large image

describe('fuzzing the .npy reader', () => {
  it('reads or refuses with an ImperaError every mutation of a valid file and every hostile header', () => {
    fc.assert(
      fc.property(fc.oneof(mutated(validNpy), randomHeaderNpy, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        readsOrRefuses(
          () => decodeNpy(bytes, 'fuzz.npy'),
          (t) => {
            expect(t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true);
            expect(t.data.length).toBe(numel(t.dims));
          },
        );
      }),
      { numRuns: 4000, seed: 14 },
    );
  });
});

describe('fuzzing the image decoders', () => {
  for (const [format, valid, name] of [
    ['PNG', validPng, 'fuzz.png'],
    ['JPEG', validJpeg, 'fuzz.jpg'],
  ] as const) {
    it(`decodes or refuses with an ImperaError every mutation of a valid ${format} file`, () => {
      fc.assert(
        fc.property(fc.oneof(mutated(valid), fc.uint8Array({ maxLength: 64 })), (bytes) => {
          readsOrRefuses(
            () => decodeImageBytes(Buffer.from(bytes), name, MAX_PIXELS),
            (img) => {
              expect(img.width * img.height).toBeLessThanOrEqual(MAX_PIXELS);
              expect(img.pixels.length).toBe(img.width * img.height * img.channels);
            },
          );
        }),
        { numRuns: 2000, seed: 14 },
      );
    });
  }
});
