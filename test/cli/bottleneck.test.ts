/** `impera bottleneck` as users run it: a small model trained on a labelled image folder, its outputs and its refusals. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveModel } from '../../src/onnx/io.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { labelledPngs } from '../helpers/images.js';
import { chain } from '../helpers/models.js';

function fixture(): { dir: string; model: string; images: string; common: string[] } {
  const dir = tmp();
  const model = join(dir, 'chain.onnx');
  saveModel(chain(), model);
  const images = join(dir, 'images');
  labelledPngs(images, 12);
  return { dir, model, images, common: ['--data', images, '--preprocess', 'resize=stretch,size=8x8,scale=1/255', '--batch-size', '4'] };
}

describe('impera bottleneck', () => {
  it('trains at the cut, reports quality and bytes, and writes the deployable pair and the model with the bottleneck', async () => {
    const f = fixture();
    const out = join(f.dir, 'out');
    const r = await impera('bottleneck', f.model, '--at', 'r1', ...f.common, '--epochs', '2', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.cut).toBe('r1');
    expect(report.design.latentShape).toEqual([1, 1, 2, 2]);
    expect(report.elementsRatio).toBe(1 / 64);
    // one folder of 24 images: 5 (20 %) held out for testing, never trained on
    expect(report.quality.samples).toBe(5);
    expect(report.trainSamples).toBeLessThanOrEqual(19);
    // 4 latent values of 8 bits against 256 float32 values
    expect(report.bytesPerSample).toBeLessThan(report.rawBytes / 20);
    for (const file of ['head.onnx', 'tail.onnx', 'codec.json', 'split.json', 'model.onnx', 'encoder.onnx', 'decoder.onnx', 'bottleneck.json']) expect(existsSync(join(out, file)), file).toBe(true);
    expect(existsSync(join(out, 'checkpoint.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'split.json'), 'utf8')).bottleneck).toBe('r1::latent');
    // the folder is a codec: eval measures it at its cut, and refuses it at another in one line
    const e = await impera('eval', f.model, '--cuts', 'r1', '--codecs', `learned:${out}`, ...f.common.slice(0, 4), '--samples', '8', '--json');
    expect(e.code, e.stderr).toBe(0);
    const codec = JSON.parse(e.stdout).cuts[0].codecs[0];
    expect(codec.codec).toBe(`learned:${out}`);
    expect(codec.bytes.mean).toBeLessThan(4 + 16);
    await expectOneLineError(['eval', f.model, '--cuts', 'r2', '--codecs', `learned:${out}`, ...f.common.slice(0, 4), '--samples', '8'], /codec 'learned:.*' was trained at tensor 'r1' and cannot run at 'r2'/);
  });

  it('refuses bad input in one line', async () => {
    const f = fixture();
    await expectOneLineError(['bottleneck', f.model, '--at', 'r1', ...f.common, '--ratio', '1/128'], /ratio 1\/128 does not fit the cut tensor \[1,4,8,8\].*ratios that fit: 1\/16, 1\/32, 1\/64/);
    await expectOneLineError(['bottleneck', f.model, '--at', 'r1', ...f.common, '--ratio', 'half'], /--ratio must be a fraction/);
    await expectOneLineError(['bottleneck', f.model, '--at', 'r1', ...f.common, '--out', join(f.dir, 'none'), '--resume'], /--resume: no checkpoint at/);
    await expectOneLineError(['bottleneck', f.model, '--at', 'r1', ...f.common, '--resume'], /--resume needs --out/);
    const out = join(f.dir, 'interrupted');
    await impera('bottleneck', f.model, '--at', 'r1', ...f.common, '--epochs', '1', '--out', out, '--json');
    writeFileSync(join(out, 'checkpoint.json'), '{}');
    await expectOneLineError(['bottleneck', f.model, '--at', 'r1', ...f.common, '--out', out], /holds the checkpoint of an interrupted training run/);
    await expectOneLineError(['bottleneck', f.model, '--at', 'r1', ...f.common, '--out', out, '--resume'], /written by another run/);
  });
});
