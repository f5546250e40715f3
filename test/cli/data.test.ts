/** The CLI's data options as users meet them: data deciding dynamic dims, --verify on the user's data, bad specs, no default for other models. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel, saveModel } from '../../src/onnx/io.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { chain, weights } from '../helpers/models.js';

/** x [batch, 3, h, w] -> conv -> relu -> conv: a fully convolutional model whose height and width the data decides. */
function convolutional(dir: string): string {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 'h', 'w']);
  const c1 = b.op('Conv', ['x', weights(b, 'w1', [4, 3, 3, 3], 1)], { pads: [1, 1, 1, 1] }, { output: 'c1' });
  const r = b.op('Relu', [c1], {}, { output: 'r' });
  b.op('Conv', [r, weights(b, 'w2', [1, 4, 1, 1], 2)], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 1, 'h', 'w']);
  const file = join(dir, 'fcn.onnx');
  saveModel(inMemoryModel(b.build(), 'fcn'), file);
  return file;
}

function pngs(dir: string, sizes: [number, number][]): void {
  sizes.forEach(([w, h], i) => {
    const png = new PNG({ width: w, height: h });
    for (let p = 0; p < w * h; p++) png.data.set([(p * 37) % 256, (p * 11) % 256, i * 50, 255], 4 * p);
    writeFileSync(join(dir, `img${i}.png`), PNG.sync.write(png));
  });
}

describe('impera split with --data', () => {
  it('analyses at the size the data gives, verifies on the data and names it in split.json', async () => {
    const dir = tmp();
    const model = convolutional(dir);
    const images = join(dir, 'images');
    mkdirSync(images);
    pngs(images, [[12, 8], [12, 8], [6, 4]]);
    const out = join(dir, 'parts');
    const r = await impera('split', model, '--at', 'r', '--out', out, '--verify', '--samples', '2', '--data', images, '--preprocess', 'mean=0.5,std=0.5,multiple=4', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8'));
    expect(manifest.verify.ok).toBe(true);
    expect(manifest.data).toEqual({ verify: `the first 2 samples of ${images}`, calibration: null });
    // the cut tensor at the data's size: 4 channels x 8 x 12
    expect(manifest.parts[0].outputs[0].shape).toEqual([1, 4, 8, 12]);
  }, 60_000);
});

describe('split --verify at a second resolution the user\'s data does not come at', () => {
  it('runs there on seeded random inputs, never on the built-in Fashion-MNIST images (a PyTorch U-Net with dynamic H and W fed a 64x64 .npz)', async () => {
    const fixtures = new URL('../fixtures/pytorch-models/', import.meta.url).pathname;
    const r = await impera('split', join(fixtures, 'unet.onnx'), '--input-shape', 'image=1,3,64,64', '--at', '5', '--out', join(tmp(), 'parts'), '--verify', '--samples', '2', '--data', join(fixtures, 'detector.npz'), '--json');
    expect(r.code).toBe(0);
    const reports = (JSON.parse(r.stdout) as { verify: { reports: { ok: boolean; shapes: Record<string, number[]>; source: string }[] } }).verify.reports;
    expect(reports.map((x) => [x.ok, x.shapes.image])).toEqual([[true, [2, 3, 64, 64]], [true, [2, 3, 96, 96]]]);
    expect(reports[0]!.source).toMatch(/^the first 2 samples of .*detector\.npz$/);
    expect(reports[1]!.source).toMatch(/^2 seeded random inputs \(uniform \[0, 1\) floats, zero integers\), as .*detector\.npz does not come at this size/);
  }, 60_000);
});

describe('bad data options, each one line', () => {
  it('an invalid --preprocess names the field', () => expectOneLineError(['split', '--at', '39', '--out', tmp(), '--data', tmp(), '--preprocess', 'resize=pad,order=brg'], /--preprocess field 'order' \('brg'\) invalid option/));

  it('no data for a model the built-in sample does not fit says what it takes and how to give data', async () => {
    const dir = tmp();
    saveModel(chain(), join(dir, 'chain.onnx'));
    await expectOneLineError(['saliency', join(dir, 'chain.onnx')], /no data given, and the built-in sample .* does not fit this model: it takes x \[\?, 3, 8, 8\] and outputs \[1, 5\]/);
  }, 60_000);

  it('a size that does not match, with no resize, names the file, both sizes and the flag', async () => {
    const dir = tmp();
    pngs(dir, [[5, 5]]);
    await expectOneLineError(['split', '--at', '39', '--out', tmp(), '--verify', '--data', dir], /image '.*img0\.png' is 5x5, the model takes 224x224/);
  }, 60_000);
});
