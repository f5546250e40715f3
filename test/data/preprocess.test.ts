import { describe, expect, it } from 'vitest';
import { imageTarget, imageToInput, type ImageTarget, type RasterImage } from '../../src/data/preprocess.js';
import { resolvePreprocess } from '../../src/data/preprocess-spec.js';

/** A w x h RGB raster from per-pixel [r, g, b] triples, row-major. */
const rgb = (w: number, h: number, px: number[][]): RasterImage => ({ width: w, height: h, channels: 3, pixels: Uint8Array.from(px.flat()) });
const gray = (w: number, h: number, px: number[]): RasterImage => ({ width: w, height: h, channels: 1, pixels: Uint8Array.from(px) });

function run(img: RasterImage, spec: string, target: Partial<ImageTarget> & { height: number; width: number }): number[] {
  const t: ImageTarget = { channels: 3, layout: 'nchw', ...target };
  const out = new Float32Array(t.channels * t.height * t.width);
  imageToInput(img, resolvePreprocess(spec), t, out, 0, 'a.png');
  return Array.from(out);
}

// a 2x2 image: red, green / blue, white
const image = rgb(2, 2, [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]);

describe('the image pipeline', () => {
  it('computes (x/255 - 0.5)/0.5 per channel in RGB order, NCHW', () => {
    const out = run(image, 'resize=none,mean=0.5,std=0.5', { height: 2, width: 2 });
    // R plane, G plane, B plane, each row-major
    expect(out).toEqual([1, -1, -1, 1, -1, 1, -1, 1, -1, -1, 1, 1]);
  });

  it('reverses the channels for BGR', () => {
    const out = run(image, 'resize=none,order=bgr', { height: 2, width: 2 });
    expect(out).toEqual([0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1]);
  });

  it('interleaves channels per pixel for NHWC, with per-channel mean and std', () => {
    const out = run(image, 'resize=none,layout=nhwc,scale=1,mean=10,20,30,std=1,2,5', { height: 2, width: 2, layout: 'nhwc' });
    expect(out).toEqual([245, -10, -6, -10, 117.5, -6, -10, -10, 45, 245, 117.5, 45]);
  });

  it('pads keeping the ratio: a 4x2 image in a 4x4 target sits on rows 1-2 (centred) or 0-1 (top-left)', () => {
    const wide = gray(4, 2, [1, 2, 3, 4, 5, 6, 7, 8]);
    const centre = run(wide, 'resize=pad,scale=1,pad=-1', { height: 4, width: 4, channels: 1 });
    expect(centre).toEqual([-1, -1, -1, -1, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1]);
    const topleft = run(wide, 'resize=pad,scale=1,pad=-1,anchor=topleft', { height: 4, width: 4, channels: 1 });
    expect(topleft).toEqual([1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1, -1, -1, -1, -1]);
    // a tall 1x2 image in 4x4 scales by 2 to 2x4 and sits in columns 1-2: columns 0 and 3 are padding
    const tall = run(gray(1, 2, [10, 20]), 'resize=pad,scale=1,pad=0', { height: 4, width: 4, channels: 1 });
    expect(tall.filter((_, i) => i % 4 === 0 || i % 4 === 3)).toEqual(new Array(8).fill(0));
  });

  it('crops the centre after resizing the shorter side to the target', () => {
    const wide = gray(4, 2, [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(run(wide, 'resize=crop,scale=1', { height: 2, width: 2, channels: 1 })).toEqual([2, 3, 6, 7]);
  });

  it("stretches with PyTorch's bilinear taps (align_corners=False): 2 -> 4 is a, a/4*3+b/4, a/4+b/4*3, b", () => {
    const out = run(gray(2, 1, [0, 200]), 'resize=stretch,scale=1', { height: 1, width: 4, channels: 1 });
    expect(out).toEqual([0, 50, 150, 200]);
  });

  it('copies gray into every channel and turns colour into luma for a 1-channel model, unless strict', () => {
    expect(run(gray(1, 1, [51]), 'resize=none', { height: 1, width: 1 })).toEqual([0.2, 0.2, 0.2].map((v) => Math.fround(v)));
    expect(run(rgb(1, 1, [[255, 0, 0]]), 'resize=none,scale=1', { height: 1, width: 1, channels: 1 })).toEqual([Math.round(0.299 * 255)]);
    expect(() => run(gray(1, 1, [51]), 'resize=none,gray=strict', { height: 1, width: 1 })).toThrow(/image 'a\.png' is gray, the model takes 3 channels/);
    expect(() => run(rgb(1, 1, [[1, 2, 3]]), 'zoo', { height: 1, width: 1, channels: 1 })).toThrow(/image 'a\.png' is in colour, the model takes 1 channel/);
  });

  it('refuses an image of another size when nothing resizes, naming the file, both sizes and the flag', () => {
    expect(() => run(image, 'zoo', { height: 3, width: 2 })).toThrow(expect.objectContaining({ code: 'DATASET', message: "image 'a.png' is 2x2, the model takes 2x3", hint: expect.stringMatching(/--resize, or --preprocess resize=stretch\|pad\|crop/) }));
  });
});

describe('the target of an image input', () => {
  const first = () => ({ width: 25, height: 10 });
  it("takes fixed dims from the model, dynamic ones from the first image (scaled by the fixed one's ratio), rounded up", () => {
    expect(imageTarget('x', [-1, 3, 48, -1], resolvePreprocess('resize=pad,multiple=32'), first)).toEqual({ channels: 3, height: 48, width: 128, layout: 'nchw' });
    expect(imageTarget('x', [-1, 3, -1, -1], resolvePreprocess('resize=stretch,multiple=32'), first)).toEqual({ channels: 3, height: 32, width: 32, layout: 'nchw' });
    expect(imageTarget('x', [-1, -1, -1, 1], resolvePreprocess('layout=nhwc,resize=none'), first)).toEqual({ channels: 1, height: 10, width: 25, layout: 'nhwc' });
    expect(imageTarget('x', [-1, 3, -1, -1], resolvePreprocess('size=64x32'), first)).toEqual({ channels: 3, height: 32, width: 64, layout: 'nchw' });
  });

  it('refuses a size the model contradicts, inputs that are not images, and a mean per channel that does not fit', () => {
    expect(() => imageTarget('x', [-1, 3, 48, -1], resolvePreprocess('size=64x32'), first)).toThrow(/size is 64x32, but input 'x' fixes its height at 48/);
    expect(() => imageTarget('ids', [-1, 16], resolvePreprocess('zoo'), first)).toThrow(/input 'ids' is \[-1, 16\], not an image batch/);
    expect(() => imageTarget('x', [-1, 224, 224, 3], resolvePreprocess('zoo'), first)).toThrow(/as NCHW it has 224 channels.*/);
    expect(() => imageTarget('x', [-1, 1, 8, 8], resolvePreprocess('mean=1,2,3,std=1'), first)).toThrow(/gives 3 mean values, input 'x' has 1 channels/);
  });
});
