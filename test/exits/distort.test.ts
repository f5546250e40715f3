import { describe, expect, it } from 'vitest';
import { distorter, gaussianKernel, parseDistortions } from '../../src/exits/distort.js';
import { seededRandom } from '../../src/util/random.js';

const rand = seededRandom(5);
const image = Float32Array.from({ length: 2 * 3 * 16 * 16 }, () => rand());
const dims = [2, 3, 16, 16];
const mean = (x: Float32Array) => x.reduce((a, b) => a + b, 0) / x.length;
const variance = (x: Float32Array) => {
  const m = mean(x);
  return x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
};

describe('input distortions', () => {
  it('parses blur and noise levels and rejects anything else', () => {
    expect(parseDistortions('blur:1,3 noise:0.05')).toEqual([{ kind: 'blur', sigma: 1 }, { kind: 'blur', sigma: 3 }, { kind: 'noise', sigma: 0.05 }]);
    expect(() => parseDistortions('fog:2')).toThrow(/distortion 'fog:2' is not understood/);
    expect(() => parseDistortions('blur:-1')).toThrow(/must be a positive number/);
  });

  it('blurs with a normalised kernel: a constant image stays constant, detail (variance) drops with sigma', () => {
    expect(gaussianKernel(2).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const flat = new Float32Array(image.length).fill(0.4);
    distorter({ kind: 'blur', sigma: 2 })(flat, dims).forEach((v) => expect(v).toBeCloseTo(0.4, 6));
    const v = [1, 2, 4].map((sigma) => variance(distorter({ kind: 'blur', sigma })(image, dims)));
    expect(v[0]!).toBeLessThan(variance(image));
    expect(v[1]!).toBeLessThan(v[0]!);
    expect(v[2]!).toBeLessThan(v[1]!);
  });

  it('adds reproducible Gaussian noise of the given sigma, clipped to the input range', () => {
    const zeros = new Float32Array(200_000).fill(0.5);
    const a = distorter({ kind: 'noise', sigma: 0.1 }, 7)(zeros, [200_000]);
    expect(a).toEqual(distorter({ kind: 'noise', sigma: 0.1 }, 7)(zeros, [200_000]));
    expect(Math.sqrt(variance(a))).toBeCloseTo(0.1, 2);
    const clipped = distorter({ kind: 'noise', sigma: 2 }, 7)(zeros, [200_000]);
    expect(clipped.reduce((a, b) => Math.min(a, b), 1)).toBe(0);
    expect(clipped.reduce((a, b) => Math.max(a, b), 0)).toBe(1);
  });
});
