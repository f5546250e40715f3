import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph, gradientName, LOSS_OUTPUT, TARGETS_INPUT } from '../../src/autodiff/backward.js';
import { checkpointPath } from '../../src/bottlenecks/checkpoint.js';
import { designBottleneck, initParams, parseRatio } from '../../src/bottlenecks/design.js';
import { cacheFeatures, samplesThatFit, sliceFeatures } from '../../src/bottlenecks/features.js';
import { trainBottleneck } from '../../src/bottlenecks/pipeline.js';
import { bottleneckedOutputs, bottleneckedTail, CUT_INPUT, trainWeights, validationScore } from '../../src/bottlenecks/train.js';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import type { Dataset } from '../../src/data/dataset.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { channelLayout } from '../../src/graph/layout.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType, numel } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { argmax } from '../../src/util/stats.js';
import { weights } from '../helpers/models.js';

import { classifier, labelledNoise, noise } from './fixture.js';

describe('the bottleneck design', () => {
  it('sends 1/64 of a map through C -> C/8 -> C/4 at stride 2, and the inference model restores the shape', async () => {
    const d = designBottleneck([1, 64, 16, 16], channelLayout([1, 64, 16, 16]));
    expect([d.hidden, d.latentChannels, d.latentShape]).toEqual([8, 16, [1, 16, 4, 4]]);
    expect(d.elementsRatio).toBe(1 / 64);
    const g = await analyzeModel(classifier());
    const small = designBottleneck([1, 16, 8, 8], channelLayout([1, 16, 8, 8]), { ratio: 1 / 16 });
    expect(small.latentShape).toEqual([1, 16, 2, 2]);
    const tail = splitModel(g, [resolveCut(g, findCuts(g), 'feat')]).parts[1]!.proto;
    const s = await createSession(bottleneckedTail(small, tail, 'feat', 'infer').proto, '.');
    const values = initParams(small);
    const out = await bottleneckedOutputs(s, small, values, { x: noise(3, 2 * 1024), width: 1024, teacher: new Float32Array(8), outputWidth: 4, labels: null, count: 2 });
    await s.release();
    expect(out.length).toBe(8);
    expect([...out].every(Number.isFinite)).toBe(true);
  });

  it('works out odd sizes (7x7 -> 2x2) and the token analogue [N, T, C] -> [N, T/4, C/16]', () => {
    const odd = designBottleneck([1, 320, 7, 7], channelLayout([1, 320, 7, 7]));
    expect(odd.latentShape).toEqual([1, 80, 2, 2]);
    expect(odd.elementsRatio).toBeCloseTo((80 * 4) / (320 * 49), 12);
    const tokens = designBottleneck([1, 196, 192], channelLayout([1, 196, 192]));
    expect(tokens.latentShape).toEqual([1, 49, 12]);
    expect(tokens.elementsRatio).toBe(1 / 64);
    expect(designBottleneck([1, 512], channelLayout([1, 512])).latentShape).toEqual([1, 8]);
  });

  it('refuses a ratio that does not fit, naming the ratios that do', () => {
    expect(() => designBottleneck([1, 4, 8, 8], channelLayout([1, 4, 8, 8]), { ratio: 1 / 128 })).toThrow(/ratio 1\/128 does not fit the cut tensor \[1,4,8,8\].*ratios that fit: 1\/16, 1\/32, 1\/64$/);
    expect(() => parseRatio('2')).toThrow(/--ratio must be a fraction/);
    expect(parseRatio('1/64')).toBe(1 / 64);
  });
});

