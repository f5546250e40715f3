import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitCodecs } from '../../src/codecs/calibrate.js';
import { parseCodec } from '../../src/codecs/spec.js';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import { openDataset } from '../../src/data/dataset.js';
import { encodeGrayPng } from '../../src/data/images.js';
import { inputBaselines } from '../../src/eval/baselines.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { bestWithin, paretoFront } from '../../src/eval/pareto.js';
import { wilson } from '../../src/util/stats.js';
import { pairedDifference } from '../../src/task/quality.js';
import { attachCodec, runCodecPair } from '../../src/export/codec.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { DataType } from '../../src/onnx/dtype.js';
import { createSession, run as runSession } from '../../src/ort/session.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel, loadModel } from '../../src/onnx/io.js';
import { seededRandom } from '../../src/util/random.js';
import { weights } from '../helpers/models.js';
import { EXAMPLE_DATA, EXAMPLE_MODEL } from '../../src/util/package.js';


describe('statistics', () => {
  it('Wilson interval and the rate-accuracy front', () => {
    const [lo, hi] = wilson(90, 100);
    expect(lo).toBeCloseTo(0.8256, 3);
    expect(hi).toBeCloseTo(0.9448, 3);
    const points = [
      { label: 'a', bytes: 100, quality: 0.9 },
      { label: 'b', bytes: 50, quality: 0.8 },
      { label: 'c', bytes: 80, quality: 0.7 },
      { label: 'd', bytes: 200, quality: 0.9 },
    ];
    expect(paretoFront(points).map((p) => p.label)).toEqual(['b', 'a']);
    expect(bestWithin(points, 90)?.label).toBe('b');
  });

  it('the front of a lower-is-better metric keeps the points with less error', () => {
    const errors = [
      { label: 'a', bytes: 100, quality: 0.01 },
      { label: 'b', bytes: 50, quality: 0.2 },
      { label: 'c', bytes: 80, quality: 0.3 },
      { label: 'd', bytes: 200, quality: 0.01 },
    ];
    expect(paretoFront(errors, 'lower').map((p) => p.label)).toEqual(['b', 'a']);
    expect(bestWithin(errors, 150, 'lower')?.label).toBe('a');
  });
});

