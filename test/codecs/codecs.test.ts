import { describe, expect, it } from 'vitest';
import { fitCodecs } from '../../src/codecs/calibrate.js';
import { codecModel } from '../../src/codecs/onnx.js';
import { fitPca } from '../../src/codecs/pca.js';
import { parseCodec } from '../../src/codecs/spec.js';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import { splitModel } from '../../src/export/split.js';
import { openDataset, type Dataset } from '../../src/data/dataset.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { symbolicShape } from '../../src/graph/graph.js';
import { DataType } from '../../src/onnx/dtype.js';
import { loadModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';
import { EXAMPLE_DATA, EXAMPLE_MODEL } from '../../src/util/package.js';
import { seededRandom } from '../../src/util/random.js';
import type { FittedTensorCodec } from '../../src/codecs/fitted.js';
import { tf2onnxCnn, weights } from '../helpers/models.js';
import { wireCodec } from '../../src/codecs/wire.js';
import { attachCodec, describeWire, runCodecPair } from '../../src/export/codec.js';


describe('fitPca', () => {
  it('recovers a low-rank subspace, with the full and the randomized solver alike', async () => {
    const rand = seededRandom(1);
    for (const c of [40, 600]) {
      // data in a 3-dimensional subspace plus small noise: 3 directions keep almost all the variance
      const basis = Array.from({ length: 3 }, () => Float64Array.from({ length: c }, () => rand() - 0.5));
      const gram = new Float64Array(c * c);
      const sum = new Float64Array(c);
      const n = 2000;
      for (let s = 0; s < n; s++) {
        const w = [rand() * 4 - 2, rand() * 3 - 1.5, rand() * 2 - 1];
        const x = Float64Array.from({ length: c }, (_, j) => w[0]! * basis[0]![j]! + w[1]! * basis[1]![j]! + w[2]! * basis[2]![j]! + 0.01 * (rand() - 0.5));
        for (let i = 0; i < c; i++) {
          sum[i]! += x[i]!;
          for (let j = 0; j < c; j++) gram[i * c + j]! += x[i]! * x[j]!;
        }
      }
      const pca = await fitPca({ gram, sum, count: n }, 3);
      expect(pca.explained).toBeGreaterThan(0.999);
      // the components are orthonormal
      for (let i = 0; i < 3; i++) {
        const u = pca.components.subarray(i * c, (i + 1) * c);
        expect(u.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 4);
      }
    }
  });
});

describe('tensors without a channel axis', () => {
  it('refuse PCA and quantise per tensor instead of per channel (the documented fallback)', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 2, 3, 20]);
    // one value per sample: a rank-1 tensor [N] has no channel axis (rank 5 and above read as [N, C, ...])
    const pooled = b.op('ReduceMean', ['x'], { axes: [1, 2, 3], keepdims: 0 }, { output: 'm' });
    b.op('Relu', [pooled], {}, { output: 'r' });
    b.op('ReduceSum', ['r'], { keepdims: 0 }, { output: 'y' });
    b.output('y', 'float32', []);
    const tiny = await analyzeModel(inMemoryModel(b.build()));
    const cut = resolveCut(tiny, findCuts(tiny), 'r');
    const noise = (idx: readonly number[]) => Float32Array.from({ length: idx.length * 120 }, (_, i) => Math.sin(i));
    const images: Dataset = { name: 'noise', size: 4, classes: ['a'], labelled: true, label: () => 0, load: noise, feeds: (idx) => ({ x: { dtype: DataType.FLOAT, dims: [idx.length, 2, 3, 20], data: noise(idx) } }) };
    await expect(fitCodecs(tiny, [cut], [parseCodec('pca:2')], images)).rejects.toThrow(/needs channels, but cut tensor 'r' has shape \[1\]/);
    const fitted = (await fitCodecs(tiny, [cut], [parseCodec('int8')], images)).get(cut.id)![0]!;
    expect(fitted.tensors[0]!.quant!.scale).toHaveLength(1);
  });
});

