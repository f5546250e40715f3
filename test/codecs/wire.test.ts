import { describe, expect, it } from 'vitest';
import type { FittedCodec } from '../../src/codecs/fitted.js';
import { parseCodec } from '../../src/codecs/spec.js';
import { decodeWire, encodeWire, packBits, packWire, unpackBits } from '../../src/codecs/wire.js';
import { seededRandom } from '../../src/util/random.js';

const codec = (spec: string, bits?: number, elements = 100): FittedCodec => ({
  spec: parseCodec(spec),
  paramBytes: 0,
  tensors: [{ tensor: 't', rank: 4, channelAxis: 1, wireElements: elements, ...(bits ? { quant: { bits, scale: new Float32Array(1), zeroPoint: new Float32Array(1) } } : {}) }],
});

describe('bit packing', () => {
  it('round-trips every width from 1 to 16 bits in ceil(n b / 8) bytes', () => {
    const rand = seededRandom(3);
    for (let bits = 1; bits <= 16; bits++) {
      const values = Array.from({ length: 37 }, () => Math.floor(rand() * 2 ** bits));
      const packed = packBits(values, bits);
      expect(packed.length).toBe(Math.ceil((37 * bits) / 8));
      expect(Array.from(unpackBits(packed, bits, 37))).toEqual(values);
    }
  });
});

describe('wire format', () => {
  it('frames, sparse-codes and entropy-codes, and decodes back exactly', () => {
    const rand = seededRandom(9);
    const codes = Uint8Array.from({ length: 100 }, () => (rand() < 0.7 ? 0 : Math.floor(rand() * 16)));
    for (const spec of ['int4', 'int4+sparse', 'int4+sparse+deflate', 'int4+brotli']) {
      const c = codec(spec, 4);
      const bytes = encodeWire(c, [codes]);
      expect(Array.from(decodeWire(c, bytes)[0] as Uint8Array)).toEqual(Array.from(codes));
    }
    // 100 4-bit codes: 50 bytes + a 1-byte length; sparse: a 13-byte bitmap + the non-zero codes
    expect(packWire(codec('int4', 4), [codes]).length).toBe(51);
    const nonzero = codes.filter((v) => v !== 0).length;
    expect(packWire(codec('int4+sparse', 4), [codes]).length).toBe(1 + 13 + Math.ceil((nonzero * 4) / 8));
  });

  it('carries a tensor that is not float32 as it is, beside a quantised one (a bool mask, int64 ids)', () => {
    const mask = Uint8Array.from([1, 0, 0, 1, 1]);
    const ids = BigInt64Array.from([7n, -2n, 40000000000n]);
    const codes = Uint8Array.from([3, 0, 15, 9]);
    const c: FittedCodec = {
      spec: parseCodec('int4+deflate'),
      paramBytes: 0,
      tensors: [
        { tensor: 'h', rank: 2, channelAxis: 1, wireElements: 4, quant: { bits: 4, scale: new Float32Array(1), zeroPoint: new Float32Array(1) } },
        { tensor: 'mask', rank: 2, channelAxis: -1, wireElements: 5, passthrough: 'bool' },
        { tensor: 'ids', rank: 2, channelAxis: -1, wireElements: 3, passthrough: 'int64' },
      ],
    };
    const [h, m, i] = decodeWire(c, encodeWire(c, [codes, mask, ids]));
    expect(Array.from(h as Uint8Array)).toEqual([3, 0, 15, 9]);
    expect(m).toBeInstanceOf(Uint8Array);
    expect(Array.from(m as Uint8Array)).toEqual([1, 0, 0, 1, 1]);
    expect(i).toEqual(ids);
    // 2 bytes of codes + 5 + 24 bytes as they are, each with a 1-byte length
    expect(packWire(c, [codes, mask, ids]).length).toBe(3 + 6 + 25);
    expect(() => decodeWire({ ...c, spec: parseCodec('int4'), tensors: [{ ...c.tensors[1]!, passthrough: 'string' }] }, Uint8Array.from([5, 1, 0, 0, 1, 1]))).toThrow(/element type string cannot cross the wire/);
  });

  it('carries float32 and float16 tensors as raw bytes', () => {
    const x = Float32Array.from([1.5, -2, 3.25]);
    const c = codec('fp32+deflate', undefined, 3);
    expect(Array.from(decodeWire(c, encodeWire(c, [x]))[0] as Float32Array)).toEqual([1.5, -2, 3.25]);
    expect(packWire(codec('fp32', undefined, 3), [x]).length).toBe(13);
  });

  it('says when bytes were lost', () => {
    const c = codec('int8', 8, 10);
    const bytes = encodeWire(c, [new Uint8Array(10).fill(3)]);
    expect(() => decodeWire(c, bytes.subarray(0, 5))).toThrow(/ends early/);
  });
});
