import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bottleneckSummary, writeBottleneckDir } from '../../src/bottlenecks/files.js';
import { trainBottleneck, type TrainedBottleneck } from '../../src/bottlenecks/pipeline.js';
import { fitCodecs } from '../../src/codecs/calibrate.js';
import { codecModel } from '../../src/codecs/onnx.js';
import { parseCodec } from '../../src/codecs/spec.js';
import { findCuts, resolveCut, type Cut } from '../../src/cuts/cuts.js';
import type { Dataset } from '../../src/data/dataset.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { attachCodec, runCodecPair } from '../../src/export/codec.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { createSession, run } from '../../src/ort/session.js';
import { classifier, labelledNoise } from '../bottlenecks/fixture.js';

/** A bottleneck trained at 'feat' of the fixture's classifier and written to its folder, as `impera bottleneck --out` does. */
let g: Graph;
let cut: Cut;
let trained: TrainedBottleneck;
let dir: string;
let data: { train: Dataset; test: Dataset };

beforeAll(async () => {
  g = await analyzeModel(classifier());
  cut = resolveCut(g, findCuts(g), 'feat');
  data = { train: await labelledNoise(200, 21), test: await labelledNoise(64, 22) };
  trained = await trainBottleneck(g, cut, data, { ratio: 1 / 16, epochs: 2, learningRate: 3e-3 });
  dir = mkdtempSync(join(tmpdir(), 'impera-learned-'));
  writeBottleneckDir(dir, g, cut, trained, { ...bottleneckSummary(trained) });
}, 120_000);

describe('the learned:DIR codec', () => {
  it('parses: the folder, then the stages on the latent (int8+deflate when none), never a PCA', () => {
    expect(parseCodec('learned:bn/x')).toMatchObject({ learned: { dir: 'bn/x' }, quant: { bits: 8 }, entropy: 'deflate' });
    const fp16 = parseCodec('learned:bn+fp16');
    expect(fp16).toMatchObject({ learned: { dir: 'bn' }, fp16: true });
    expect(fp16.entropy).toBeUndefined();
    expect(() => parseCodec('learned:bn+pca+int8')).toThrow(/its own projection/);
    expect(() => parseCodec('learned:')).toThrow(/takes a folder/);
  });

  it('at float precision its round trip is the trained encoder then decoder, as ONNX Runtime runs them', async () => {
    const fit = (await fitCodecs(g, [cut], [parseCodec(`learned:${dir}+fp32`)], data.train)).get(cut.id)![0]!;
    expect(fit.tensors[0]!.wireElements).toBe(trained.design.latentShape.slice(1).reduce((a, b) => a * b, 1));
    const x = (await run(await createSession(splitModel(g, [cut]).parts[0]!.proto, '.'), data.test.feeds([0, 1, 2, 3], [{ name: 'x' }] as never))).feat!;
    const dims = (_: unknown, wire: boolean) => (wire ? ['batch', ...trained.design.latentShape.slice(1)] : ['batch', 16, 8, 8]);
    const roundTrip = (await run(await createSession(codecModel(fit.tensors, 'roundtrip', 13, dims), '.'), { feat: x }))['feat::decoded']!.data as Float32Array;
    const latent = (await run(await createSession(trained.encoder, '.'), { feat: x }))[trained.latent]!;
    const oracle = (await run(await createSession(trained.decoder, '.'), { [trained.latent]: latent }))[trained.restored]!.data as Float32Array;
    expect(roundTrip.length).toBe(oracle.length);
    const worst = roundTrip.reduce((m, v, i) => Math.max(m, Math.abs(v - oracle[i]!)), 0);
    expect(worst).toBeLessThan(1e-4);
  });

  it('evaluates to the quality and bytes impera bottleneck measured (same test images, ranges fitted on the same images)', async () => {
    const report = await evaluate(g, { cuts: [cut], codecs: [parseCodec(`learned:${dir}`)], data: data.test, calibration: data.train, byteSamples: data.test.size });
    const e = report.cuts[0]!.codecs[0]!;
    expect(e.quality.value).toBeCloseTo(trained.quality.value, 10);
    expect(e.bytes.mean).toBeCloseTo(trained.bytesPerSample, 6);
    // the encoder's convolutions run on the device, the decoder's on the server
    expect(e.codecFlops.encode).toBeGreaterThan(0);
    expect(e.codecFlops.decode).toBeGreaterThan(0);
    // the device stores the encoder's weights beside the head's (and the latent's scales)
    const encoderWeights = (trained.encoder.graph!.initializer ?? []).reduce((s, t) => s + 4 * (t.dims ?? []).reduce((a, b) => a * Number(b), 1), 0);
    expect(e.encoderBytes - cut.headCost.paramBytes).toBeGreaterThanOrEqual(encoderWeights);
    expect(e.encoderBytes - cut.headCost.paramBytes).toBeLessThan(encoderWeights + 8 * 64);
  });

  it('deploys as a split pair: head+encoder sends the latent, decoder+tail answers as the bottleneck model does', async () => {
    const fit = (await fitCodecs(g, [cut], [parseCodec(`learned:${dir}`)], data.train)).get(cut.id)![0]!;
    const parts = attachCodec(g, splitModel(g, [cut]).parts as never, fit);
    const sessions = [await createSession(parts[0].proto, '.'), await createSession(parts[1].proto, '.')] as const;
    const pair = await runCodecPair(parts, sessions, fit, data.test.feeds([0, 1, 2, 3, 4, 5, 6, 7], []));
    const oracle = await runCodecPair(trained.parts, [await createSession(trained.parts[0].proto, '.'), await createSession(trained.parts[1].proto, '.')], trained.codec, data.test.feeds([0, 1, 2, 3, 4, 5, 6, 7], []));
    expect(pair.bytes).toEqual(oracle.bytes);
    expect([...(pair.outputs.y!.data as Float32Array)]).toEqual([...(oracle.outputs.y!.data as Float32Array)]);
  });

  it('is refused at any other cut, in one line naming the cut it was trained at', async () => {
    const other = resolveCut(g, findCuts(g), 'h');
    await expect(fitCodecs(g, [other], [parseCodec(`learned:${dir}`)], data.train)).rejects.toThrow(/^codec 'learned:.*' was trained at tensor 'feat' and cannot run at 'h'$/);
    await expect(fitCodecs(g, [cut], [parseCodec(`learned:${join(dir, 'nothing')}`)], data.train)).rejects.toThrow(/has no bottleneck.json, encoder.onnx, decoder.onnx/);
    const broken = mkdtempSync(join(tmpdir(), 'impera-learned-broken-'));
    for (const f of ['encoder.onnx', 'decoder.onnx']) copyFileSync(join(dir, f), join(broken, f));
    writeFileSync(join(broken, 'bottleneck.json'), '{"cut": "feat", "des');
    await expect(fitCodecs(g, [cut], [parseCodec(`learned:${broken}`)], data.train)).rejects.toThrow(/bottleneck.json names no cut and latent shape/);
  });
});
