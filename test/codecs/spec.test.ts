import { describe, expect, it } from 'vitest';
import { isLossy, parseCodec } from '../../src/codecs/spec.js';

describe('parseCodec', () => {
  it('reads stages in order with their options', () => {
    expect(parseCodec('fp32')).toEqual({ name: 'fp32' });
    expect(parseCodec('int8')).toMatchObject({ quant: { bits: 8, granularity: 'channel' } });
    expect(parseCodec('int4:tensor:p99.9+brotli')).toMatchObject({ quant: { bits: 4, granularity: 'tensor', percentile: 99.9 }, entropy: 'brotli' });
    expect(parseCodec('pca:c/8+int8+sparse+deflate')).toMatchObject({ pca: { divisor: 8 }, quant: { bits: 8 }, sparse: true, entropy: 'deflate' });
    expect(parseCodec('pca:24+fp16')).toMatchObject({ pca: { k: 24 }, fp16: true });
    expect(isLossy(parseCodec('fp32+deflate'))).toBe(false);
    expect(isLossy(parseCodec('fp16'))).toBe(true);
  });

  it('names what is wrong with a codec', () => {
    expect(() => parseCodec('jpeg')).toThrow(/codec 'jpeg': unknown stage 'jpeg'/);
    expect(() => parseCodec('int0')).toThrow(/bit width 0 is outside 1-16/);
    expect(() => parseCodec('int17')).toThrow(/bit width 17 is outside 1-16/);
    expect(() => parseCodec('int8:fast')).toThrow(/unknown option 'fast'/);
    expect(() => parseCodec('deflate+int8')).toThrow(/out of place/);
    expect(() => parseCodec('sparse')).toThrow(/put an intN stage before it/);
    expect(() => parseCodec('pca:half')).toThrow(/pca takes k or c\/<d>/);
  });
});