describe('evaluate on the example model and data', async () => {
  const g = await analyzeModel(loadModel(EXAMPLE_MODEL));
  const cuts = findCuts(g, { maxWidth: 2 });
  const cut = resolveCut(g, cuts, '39');
  const data = openDataset(EXAMPLE_DATA);
  const codecs = ['fp32', 'int8+deflate', 'pca:c/4+int8+deflate'].map(parseCodec);
  const report = await evaluate(g, { cuts: [cut], codecs, data, calibration: data, samples: 120, byteSamples: 40, calibrationSamples: 40, detail: true });

  it('chooses accuracy for labelled class scores, and says why', () => {
    expect(report.task).toEqual({ metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', kind: 'rate', reason: "chosen: 'logits' [1, 10] holds class scores and the data is labelled (10 classes)" });
    expect(report.full!.samples).toBe(120);
  });

  it('the lossless codec keeps the full model accuracy exactly, and counts its bytes exactly', () => {
    const fp32 = report.cuts[0]!.codecs[0]!;
    expect(fp32.quality).toEqual(report.full);
    expect(fp32.agreement).toBe(1);
    expect(fp32.bytes.mean).toBe(50_176 + 3); // the tensor plus its 3-byte length
    expect(fp32.bytes.samples).toBe(40);
  });

  it('lossy codecs send fewer bytes, with accuracy and a confidence interval', () => {
    const [, int8, pca] = report.cuts[0]!.codecs;
    expect(int8!.bytes.mean).toBeLessThan(50_176 / 4 + 10);
    expect(int8!.agreement).toBeGreaterThan(0.97);
    expect(pca!.bytes.mean).toBeLessThan(int8!.bytes.mean);
    expect(pca!.pcaExplained).toBeGreaterThan(0.5);
    expect(pca!.quality.ci[0]).toBeLessThanOrEqual(pca!.quality.value);
    expect(pca!.quality.ci).toEqual(wilson(pca!.scores!.reduce((a, b) => a + b, 0), 120));
    expect(report.cuts[0]!.front).toContain('pca:c/4+int8+deflate');
  });

  it('adaptive: configurations that cannot meet the QoS stop after the first round with the exhaustive figures of those samples; lossless ones go on', async () => {
    // a floor of 101 % no configuration can meet: every lossy one stops after round 1 (32 samples); fp32 is pinned (it costs nothing)
    const progress: string[] = [];
    const adaptive = await evaluate(g, { cuts: [cut], codecs, data, calibration: data, samples: 120, byteSamples: 40, calibrationSamples: 40, detail: true, adaptive: { tolerance: 0.005, bound: { limit: 1.01, bound: 'min' } }, onProgress: (stage) => progress.push(stage) });
    const [fp32, ...lossy] = adaptive.cuts[0]!.codecs;
    // the progress names the round (32, 64, 120 samples), the configurations still measured and the time left
    const rounds = progress.filter((p) => p.startsWith('evaluate'));
    expect(rounds[0]).toMatch(new RegExp(`^evaluate: round 1/3, ${codecs.length} of ${codecs.length} configurations measured, at most \\d+ s left$`));
    expect(rounds.at(-1)).toMatch(new RegExp(`^evaluate: round 3/3, 1 of ${codecs.length} configurations measured, at most 0 s left$`));
    expect(fp32!.stopped).toBeNull();
    // paired with the full model: fp32 is it (no difference); each lossy codec's difference from its own scores
    expect(fp32!.paired).toMatchObject({ value: 0, samples: 120 });
    expect(fp32!.quality).toEqual(report.cuts[0]!.codecs[0]!.quality);
    for (const [k, e] of lossy.entries()) {
      const exhaustive = report.cuts[0]!.codecs[k + 1]!;
      expect(e.stopped).toBe('below-qos');
      expect(e.quality.samples).toBe(32);
      expect(e.scores).toEqual(exhaustive.scores!.slice(0, 32));
      expect(e.predictions).toEqual(exhaustive.predictions!.slice(0, 32));
      expect(e.byteSizes).toEqual(exhaustive.byteSizes!.slice(0, 32));
      expect(e.paired).toEqual(pairedDifference({ kind: 'rate' }, e.scores!, fp32!.scores!));
    }
    expect(report.cuts[0]!.codecs.every((e) => e.stopped === null && e.quality.samples === 120)).toBe(true);
  });

  it('the screen: a settled codec reports upper bounds of its exhaustive figures and a gain within the tolerance, the rest the exhaustive figures exactly', async () => {
    const outclassed = () => true;
    const screened = await evaluate(g, { cuts: [cut], codecs, data, calibration: data, samples: 120, byteSamples: 40, calibrationSamples: 40, detail: true, adaptive: { tolerance: 0.005, outclassed } });
    const full = report.cuts[0]!.codecs[0]!;
    expect(screened.cuts[0]!.codecs[0]).toMatchObject({ stopped: null, quality: full.quality, scores: full.scores });
    let settled = 0;
    for (const [k, e] of screened.cuts[0]!.codecs.entries()) {
      const exhaustive = report.cuts[0]!.codecs[k]!;
      // bytes come from the screen's pass over the same 40 samples either way
      expect(e.byteSizes).toEqual(exhaustive.byteSizes);
      if (e.stopped === 'outclassed') {
        settled++;
        expect(exhaustive.quality.value - full.quality.value).toBeLessThanOrEqual(0.005 + 1e-9);
        expect(e.quality.value).toBeGreaterThanOrEqual(exhaustive.quality.value - 1e-12);
        expect(e.quality.ci[0]).toBeLessThanOrEqual(exhaustive.quality.value);
      } else {
        expect(e.stopped).toBeNull();
        expect(e.scores).toEqual(exhaustive.scores);
      }
    }
    // int8+deflate changes no prediction of the full model's on these images: a tie, settled
    expect(settled).toBeGreaterThanOrEqual(1);
    // where nothing is outclassed, or nothing ties, nothing is settled
    const never = await evaluate(g, { cuts: [cut], codecs, data, calibration: data, samples: 120, byteSamples: 40, calibrationSamples: 40, detail: true, adaptive: { tolerance: 0.005, tie: -1, outclassed } });
    expect(never.cuts[0]!.codecs.map((e) => e.stopped)).toEqual([null, null, null]);
  });

  it('the screen settling every lossy codec runs no round: the lossless codec still has the exhaustive figures of every sample', async () => {
    const progress: string[] = [];
    const screened = await evaluate(g, { cuts: [cut], codecs, data, calibration: data, samples: 120, byteSamples: 40, calibrationSamples: 40, detail: true, adaptive: { tolerance: 1, outclassed: () => true }, onProgress: (stage) => progress.push(stage) });
    expect(screened.cuts[0]!.codecs.map((e) => e.stopped)).toEqual([null, 'outclassed', 'outclassed']);
    expect(screened.cuts[0]!.codecs[0]).toMatchObject({ quality: report.cuts[0]!.codecs[0]!.quality, scores: report.cuts[0]!.codecs[0]!.scores, predictions: report.cuts[0]!.codecs[0]!.predictions, agreement: 1 });
    expect(progress.some((p) => p.includes('round'))).toBe(false);
  });

  it("after the screen the rounds read only the cuts still measured: the other cut's codecs have exactly the exhaustive figures", async () => {
    const other = resolveCut(g, cuts, '41');
    const o = { cuts: [cut, other], codecs, data, calibration: data, samples: 48, byteSamples: 20, calibrationSamples: 40, detail: true };
    const exhaustive = await evaluate(g, o);
    // every gain a tie, but only splits at the first cut beaten: those settle, the other cut's go through the rounds
    const screened = await evaluate(g, { ...o, adaptive: { tolerance: 1, outclassed: (group: string) => group === cut.id } });
    expect(screened.cuts.map((c) => c.codecs.map((e) => e.stopped))).toEqual([[null, 'outclassed', 'outclassed'], [null, null, null]]);
    expect(screened.cuts[1]!.codecs).toEqual(exhaustive.cuts[1]!.codecs);
  });

  it('the exported head+codec / codec+tail pair predicts and sends exactly what the evaluation reports', async () => {
    for (const k of [1, 2]) {
      const fitted = (await fitCodecs(g, [cut], [codecs[k]!], data, { samples: 40 })).get(cut.id)![0]!;
      const parts = attachCodec(g, splitModel(g, [cut]).parts as [never, never], fitted);
      const sessions = [await createSession(parts[0].proto, g.model.dir), await createSession(parts[1].proto, g.model.dir)] as const;
      const x = data.load([...Array(120).keys()], { channels: 3, height: 224, width: 224 });
      const { outputs, bytes } = await runCodecPair(parts, sessions, fitted, { input: { dtype: DataType.FLOAT, dims: [120, 3, 224, 224], data: x } });
      const logits = outputs.logits!.data as Float32Array;
      const predicted = Array.from({ length: 120 }, (_, n) => {
        const row = Array.from(logits.subarray(n * 10, n * 10 + 10));
        return row.indexOf(Math.max(...row));
      });
      const ev = report.cuts[0]!.codecs[k]!;
      const same = predicted.filter((p, n) => p === ev.predictions![n]).length;
      expect(same / 120, codecs[k]!.name).toBeGreaterThanOrEqual(0.999);
      expect(bytes.slice(0, 40)).toEqual(ev.byteSizes);
      await Promise.all(sessions.map((s) => s.release()));
    }
  });

  it('input baselines: lossless forms keep the accuracy, JPEG shrinks with quality', async () => {
    const base = await inputBaselines(g, data, 24, { jpegQualities: [90, 20] });
    const full = await evaluate(g, { cuts: [cut], codecs: codecs.slice(0, 1), data, calibration: data, samples: 24, byteSamples: 0, calibrationSamples: 8 });
    expect(base.map((b) => b.name)).toEqual(['input tensor (float32)', 'raw image (28x28x1 uint8)', 'PNG', 'JPEG q90', 'JPEG q20']);
    expect(base[0]!.bytes.mean).toBe(602_112);
    expect(base[1]!.bytes.mean).toBe(784);
    expect(base[2]!.quality).toEqual(full.full);
    expect(base[4]!.bytes.mean).toBeLessThan(base[3]!.bytes.mean);
  });

  it('rejects a dataset whose labels exceed the model classes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-12-'));
    for (let c = 0; c < 12; c++) {
      mkdirSync(join(dir, `k${String(c).padStart(2, '0')}`));
      writeFileSync(join(dir, `k${String(c).padStart(2, '0')}`, '0.png'), encodeGrayPng(28, 28, new Uint8Array(784)));
    }
    const wide = openDataset(dir, { resize: true });
    await expect(evaluate(g, { cuts: [cut], codecs: codecs.slice(0, 1), data: wide, calibration: data })).rejects.toThrow(/'logits' \[1, 10\] holds class scores, but the data's labels have 12 classes and the output scores only 10/);
  });
});

