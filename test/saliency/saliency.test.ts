import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph, TARGETS_INPUT } from '../../src/autodiff/backward.js';
import { openDataset } from '../../src/data/dataset.js';
import { encodeGrayPng } from '../../src/data/images.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { syntheticFeeds } from '../../src/graph/probe.js';
import { DataType } from '../../src/onnx/dtype.js';
import { loadModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';
import { CuiAccumulator, findPeaks } from '../../src/saliency/cui.js';
import { buildSaliencyModel } from '../../src/saliency/gradcam.js';
import { candidateLayers, runSaliency } from '../../src/saliency/dataset-saliency.js';
import { EXAMPLE_MODEL, PACKAGE_ROOT } from '../../src/util/package.js';
import { residual, tf2onnxCnn } from '../helpers/models.js';

describe('CUI', () => {
  it('averages maps over the images of a class subset', () => {
    const acc = new CuiAccumulator([{ tensor: 'a', shape: [1, 2], positions: 2 }], 3);
    acc.add([Float32Array.from([1, 3, 2, 2, 10, 10])], [0, 0, 2]);
    expect(acc.counts).toEqual([2, 0, 1]);
    expect(Array.from(acc.meanMap(0, [0]))).toEqual([1.5, 2.5]);
    expect(acc.curve([0])[0]!.cui).toBe(2); // |1.5 + 2.5| / 2
    expect(acc.curve()[0]!.cui).toBeCloseTo(28 / 3 / 2, 10); // all 3 images
  });

  it('finds local maxima and the global maximum along depth', () => {
    expect(findPeaks([1, 3, 2, 2, 5, 4, 4])).toEqual({ peaks: [1, 4], best: 4 });
    expect(findPeaks([-Infinity, 1, 1, 0])).toEqual({ peaks: [1], best: 1 });
  });
});

describe('Grad-CAM inside the graph', () => {
  it('equals ReLU(mean_k mean_ij(G_k) A_k) computed from activations and gradients', async () => {
    const g = await analyzeModel(residual());
    const feeds = syntheticFeeds(new Map([...g.inputShapes].map(([k, v]) => [k, { ...v, shape: [2, ...v.shape.slice(1)] }])), 4);
    const targets = { dtype: DataType.INT64, dims: [2], data: BigInt64Array.from([1n, 3n]) };
    const sal = buildSaliencyModel(g, ['a', 'out'], 'label');
    const bwd = buildBackwardGraph(g, { wrt: ['a'], keep: ['a'] });
    const [s1, s2] = [await createSession(sal.proto, '.'), await createSession(bwd.proto, '.')];
    const maps = await run(s1, { ...feeds, [TARGETS_INPUT]: targets });
    const raw = await run(s2, { ...feeds, [TARGETS_INPUT]: targets });
    const [A, G] = [raw.a!.data as Float32Array, raw['a::grad']!.data as Float32Array];
    const [C, P] = [4, 36];
    for (let n = 0; n < 2; n++) {
      const alpha = Array.from({ length: C }, (_, k) => G.subarray((n * C + k) * P, (n * C + k + 1) * P).reduce((s, v) => s + v, 0) / P);
      for (let p = 0; p < P; p++) {
        const m = Math.max(0, alpha.reduce((s, a, k) => s + a * A[(n * C + k) * P + p]!, 0) / C);
        expect((maps[sal.maps.get('a')!]!.data as Float32Array)[n * P + p]).toBeCloseTo(m, 5);
      }
    }
  });
});

describe('Grad-CAM at an NHWC tensor (tf2onnx)', () => {
  it('equals Grad-CAM at the same activations read NCHW before the transpose back', async () => {
    const g = await analyzeModel(tf2onnxCnn());
    const [nhwc, nchw] = ['conv2d/Relu:0', 'conv2d/Relu__nchw:0']; // [N, 6, 10, 5] and its [N, 5, 6, 10] source
    const sal = buildSaliencyModel(g, [nhwc, nchw], 'pred');
    const feeds = syntheticFeeds(new Map([...g.inputShapes].map(([k, v]) => [k, { ...v, shape: [3, ...v.shape.slice(1)] }])), 7);
    const session = await createSession(sal.proto, '.');
    const out = await run(session, { ...feeds, [TARGETS_INPUT]: { dtype: DataType.INT64, dims: [3], data: new BigInt64Array(3) } });
    const [a, b] = [out[sal.maps.get(nhwc)!]!, out[sal.maps.get(nchw)!]!];
    expect(a.dims).toEqual([3, 6, 10]);
    expect(b.dims).toEqual([3, 6, 10]);
    const [x, y] = [a.data as Float32Array, b.data as Float32Array];
    expect(Math.max(...y)).toBeGreaterThan(0);
    for (let i = 0; i < x.length; i++) expect(x[i]).toBeCloseTo(y[i]!, 6);
    await session.release();
  });
});

describe('runSaliency', () => {
  it('gives a CUI curve with peaks over the example model and data, per class and for a class subset', async () => {
    const g = await analyzeModel(loadModel(EXAMPLE_MODEL));
    const data = openDataset(join(PACKAGE_ROOT, 'examples', 'fashion-mnist-sample'));
    const r = await runSaliency(g, data, { classes: [0, 7], batchSize: 4 });
    expect(r.samples).toBe(40);
    expect(r.counts).toEqual([20, 0, 0, 0, 0, 0, 0, 20, 0, 0]);
    expect(r.layers.map((l) => l.tensor)).toEqual(candidateLayers(g));
    expect(r.curve.filter((p) => p.best)).toHaveLength(1);
    expect(r.curve.some((p) => p.peak)).toBe(true);
    expect(r.perClass['1_Trouser']!.every((v) => v === null)).toBe(true);
    expect(r.perClass['7_Sneaker']!.every((v) => typeof v === 'number')).toBe(true);
    expect(r.accuracy).toBeGreaterThan(0.8);
  });

  it('rejects class indices out of range and datasets with more classes than the model', async () => {
    const g = await analyzeModel(loadModel(EXAMPLE_MODEL));
    const data = openDataset(join(PACKAGE_ROOT, 'examples', 'fashion-mnist-sample'));
    await expect(runSaliency(g, data, { classes: [12] })).rejects.toThrow(/class 12 is out of range: the model has 10 classes/);
    const dir = mkdtempSync(join(tmpdir(), 'impera-11-'));
    for (let c = 0; c < 11; c++) {
      mkdirSync(join(dir, `c${String(c).padStart(2, '0')}`));
      writeFileSync(join(dir, `c${String(c).padStart(2, '0')}`, '0.png'), encodeGrayPng(28, 28, new Uint8Array(784)));
    }
    await expect(runSaliency(g, openDataset(dir, { resize: true }), {})).rejects.toThrow(/has class index 10 \(c10\), but the model only has 10 classes/);
  });
});
