/**
 * Saliency for any model: Grad-CAM maps and CUI curves of the objectives beyond the target logit (l2 of an output's
 * part, fidelity, fed output gradients) on a tiny map model built in code, fed the example's images.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../src/autodiff/backward.js';
import { openDataset } from '../../src/data/dataset.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel, loadModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { runSaliency } from '../../src/saliency/dataset-saliency.js';
import { buildSaliencyModel } from '../../src/saliency/gradcam.js';
import { EXAMPLE_MODEL, PACKAGE_ROOT } from '../../src/util/package.js';
import { weights } from '../helpers/models.js';

const SAMPLE = join(PACKAGE_ROOT, 'examples', 'fashion-mnist-sample');

/** x [N, 1, 28, 28] -> conv 3x3 -> relu (a) -> conv 3x3 -> relu (b) -> 1x1 conv -> Sigmoid: a 2-channel probability map. */
function mapModel() {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 1, 28, 28]);
  const conv = (x: string, cin: number, cout: number, k: number, seed: number, out: string) =>
    b.op('Conv', [x, weights(b, `${out}.w`, [cout, cin, k, k], seed), weights(b, `${out}.b`, [cout], seed + 1)], { kernel_shape: [k, k], pads: new Array(4).fill((k - 1) / 2) }, { output: out });
  b.op('Relu', [conv('x', 1, 4, 3, 1, 'c1')], {}, { output: 'a' });
  b.op('Relu', [conv('a', 4, 4, 3, 3, 'c2')], {}, { output: 'b' });
  b.op('Sigmoid', [conv('b', 4, 2, 1, 5, 'c3')], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 2, 28, 28]);
  return inMemoryModel(b.build(), 'map');
}

async function runOnce(proto: Parameters<typeof createSession>[0], feeds: Record<string, Tensor>) {
  const s = await createSession(proto, '.');
  try {
    return await run(s, feeds);
  } finally {
    await s.release();
  }
}

describe('Grad-CAM of another objective', () => {
  it('is ReLU(mean_k mean_ij(G_k) A_k) with G the gradient of l2 of a channel and region', async () => {
    const g = await analyzeModel(mapModel());
    const x: Tensor = { dtype: DataType.FLOAT, dims: [2, 1, 28, 28], data: openDataset(SAMPLE).load([0, 25], { channels: 1, height: 28, width: 28 }) };
    const select = { channel: 1, region: [[4, 20], [8, 24]] as const };
    const sal = buildSaliencyModel(g, ['a'], { objective: 'l2', select });
    expect(sal.logits).toBeUndefined();
    const maps = await runOnce(sal.proto, { x });
    const raw = await runOnce(buildBackwardGraph(g, { wrt: ['a'], keep: ['a'], objective: 'l2', select }).proto, { x });
    const [A, G] = [raw.a!.data as Float32Array, raw['a::grad']!.data as Float32Array];
    const [C, P] = [4, 784];
    let positive = 0;
    for (let n = 0; n < 2; n++) {
      const alpha = Array.from({ length: C }, (_, k) => G.subarray((n * C + k) * P, (n * C + k + 1) * P).reduce((s, v) => s + v, 0) / P);
      for (let p = 0; p < P; p++) {
        const m = Math.max(0, alpha.reduce((s, al, k) => s + al * A[(n * C + k) * P + p]!, 0) / C);
        if (m > 0) positive++;
        expect((maps[sal.maps.get('a')!]!.data as Float32Array)[n * P + p]).toBeCloseTo(m, 5);
      }
    }
    expect(positive).toBeGreaterThan(0);
  });
});