/** x [N, 3, 8, 8] -> conv -> relu (r1) -> conv -> sigmoid: a map [N, 1, 8, 8]; and r1 pooled: features [N, 4]. */
function twoOutputs() {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 8, 8]);
  const conv = (x: string, cin: number, cout: number, seed: number, name: string) => b.op('Conv', [x, weights(b, `${name}.w`, [cout, cin, 3, 3], seed), weights(b, `${name}.b`, [cout], seed + 1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { output: name });
  const r1 = b.op('Relu', [conv('x', 3, 4, 1, 'c1')], {}, { output: 'r1' });
  b.op('Sigmoid', [conv(r1, 4, 1, 3, 'c2')], {}, { output: 'map' });
  b.op('Flatten', [b.op('GlobalAveragePool', [r1], {}, { output: 'gap' })], {}, { output: 'features' });
  b.output('map', 'float32', ['batch', 1, 8, 8]);
  b.output('features', 'float32', ['batch', 4]);
  return inMemoryModel(b.build(), 'two-outputs');
}

describe('evaluate under a fidelity metric, on a model with two outputs', async () => {
  const g = await analyzeModel(twoOutputs());
  const cut = findCuts(g, { maxWidth: 1 }).find((c) => c.tensors[0] === 'r1')!;
  const dir = mkdtempSync(join(tmpdir(), 'impera-fidelity-'));
  mkdirSync(join(dir, 'noise'));
  const rand = seededRandom(5);
  for (let k = 0; k < 12; k++) writeFileSync(join(dir, 'noise', `${k}.png`), encodeGrayPng(8, 8, Uint8Array.from({ length: 64 }, () => Math.floor(rand() * 256))));
  const data = openDataset(dir);
  const codecs = ['fp32', 'int8', 'int3'].map(parseCodec);
  const report = await evaluate(g, { cuts: [cut], codecs, data, calibration: data, byteSamples: 2, calibrationSamples: 12, batchSize: 5, detail: true, task: { metric: 'rel-l2' } });

  it('reads every output, has no full-model figure (it is the reference), and fp32 is exact', () => {
    expect(report.task).toMatchObject({ metric: 'rel-l2', better: 'lower', reason: "set: rel-l2 on 'map' [1, 1, 8, 8], 'features' [1, 4]" });
    expect(report.full).toBeNull();
    const [fp32, int8, int3] = report.cuts[0]!.codecs;
    expect(fp32!.quality).toMatchObject({ value: 0, ci: [0, 0], samples: 12 });
    expect(fp32!.agreement).toBeNull();
    expect(int8!.quality.value).toBeGreaterThan(0);
    expect(int3!.quality.value).toBeGreaterThan(int8!.quality.value);
    expect(report.cuts[0]!.front).toEqual(['int3', 'int8', 'fp32']);
  });

  it("each sample's score is the mean over outputs of ||y - y_full|| / ||y_full||, y from the exported head+codec / codec+tail pair", async () => {
    const fitted = (await fitCodecs(g, [cut], [codecs[2]!], data, { samples: 12 })).get(cut.id)![0]!;
    const parts = attachCodec(g, splitModel(g, [cut]).parts as [never, never], fitted);
    const sessions = [await createSession(parts[0].proto, g.model.dir), await createSession(parts[1].proto, g.model.dir)] as const;
    const x = data.load([...Array(12).keys()], { channels: 3, height: 8, width: 8 });
    const feeds = { x: { dtype: DataType.FLOAT, dims: [12, 3, 8, 8], data: x } };
    const { outputs } = await runCodecPair(parts, sessions, fitted, feeds);
    const full = await runSession(await createSession(g.proto, g.model.dir), feeds);
    const relL2 = (name: string, n: number): number => {
      const per = full[name]!.data.length / 12;
      const [y, r] = [outputs[name]!.data, full[name]!.data].map((d) => Array.from(d as Float32Array).slice(n * per, (n + 1) * per));
      return Math.hypot(...y!.map((v, i) => v - r![i]!)) / Math.hypot(...r!);
    };
    const expected = Array.from({ length: 12 }, (_, n) => (relL2('map', n) + relL2('features', n)) / 2);
    report.cuts[0]!.codecs[2]!.scores!.forEach((s, n) => expect(s).toBeCloseTo(expected[n]!, 5));
    await Promise.all(sessions.map((s) => s.release()));
  });

  it('chosen automatically, the first output decides: a probability map, scored by IoU', async () => {
    const auto = await evaluate(g, { cuts: [cut], codecs: codecs.slice(0, 1), data, calibration: data, byteSamples: 0, calibrationSamples: 4 });
    expect(auto.task.metric).toBe('map-iou');
    expect(auto.cuts[0]!.codecs[0]!.quality.value).toBe(1);
  });
});