describe('training the bottleneck through the frozen tail', () => {
  it('the backward graph of bottleneck + tail matches finite differences of the loss', async () => {
    const g = await analyzeModel(classifier());
    const d = designBottleneck([1, 16, 8, 8], channelLayout([1, 16, 8, 8]), { ratio: 1 / 16 });
    const tail = splitModel(g, [resolveCut(g, findCuts(g), 'feat')]).parts[1]!.proto;
    const m = bottleneckedTail(d, tail, 'feat', 'train', false, 6);
    const bg = await analyzeModel(inMemoryModel(m.proto, 'bn'));
    const bwd = buildBackwardGraph(bg, { wrt: d.params.map((p) => p.name), objective: 'cross-entropy' });
    const s = await createSession(bwd.proto, '.');
    const values = initParams(d, 3);
    const feeds = (v: Map<string, Float32Array>): Record<string, Tensor> => ({
      [CUT_INPUT]: { dtype: DataType.FLOAT, dims: [6, 16, 8, 8], data: noise(5, 6 * 1024).map(Math.abs) },
      [TARGETS_INPUT]: { dtype: DataType.INT64, dims: [6], data: BigInt64Array.from([0, 1, 2, 3, 0, 1], BigInt) },
      ...Object.fromEntries(d.params.map((p) => [p.name, { dtype: DataType.FLOAT, dims: p.shape, data: v.get(p.name)! }])),
    });
    const out = await run(s, feeds(values));
    const h = 1e-2;
    let checked = 0;
    for (const name of ['bottleneck.enc1.weight', 'bottleneck.enc2.bn.gamma', 'bottleneck.dec1.weight', 'bottleneck.dec2.bias']) {
      const grad = out[gradientName(name)]!.data as Float32Array;
      const i = argmax(Float32Array.from(grad, Math.abs)); // the largest component: well above float32 noise
      const at = (delta: number) => {
        const v = new Map([...values].map(([k, a]) => [k, a.slice()]));
        v.get(name)![i]! += delta;
        return run(s, feeds(v)).then((r) => (r[LOSS_OUTPUT]!.data as Float32Array)[0]!);
      };
      const fd = ((await at(h)) - (await at(-h))) / (2 * h);
      expect(Math.abs(fd - grad[i]!)).toBeLessThan(0.05 * Math.abs(grad[i]!) + 1e-4);
      checked++;
    }
    await s.release();
    expect(checked).toBe(4);
  });

  it('lowers the loss and beats the untrained bottleneck; a checkpointed run resumes to the same weights', async () => {
    const g = await analyzeModel(classifier());
    const data = await labelledNoise(400, 7);
    const f = await cacheFeatures(g, 'feat', data, Array.from({ length: 400 }, (_, i) => i));
    const [train, val] = [sliceFeatures(f, 0, 320), sliceFeatures(f, 320, 400)];
    const d = designBottleneck([1, 16, 8, 8], channelLayout([1, 16, 8, 8]), { ratio: 1 / 16 });
    const tail = splitModel(g, [resolveCut(g, findCuts(g), 'feat')]).parts[1]!.proto;
    const opts = { loss: 'ce' as const, maxEpochs: 4, batchSize: 32, learningRate: 3e-3, patience: 10, seed: 2 };
    const whole = await trainWeights(d, tail, 'feat', train, val, opts);
    expect(whole.history[whole.history.length - 1]!.loss).toBeLessThan(whole.history[0]!.loss);
    const s = await createSession(bottleneckedTail(d, tail, 'feat', 'infer').proto, '.');
    const untrained = validationScore(await bottleneckedOutputs(s, d, initParams(d, 2), val), val, 'ce');
    const trained = validationScore(await bottleneckedOutputs(s, d, whole.values, val), val, 'ce');
    await s.release();
    expect(trained).toBeGreaterThan(untrained + 0.1);

    const dir = mkdtempSync(join(tmpdir(), 'impera-bn-'));
    const checkpoint = { path: checkpointPath(dir), fingerprint: 'run', resume: false };
    await trainWeights(d, tail, 'feat', train, val, { ...opts, maxEpochs: 2, checkpoint });
    expect(existsSync(checkpoint.path)).toBe(true);
    await expect(trainWeights(d, tail, 'feat', train, val, { ...opts, checkpoint })).rejects.toThrow(/holds the checkpoint of an interrupted training run/);
    await expect(trainWeights(d, tail, 'feat', train, val, { ...opts, checkpoint: { ...checkpoint, fingerprint: 'other', resume: true } })).rejects.toThrow(/written by another run/);
    const resumed = await trainWeights(d, tail, 'feat', train, val, { ...opts, checkpoint: { ...checkpoint, resume: true } });
    expect(resumed.resumedAt).toBe(2);
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(resumed.bestEpoch).toBe(whole.bestEpoch);
    for (const [k, v] of whole.values) expect(resumed.values.get(k)).toEqual(v);
    await expect(trainWeights(d, tail, 'feat', train, val, { ...opts, checkpoint: { path: join(dir, 'none.json'), fingerprint: 'run', resume: true } })).rejects.toThrow(/no checkpoint at/);
  });
});