describe('runSaliency with objectives for any model', () => {
  it('fidelity on a probability map: a curve over every image, no classes, no accuracy', async () => {
    const g = await analyzeModel(mapModel());
    // fidelity is the default where the first output has no classes
    const r = await runSaliency(g, openDataset(SAMPLE), { layers: ['a', 'b'], samples: 6, batchSize: 4 });
    expect(r.samples).toBe(6);
    expect(r.objective).toBe("fidelity loss of 'y' against the model's own decision");
    expect(r).toMatchObject({ counts: [], classes: [], subset: [], perClass: {}, accuracy: null });
    expect(r.curve.map((p) => p.layer)).toEqual(['a', 'b']);
    expect(r.curve.every((p) => p.log10 !== null && p.cui > 0)).toBe(true);
  });

  it('a fed gradient of 2y per image gives exactly the curve of l2 (rows follow the images across batches)', async () => {
    const g = await analyzeModel(mapModel());
    const data = openDataset(SAMPLE);
    const n = 7;
    const y = (await runOnce(g.proto, { x: { dtype: DataType.FLOAT, dims: [n, 1, 28, 28], data: data.load([...Array(n).keys()], { channels: 1, height: 28, width: 28 }) } })).y!;
    const twice: Tensor = { dtype: DataType.FLOAT, dims: y.dims, data: (y.data as Float32Array).map((v) => 2 * v) };
    const l2 = await runSaliency(g, data, { objective: 'l2', layers: ['a', 'b'], samples: n, batchSize: 3 });
    const seed = await runSaliency(g, data, { objective: 'seed', outputGrads: { y: twice }, layers: ['a', 'b'], samples: n, batchSize: 3 });
    expect(seed.objective).toBe("fed output gradient of 'y'");
    seed.curve.forEach((p, l) => expect(p.cui).toBeCloseTo(l2.curve[l]!.cui, 6));
  });

  it('one fed gradient row [1, ...] counts for every image, as the same row repeated would', async () => {
    const g = await analyzeModel(mapModel());
    const data = openDataset(SAMPLE);
    const row = Float32Array.from({ length: 2 * 784 }, (_, i) => Math.sin(i));
    const one = await runSaliency(g, data, { objective: 'seed', outputGrads: { y: { dtype: DataType.FLOAT, dims: [1, 2, 28, 28], data: row } }, layers: ['a'], samples: 5, batchSize: 2 });
    const repeated = { dtype: DataType.FLOAT, dims: [5, 2, 28, 28], data: Float32Array.from({ length: 5 * row.length }, (_, i) => row[i % row.length]!) };
    const each = await runSaliency(g, data, { objective: 'seed', outputGrads: { y: repeated }, layers: ['a'], samples: 5, batchSize: 2 });
    expect(one.curve[0]!.cui).toBeGreaterThan(0);
    expect(one.curve[0]!.cui).toBeCloseTo(each.curve[0]!.cui, 8);
  });

  it('refuses a class subset where the output has no classes, and options of another objective, in one line', async () => {
    const g = await analyzeModel(mapModel());
    const data = openDataset(SAMPLE);
    await expect(runSaliency(g, data, { objective: 'l2', classes: [1] })).rejects.toThrow(/a class subset picks images by class, but output 'y' \[1,2,28,28\] has no classes/);
    await expect(runSaliency(g, data, { objective: 'fidelity', select: { channel: 0 } })).rejects.toThrow(/a channel or region applies to objective l2, not 'fidelity'/);
    await expect(runSaliency(g, data, { target: 'pred', objective: 'l2' })).rejects.toThrow(/the target class \(label or pred\) applies to objective target-logit/);
    await expect(runSaliency(g, data, { objective: 'seed' })).rejects.toThrow(/objective seed needs the gradient of at least one output/);
    await expect(runSaliency(g, data, { objective: 'seed', outputGrads: { y: { dtype: DataType.FLOAT, dims: [3, 2, 28, 28], data: new Float32Array(3 * 1568) } }, samples: 5 })).rejects.toThrow(/must be float32 \[1, 2, 28, 28\] \(every image\) or \[5, 2, 28, 28\] \(one per image\)/);
    await expect(runSaliency(g, data, { objective: 'target-logit' })).rejects.toThrow(/objective 'target-logit' needs an output of shape \[batch, classes\]/);
  });

  it('keeps classes where the output has them: fidelity of a classifier groups images by label', async () => {
    const g = await analyzeModel(loadModel(EXAMPLE_MODEL));
    const r = await runSaliency(g, openDataset(SAMPLE), { objective: 'fidelity', classes: [7], samples: 4, batchSize: 4 });
    expect(r.counts).toEqual([0, 0, 0, 0, 0, 0, 0, 4, 0, 0]);
    expect(r.subset).toEqual([7]);
    expect(r.perClass['7_Sneaker']!.some((v) => v !== null)).toBe(true);
    expect(r.accuracy).toBeNull();
    expect(r.curve.some((p) => p.log10 !== null)).toBe(true);
  });
});
