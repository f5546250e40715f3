/** The training-free bottleneck proxies: their shapes at a ratio, their round trips against the closed form, their scores where the answer is known. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureProxies, parseRatio, proxyShapes, proxyTail, type ProxyName } from '../../src/bottlenecks/proxies.js';
import type { FittedTensorCodec } from '../../src/codecs/fitted.js';
import { singleTensorCuts } from '../../src/cuts/cuts.js';
import { openDataset } from '../../src/data/dataset.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { layoutAlong } from '../../src/graph/layout.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';
import { gaussian, seededRandom } from '../../src/util/random.js';
import { writeBottleneckFixture } from './fixture.js';

describe('proxyShapes', () => {
  it('splits 1/64 as the I-SPLIT bottleneck does (C/4 x H/4 x W/4), and channel-only and spatial-only at the same ratio', () => {
    const shape = [1, 128, 16, 16];
    const [project, channel, spatial] = proxyShapes(layoutAlong(shape, 1), shape, 1 / 64);
    expect(project).toEqual({ name: 'project', divisor: 4, channels: 32, window: [4, 4], ratio: 1 / 64 });
    expect(channel).toEqual({ name: 'channel', divisor: 64, channels: 2, window: [1, 1], ratio: 1 / 64 });
    expect(spatial).toEqual({ name: 'spatial', divisor: 1, channels: 128, window: [8, 8], ratio: 1 / 64 });
  });

  it('caps windows at the axis, keeps a channel, and reports the ratio that then crosses', () => {
    const shape = [1, 16, 2, 7];
    const [project, channel, spatial] = proxyShapes(layoutAlong(shape, 1), shape, 1 / 64);
    // window 2 x 4 (H = 2): the rest, 64 / 8 = 8, over channels: 2 of 16; 1 x 2 cells
    expect(project).toMatchObject({ divisor: 8, channels: 2, window: [2, 4], ratio: (2 * 1 * 2) / (16 * 14) });
    expect(channel).toMatchObject({ channels: 1, ratio: 1 / 16 });
    expect(spatial).toMatchObject({ window: [2, 7], ratio: 1 / 14 });
  });

  it('pools tokens along their one position axis, and a vector has the channel proxy only', () => {
    const tokens = [1, 64, 32];
    expect(proxyShapes(layoutAlong(tokens, 2), tokens, 1 / 64).map((p) => [p.name, p.channels, p.window])).toEqual([['project', 2, [4]], ['channel', 1, [1]], ['spatial', 32, [64]]]);
    expect(proxyShapes(layoutAlong([1, 256], 1), [1, 256], 1 / 64).map((p) => [p.name, p.channels])).toEqual([['channel', 4]]);
  });
});

describe('parseRatio', () => {
  it('reads fractions and decimals strictly between 0 and 1, and refuses the rest in one line', () => {
    expect(parseRatio('1/64')).toBe(1 / 64);
    expect(parseRatio(' 0.05 ')).toBe(0.05);
    for (const bad of ['0', '1', '2/1', '1/0', 'abc', '-1/64', '']) expect(() => parseRatio(bad)).toThrow(/the ratio '.*' is not a share of the elements between 0 and 1/);
  });
});

/** A model whose tail is the identity (y = feat * 1), so the tail's output is what the proxy's round trip made of `feat`. */
async function identityTail(shape: (string | number)[], tokens: boolean) {
  const b = new ModelBuilder();
  b.input('x', 'float32', shape);
  const c = shape[shape.length - (tokens ? 1 : 3)] as number;
  const eye = Float32Array.from({ length: c * c }, (_, i) => (i % (c + 1) === 0 ? 1 : 0));
  const feat = tokens ? b.op('MatMul', ['x', b.initializer('w', 'float32', [c, c], eye)], {}, { output: 'feat' }) : b.op('Conv', ['x', b.initializer('w', 'float32', [c, c, 1, 1], eye)], { kernel_shape: [1, 1] }, { output: 'feat' });
  b.op('Mul', [feat, b.initializer('one', 'float32', [], [1])], {}, { output: 'y' });
  b.output('y', 'float32', shape);
  const g = await analyzeModel(inMemoryModel(b.build(), 'identity tail'));
  return { g, cut: singleTensorCuts(g).find((k) => k.tensors[0] === 'feat')! };
}

/** Any k x C projection rows and channel means: the round trip is P^T P (x - m) + m whatever P is. */
function pcaOf(tensor: string, rank: number, channelAxis: number, k: number, c: number, seed: number): FittedTensorCodec {
  const rand = seededRandom(seed);
  const components = Float32Array.from({ length: k * c }, () => gaussian(rand) / Math.sqrt(c));
  return { tensor, rank, channelAxis, wireElements: 0, pca: { k, components, mean: Float32Array.from({ length: c }, () => rand()), explained: 0 } };
}

/**
 * The closed form, sample by sample, with the tensor as [C, positions] (`at(c, p)`): every position's channels
 * projected, then every window (partial at the ends) replaced by its mean.
 */
function oracle(at: (c: number, p: number) => number, c: number, dims: number[], fit: FittedTensorCodec | undefined, window: number[]): number[][] {
  const positions = dims.reduce((a, d) => a * d, 1);
  const projected = Array.from({ length: c }, (_, ch) =>
    Array.from({ length: positions }, (_, p) => {
      if (!fit) return at(ch, p);
      const { k, components: P, mean: m } = fit.pca!;
      let v = m[ch]!;
      for (let i = 0; i < k; i++) {
        let z = 0;
        for (let j = 0; j < c; j++) z += P[i * c + j]! * (at(j, p) - m[j]!);
        v += P[i * c + ch]! * z;
      }
      return v;
    }),
  );
  const coords = (p: number) => dims.map((_, a) => Math.floor(p / dims.slice(a + 1).reduce((x, d) => x * d, 1)) % dims[a]!);
  const cell = (p: number) => coords(p).map((v, a) => Math.floor(v / window[a]!)).join(',');
  return projected.map((row) => {
    const sums = new Map<string, [number, number]>();
    row.forEach((v, p) => {
      const s = sums.get(cell(p)) ?? [0, 0];
      sums.set(cell(p), [s[0] + v, s[1] + 1]);
    });
    return row.map((_, p) => sums.get(cell(p))![0] / sums.get(cell(p))![1]);
  });
}