describe('codecs on the example model', async () => {
  const g = await analyzeModel(loadModel(EXAMPLE_MODEL));
  const cuts = findCuts(g, { maxWidth: 2 });
  const cut = resolveCut(g, cuts, '39');
  const data = openDataset(EXAMPLE_DATA);

  it('calibrate min/max so that calibration data never clips: the error is at most half a step', async () => {
    const fitted = (await fitCodecs(g, [cut], [parseCodec('int8'), parseCodec('int8:tensor')], data, { samples: 32 })).get(cut.id)!;
    const [perChannel, perTensor] = fitted.map((f) => f.tensors[0]!.quant!);
    expect(perChannel!.scale).toHaveLength(64);
    expect(perTensor!.scale).toHaveLength(1);
    expect(perTensor!.scale[0]!).toBeGreaterThanOrEqual(Math.max(...perChannel!.scale) - 1e-7);
    const head = await createSession(splitModel(g, [cut]).parts[0]!.proto, g.model.dir);
    const x = (await run(head, { input: { dtype: DataType.FLOAT, dims: [32, 3, 224, 224], data: data.load([...Array(32).keys()], { channels: 3, height: 224, width: 224 }) } }))[cut.tensors[0]!]!;
    const trip = await createSession(codecModel(fitted[0]!.tensors, 'roundtrip', 17, (f) => symbolicShape(g, f.tensor)), '.');
    const back = (await run(trip, { [cut.tensors[0]!]: x }))[`${cut.tensors[0]!}::decoded`]!.data as Float32Array;
    const src = x.data as Float32Array;
    for (let i = 0; i < src.length; i++) {
      const channel = Math.floor(i / 196) % 64;
      expect(Math.abs(src[i]! - back[i]!)).toBeLessThanOrEqual(perChannel!.scale[channel]! / 2 + 1e-6);
    }
    await Promise.all([head.release(), trip.release()]);
  });

  it('round trip equals encode then decode, for quantisation, PCA and fp16', async () => {
    const specs = ['int8', 'int5:tensor', 'pca:c/4+int8', 'fp16', 'pca:c/8'].map(parseCodec);
    const fitted = (await fitCodecs(g, [cut], specs, data, { samples: 32 })).get(cut.id)!;
    const t = cut.tensors[0]!;
    const rand = seededRandom(4);
    const x = { dtype: DataType.FLOAT, dims: [2, 64, 14, 14], data: Float32Array.from({ length: 2 * 64 * 196 }, () => 4 * rand() - 1) };
    const dims = (f: (typeof fitted)[number]['tensors'][number], wire: boolean) => {
      const d = symbolicShape(g, f.tensor);
      if (wire && f.pca) d[f.channelAxis] = f.pca.k;
      return d;
    };
    for (const f of fitted) {
      const [enc, dec, trip] = await Promise.all((['encode', 'decode', 'roundtrip'] as const).map((p) => createSession(codecModel(f.tensors, p, 17, dims), '.')));
      const wire = await run(enc, { [t]: x });
      const decoded = await run(dec, { [`${t}::wire`]: wire[`${t}::wire`]! });
      const direct = await run(trip, { [t]: x });
      const a = decoded[`${t}::decoded`]!.data as Float32Array;
      const b = direct[`${t}::decoded`]!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst, f.spec.name).toBeLessThan(1e-5);
      await Promise.all([enc, dec, trip].map((s) => s.release()));
    }
  });

  it('refuses PCA that keeps more channels than the tensor has', async () => {
    await expect(fitCodecs(g, [cut], [parseCodec('pca:100+int8')], data, { samples: 8 })).rejects.toThrow(/keeps 100 PCA channels, but '.*' has only 64/);
    // a divisor larger than C keeps one channel, the documented fallback
    expect((await fitCodecs(g, [cut], [parseCodec('pca:c/128')], data, { samples: 8 })).get(cut.id)![0]!.tensors[0]!.pca!.k).toBe(1);
  });
});

describe('codecs at an NHWC cut (tf2onnx)', async () => {
  const g = await analyzeModel(tf2onnxCnn());
  const t = 'batch_normalization/add_1:0'; // [N, 6, 10, 5], channels last
  const cut = resolveCut(g, findCuts(g), t);
  const rand = seededRandom(3);
  const pixels = Float32Array.from({ length: 16 * 12 * 20 * 3 }, () => rand());
  const feeds = (idx: readonly number[]) => ({ 'input_1:0': { dtype: DataType.FLOAT, dims: [idx.length, 12, 20, 3], data: Float32Array.from(idx.flatMap((i) => [...pixels.subarray(i * 720, (i + 1) * 720)])) } });
  const data: Dataset = { name: 'noise', size: 16, classes: ['a'], labelled: false, label: () => { throw new Error('unlabelled'); }, load: () => new Float32Array(0), feeds };
  const all = [...Array(16).keys()];
  const activations = async () => {
    const head = await createSession(splitModel(g, [cut]).parts[0]!.proto, g.model.dir);
    const x = (await run(head, feeds(all)))[t]!;
    await head.release();
    return x;
  };

  it('int8 per channel quantises along axis 3 with the closed-form per-channel scale', async () => {
    const q = (await fitCodecs(g, [cut], [parseCodec('int8')], data, { samples: 16 })).get(cut.id)![0]!.tensors[0]!;
    expect(q.channelAxis).toBe(3);
    const x = await activations();
    const src = x.data as Float32Array;
    const lo = Array.from({ length: 5 }, (_, c) => Math.min(0, ...src.filter((_, i) => i % 5 === c)));
    const hi = Array.from({ length: 5 }, (_, c) => Math.max(0, ...src.filter((_, i) => i % 5 === c)));
    expect([...q.quant!.scale].map((s, c) => s - (hi[c]! - lo[c]!) / 255).every((d) => Math.abs(d) < 1e-6)).toBe(true);
    const trip = await createSession(codecModel([q], 'roundtrip', 13, (f) => symbolicShape(g, f.tensor)), '.');
    const back = (await run(trip, { [t]: x }))[`${t}::decoded`]!.data as Float32Array;
    for (let i = 0; i < src.length; i++) expect(Math.abs(src[i]! - back[i]!)).toBeLessThanOrEqual(q.quant!.scale[i % 5]! / 2 + 1e-6);
    await trip.release();
  });

  it('PCA reduces the channel axis: the mean is per channel along axis 3 and keeping every channel is lossless', async () => {
    const [full, two] = (await fitCodecs(g, [cut], [parseCodec('pca:5'), parseCodec('pca:2')], data, { samples: 16 })).get(cut.id)!.map((f) => f.tensors[0]!);
    const x = await activations();
    const src = x.data as Float32Array;
    const mean = Array.from({ length: 5 }, (_, c) => src.filter((_, i) => i % 5 === c).reduce((s, v) => s + v, 0) / (src.length / 5));
    expect(full!.pca!.mean).toHaveLength(5);
    [...full!.pca!.mean].forEach((m, c) => expect(m).toBeCloseTo(mean[c]!, 4));
    const dims = (f: FittedTensorCodec, wire: boolean) => {
      const d = symbolicShape(g, f.tensor);
      if (wire && f.pca) d[f.channelAxis] = f.pca.k;
      return d;
    };
    const enc = await createSession(codecModel([two!], 'encode', 13, dims), '.');
    expect((await run(enc, { [t]: x }))[`${t}::wire`]!.dims).toEqual([16, 6, 10, 2]);
    const trip = await createSession(codecModel([full!], 'roundtrip', 13, dims), '.');
    const back = (await run(trip, { [t]: x }))[`${t}::decoded`]!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < src.length; i++) worst = Math.max(worst, Math.abs(src[i]! - back[i]!));
    expect(worst).toBeLessThan(1e-4);
    await Promise.all([enc.release(), trip.release()]);
  });
});