/** x [N,8,16] -> MatMul ('tok', tokens [N,T,C]) -> mean over T ('vec', [N,C]) -> MatMul -> y [N,4]. */
function tokenModel() {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 8, 16]);
  const tok = b.op('MatMul', ['x', weights(b, 'w1', [16, 16], 1)], {}, { output: 'tok' });
  const vec = b.op('ReduceMean', [tok], { axes: [1], keepdims: 0 }, { output: 'vec' });
  b.op('MatMul', [vec, weights(b, 'w2', [16, 4], 2)], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 4]);
  return inMemoryModel(b.build(), 'tokens');
}

describe('the token and vector analogues', () => {
  for (const [cut, ratio, latent] of [['tok', 1 / 16, [1, 2, 4]], ['vec', 1 / 4, [1, 4]]] as const) {
    it(`trains at a ${cut === 'tok' ? 'token sequence [N, T, C]' : 'vector [N, C]'}: the loss falls and the latent is ${JSON.stringify(latent)}`, async () => {
      const g = await analyzeModel(tokenModel());
      const size = 160;
      const x = noise(21, size * 128);
      const data: Dataset = { name: 'tokens', size, classes: ['a', 'b', 'c', 'd'], labelled: true, label: (i) => i % 4, load: () => new Float32Array(0), feeds: (idx) => ({ x: { dtype: DataType.FLOAT, dims: [idx.length, 8, 16], data: Float32Array.from(idx.flatMap((i) => [...x.subarray(i * 128, (i + 1) * 128)])) } }) };
      const f = await cacheFeatures(g, cut, data, Array.from({ length: size }, (_, i) => i));
      const d = designBottleneck(g.tensors.get(cut)!.shape, channelLayout(g.tensors.get(cut)!.shape), { ratio });
      expect(d.latentShape).toEqual(latent);
      const tail = splitModel(g, [resolveCut(g, findCuts(g), cut)]).parts[1]!.proto;
      const r = await trainWeights(d, tail, cut, sliceFeatures(f, 0, 128), sliceFeatures(f, 128, 160), { loss: 'fidelity', maxEpochs: 3, batchSize: 16, learningRate: 1e-2, patience: 5 });
      expect(r.history[2]!.loss).toBeLessThan(r.history[0]!.loss);
    });
  }
});

describe('trainBottleneck', () => {
  it('trains, quantises the latent and measures quality and bytes through the exported pair', async () => {
    const g = await analyzeModel(classifier());
    const cut = resolveCut(g, findCuts(g), 'feat');
    const r = await trainBottleneck(g, cut, { train: await labelledNoise(300, 11), test: await labelledNoise(100, 12) }, { ratio: 1 / 16, epochs: 3, learningRate: 3e-3 });
    expect(r.loss).toBe('ce');
    expect(r.quality.samples).toBe(100);
    expect(r.quality.value).toBeGreaterThan(0.25);
    expect(r.fullQuality.value).toBe(1);
    // 64 latent values at 8 bits, deflated: at most 64 bytes and a header
    expect(r.bytesPerSample).toBeLessThan(64 + 16);
    expect(r.rawBytes).toBe(4 * 1024);
    expect(r.parts.map((p) => p.name)).toEqual(['head', 'tail']);
    expect(r.encoder.graph!.output!.map((o) => o.name)).toEqual(['feat::latent']);
  });

  it('refuses a multi-tensor cut, no training data and a loss the task does not allow', async () => {
    const g = await analyzeModel(classifier());
    const data = await labelledNoise(40, 1);
    const cut = resolveCut(g, findCuts(g), 'feat');
    await expect(trainBottleneck(g, { ...cut, tensors: ['feat', 'h'], id: 'feat+h' }, { train: data, test: data })).rejects.toThrow(/crosses 2 tensors: a bottleneck compresses one tensor/);
    await expect(trainBottleneck(g, cut, { train: { ...data, size: 0 }, test: data })).rejects.toThrow(/no training data/);
    const unlabelled = await labelledNoise(40, 1, false);
    await expect(trainBottleneck(g, cut, { train: unlabelled, test: unlabelled }, { loss: 'ce' })).rejects.toThrow(/loss ce needs labelled training data/);
    expect(() => samplesThatFit(1 << 20, 100, 10 << 20, 33)).toThrow(/10 samples fit in .* fewer than one mini-batch/);
    expect(samplesThatFit(1 << 20, 100, 50 << 20, 33)).toBe(50);
    expect(numel([2, 3])).toBe(6);
  });
});