describe('proxyTail', () => {
  it('feeds the tail each proxy\'s PCA and pooling round trip, stacked along the batch, equal to the closed form (partial windows included)', async () => {
    const [n, c, h, w] = [2, 8, 6, 5];
    const { g, cut } = await identityTail(['batch', c, h, w], false);
    const shapes = proxyShapes(layoutAlong([n, c, h, w], 1), [n, c, h, w], 1 / 16);
    expect(shapes.map((p) => [p.channels, p.window])).toEqual([[2, [2, 2]], [1, [1, 1]], [8, [4, 4]]]);
    const pcas = new Map<ProxyName, FittedTensorCodec>([['project', pcaOf('feat', 4, 1, 2, c, 3)], ['channel', pcaOf('feat', 4, 1, 1, c, 4)]]);
    const rand = seededRandom(9);
    const x = Float32Array.from({ length: n * c * h * w }, () => gaussian(rand));
    const session = await createSession(proxyTail(g, cut, shapes, pcas, 17), '.');
    const y = (await run(session, { 'feat::in': { dtype: DataType.FLOAT, dims: [n, c, h, w], data: x } })).y!;
    await session.release();
    expect(y.dims).toEqual([3 * n, c, h, w]);
    shapes.forEach((p, k) => {
      for (let s = 0; s < n; s++) {
        const want = oracle((ch, q) => x[(s * c + ch) * h * w + q]!, c, [h, w], pcas.get(p.name), p.window).flat();
        const got = Array.from((y.data as Float32Array).subarray((k * n + s) * c * h * w, (k * n + s + 1) * c * h * w));
        got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
      }
    });
  });

  it('pools a token sequence [N, T, C] along its tokens, channels last', async () => {
    const [n, t, c] = [2, 10, 8];
    const { g, cut } = await identityTail(['batch', t, c], true);
    const shapes = proxyShapes(layoutAlong([n, t, c], 2), [n, t, c], 1 / 8);
    expect(shapes.map((p) => [p.channels, p.window])).toEqual([[2, [2]], [1, [1]], [8, [8]]]);
    const pcas = new Map<ProxyName, FittedTensorCodec>([['project', pcaOf('feat', 3, 2, 2, c, 5)], ['channel', pcaOf('feat', 3, 2, 1, c, 6)]]);
    const rand = seededRandom(10);
    const x = Float32Array.from({ length: n * t * c }, () => gaussian(rand));
    const session = await createSession(proxyTail(g, cut, shapes, pcas, 17), '.');
    const y = (await run(session, { 'feat::in': { dtype: DataType.FLOAT, dims: [n, t, c], data: x } })).y!.data as Float32Array;
    await session.release();
    shapes.forEach((p, k) => {
      for (let s = 0; s < n; s++) {
        const want = oracle((ch, q) => x[(s * t + q) * c + ch]!, c, [t], pcas.get(p.name), p.window);
        for (let q = 0; q < t; q++) for (let ch = 0; ch < c; ch++) expect(y[((k * n + s) * t + q) * c + ch]!).toBeCloseTo(want[ch]![q]!, 4);
      }
    });
  });
});

describe('measureProxies', () => {
  it('scores every proxy through the real tail: perfect where the class survives 1/64, near chance at the known bottleneck', async () => {
    const files = writeBottleneckFixture(mkdtempSync(join(tmpdir(), 'impera-bn-')), 64);
    const g = await analyzeModel((await import('../../src/onnx/io.js')).loadModel(files.model));
    const cuts = singleTensorCuts(g).filter((k) => ['open', 'hidden'].includes(k.tensors[0]!));
    const r = await measureProxies(g, cuts, { data: openDataset(files.data), calibration: openDataset(files.calibration), samples: 64, calibrationSamples: 64 });
    expect(r.task.metric).toBe('accuracy');
    expect(r.full!.value).toBe(1);
    const byTensor = Object.fromEntries(r.cuts.map((k) => [k.tensor, Object.fromEntries(k.proxies.map((p) => [p.name, p.quality.value]))]));
    expect(byTensor.open).toEqual({ project: 1, channel: 1, spatial: 1 });
    for (const v of Object.values(byTensor.hidden!)) expect(v).toBeLessThan(0.75);
  });

  it('refuses a cut of two tensors in one line, saying a bottleneck sits on one tensor', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 2, 4, 4]);
    b.op('Relu', ['x'], {}, { output: 'a' });
    b.op('Sigmoid', ['x'], {}, { output: 'b' });
    b.op('Add', ['a', 'b'], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 2, 4, 4]);
    const g = await analyzeModel(inMemoryModel(b.build(), 'two'));
    const { findCuts } = await import('../../src/cuts/cuts.js');
    const wide = findCuts(g).find((k) => k.tensors.length === 2)!;
    const data = openDataset(writeBottleneckFixture(mkdtempSync(join(tmpdir(), 'impera-bn-')), 4).data);
    await expect(measureProxies(g, [wide], { data, calibration: data })).rejects.toThrow(/crosses 2 tensors; a bottleneck \(and its predictors\) sits on one tensor/);
  });
});