describe('a cut with a bool mask beside an activation (an attention mask, as in a transformer)', () => {
  // y = where(x > 0, h, -h) with h = relu(x W): the cut {h, mask} carries a float32 and a bool tensor
  async function maskModel() {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 8]);
    b.op('Greater', ['x', b.constantNode('float32', [], [0])], {}, { output: 'mask' });
    b.op('Relu', [b.op('MatMul', ['x', weights(b, 'w', [8, 8], 3)], {}, { output: 'xw' })], {}, { output: 'h' });
    b.op('Where', ['mask', 'h', b.op('Neg', ['h'], {}, { output: 'neg' })], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 8]);
    return analyzeModel(inMemoryModel(b.build(), 'mask'));
  }
  const noise = (idx: readonly number[]) => Float32Array.from({ length: idx.length * 8 }, (_, i) => Math.sin(1.7 * i + idx[0]!));
  const data: Dataset = { name: 'noise', size: 16, classes: ['a'], labelled: false, label: () => 0, load: noise, feeds: (idx) => ({ x: { dtype: DataType.FLOAT, dims: [idx.length, 8], data: noise(idx) } }) };

  it('the codec quantises the float tensor and sends the mask as it is, through ONNX, bytes and back', async () => {
    const g = await maskModel();
    const cut = resolveCut(g, findCuts(g), 'mask+h');
    const fitted = (await fitCodecs(g, [cut], [parseCodec('int4+deflate')], data)).get(cut.id)![0]!;
    const [mask, h] = ['mask', 'h'].map((t) => fitted.tensors.find((f) => f.tensor === t)!);
    expect(mask).toEqual({ tensor: 'mask', rank: 2, channelAxis: -1, wireElements: 8, passthrough: 'bool' });
    expect(h!.quant!.bits).toBe(4);
    const described = describeWire(fitted);
    expect(described.tensors.find((t) => t.tensor === 'mask')).toMatchObject({ dtype: 'bool', wireElements: 8 });
    expect(wireCodec(described).tensors.find((t) => t.tensor === 'mask')!.passthrough).toBe('bool');

    const parts = attachCodec(g, splitModel(g, [cut]).parts as [never, never], fitted);
    const sessions = [await createSession(parts[0].proto, g.model.dir), await createSession(parts[1].proto, g.model.dir)] as const;
    const feeds = data.feeds([0, 1, 2, 3], []);
    const { outputs } = await runCodecPair(parts, sessions, fitted, feeds);
    await Promise.all(sessions.map((s) => s.release()));
    const full = await createSession(g.model.proto, g.model.dir);
    const reference = (await run(full, feeds)).y!.data as Float32Array;
    await full.release();
    const split = outputs.y!.data as Float32Array;
    // the mask crossed exactly: every output has the full model's sign wherever h is not quantised to zero
    reference.forEach((r, i) => {
      if (split[i] !== 0) expect(Math.sign(split[i]!)).toBe(Math.sign(r));
    });
    expect(split.some((v) => v < 0) && split.some((v) => v > 0)).toBe(true);
  });
});
