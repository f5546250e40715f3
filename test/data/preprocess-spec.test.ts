import { describe, expect, it } from 'vitest';
import { describePreprocess, parseCompactPreprocess, PRESETS, resolvePreprocess } from '../../src/data/preprocess-spec.js';

describe('preprocessing specs', () => {
  it('resolve the presets by name, and nothing to the zoo', () => {
    expect(resolvePreprocess('zoo')).toEqual(PRESETS.zoo);
    expect(resolvePreprocess('imagenet')).toEqual(PRESETS.imagenet);
    expect(resolvePreprocess(undefined)).toEqual(PRESETS.zoo);
    expect(describePreprocess(resolvePreprocess('imagenet'))).toBe('imagenet');
  });

  it('read the compact syntax: per-channel lists continue after their key, fractions are numbers', () => {
    const spec = resolvePreprocess('resize=pad,size=640x480,order=bgr,layout=nhwc,scale=1/255,mean=0.5,0.5,0.5,std=0.25,0.5,1,multiple=32,anchor=topleft,pad=-1,gray=strict');
    expect(spec).toEqual({ resize: 'pad', size: { width: 640, height: 480 }, multiple: 32, crop: 1, anchor: 'topleft', pad: -1, order: 'bgr', layout: 'nhwc', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1], gray: 'strict' });
    expect(parseCompactPreprocess('imagenet,order=bgr')).toEqual({ preset: 'imagenet', order: 'bgr' });
    expect(resolvePreprocess('imagenet,order=bgr')).toEqual({ ...PRESETS.imagenet, order: 'bgr' });
  });

  it('make a spec without a preset resize and convert colour (the zoo preset refuses both)', () => {
    expect(resolvePreprocess('mean=0.5,std=0.5')).toMatchObject({ resize: 'stretch', gray: 'convert', mean: [0.5], std: [0.5], scale: 1 / 255 });
    expect(resolvePreprocess('resize=none,mean=0.5')).toMatchObject({ resize: 'none' });
  });

  it("take a scenario's object through the same schema as the string", () => {
    expect(resolvePreprocess({ resize: 'crop', size: [224, 200], mean: [1, 2, 3], std: 2, crop: 0.875 }, 'data.preprocess')).toMatchObject({ resize: 'crop', size: { width: 224, height: 200 }, mean: [1, 2, 3], std: [2], crop: 0.875 });
    expect(() => resolvePreprocess({ order: 'grb' } as never, 'data.preprocess')).toThrow(/^data\.preprocess field 'order' \('grb'\) .*"rgb"/);
  });

  it('refuse an invalid spec with one line naming the bad field', () => {
    const cases: [string, RegExp][] = [
      ['order=brg', /^--preprocess field 'order' \('brg'\)/],
      ['size=640', /^--preprocess field 'size' \('640'\) must be widthxheight/],
      ['scale=abc', /^--preprocess field 'scale' \('abc'\) must be a number or a fraction/],
      ['std=0.5,0', /^--preprocess field 'std' .*must not be 0/],
      ['crop=1.5', /^--preprocess field 'crop' \('1.5'\) must be in \(0, 1\]/],
      ['colour=rgb', /^--preprocess has an unknown field 'colour'/],
      ['resize=pad,,order=rgb', /^--preprocess has an empty item/],
      ['order=rgb,bgr', /^--preprocess has 'bgr' without a KEY=/],
      ['order=rgb,order=bgr', /^--preprocess sets 'order' twice/],
      ['mean=1,2,3,std=1,2', /^--preprocess gives 3 means and 2 stds/],
    ];
    for (const [text, message] of cases) {
      expect(() => resolvePreprocess(text), text).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT', message: expect.stringMatching(message) }));
    }
  });
});
