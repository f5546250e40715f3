/**
 * The planner's cached analyses on a tiny model and ten images: quality and bytes of cut x codec against the
 * model run directly in ONNX Runtime and the wire format counted by hand, the saliency curve's layers and cuts,
 * and how exits combine with a cut's predictions sample by sample (by hand).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCuts, singleTensorCuts, type Cut } from '../../src/cuts/cuts.js';
import { openDataset } from '../../src/data/dataset.js';
import { encodeGrayPng } from '../../src/data/images.js';
import { argmax, wilson } from '../../src/util/stats.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { DataType } from '../../src/onnx/dtype.js';
import { createSession, run } from '../../src/ort/session.js';
import { combineExits, qualityAnalysis, planData, saliencyAnalysis, topUpAnalysis, type ExitAnalysis, type PlanData } from '../../src/plan/analyses.js';
import { analysisCache } from '../../src/util/analysis-cache.js';
import { candidateLayers } from '../../src/saliency/dataset-saliency.js';
import { seededRandom } from '../../src/util/random.js';
import { pairedDifference } from '../../src/task/quality.js';
import { chain } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-analyses-'));
const CLASSES = 5;
const PER_CLASS = 2;
let g: Graph;
let data: PlanData;
let r1: Cut;

/** Ten seeded-noise 8x8 gray PNGs, two per class folder. */
function writeImages(root: string): void {
  const rand = seededRandom(3);
  for (let c = 0; c < CLASSES; c++) {
    mkdirSync(join(root, `class${c}`), { recursive: true });
    for (let k = 0; k < PER_CLASS; k++) writeFileSync(join(root, `class${c}`, `${k}.png`), encodeGrayPng(8, 8, Uint8Array.from({ length: 64 }, () => Math.floor(rand() * 256))));
  }
}

/** The full model's predictions on the images, run directly in ONNX Runtime: the oracle. */
async function directPredictions(): Promise<number[]> {
  const images = openDataset(join(dir, 'images'));
  const indices = [...Array(images.size).keys()];
  const x = images.load(indices, { channels: 3, height: 8, width: 8 });
  const out = await run(await createSession(g.model.proto, g.model.dir), { x: { dtype: DataType.FLOAT, dims: [indices.length, 3, 8, 8], data: x } });
  const y = out.y!.data as Float32Array;
  return indices.map((i) => argmax(y.subarray(i * CLASSES, (i + 1) * CLASSES)));
}

beforeAll(async () => {
  g = await analyzeModel(chain());
  r1 = findCuts(g, { maxWidth: 1 }).find((c) => c.tensors[0] === 'r1')!;
  writeImages(join(dir, 'images'));
  data = planData('images', { baseDir: dir, samples: 100, calibration: join(dir, 'images'), exits: false }, []);
});

describe('planData', () => {
  it('a folder relative to the scenario: every image tested (samples capped at the folder size), calibration as given', () => {
    expect(data).toMatchObject({ name: join(dir, 'images'), samples: CLASSES * PER_CLASS, folder: true });
    expect(data.test.size).toBe(10);
    expect(data.calibration.name).toBe(join(dir, 'images'));
  });
});

describe('qualityAnalysis', () => {
  it('the full model\'s accuracy and predictions as ONNX Runtime gives them; fp32 at a cut agrees exactly and sends the tensor plus its length', async () => {
    const cache = analysisCache(true, join(dir, 'cache'));
    const { value: a, cached } = await qualityAnalysis(g, [r1], singleTensorCuts(g).at(-1)!, ['fp32'], data, { inputs: false, task: {} }, cache);
    expect(cached).toBe(false);
    const expected = await directPredictions();
    const labels = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]; // class folders in sorted order
    expect(a.labels).toEqual(labels);
    expect(a.full.predictions).toEqual(expected);
    const correct = expected.filter((p, i) => p === labels[i]).length;
    expect(a.task.metric).toBe('accuracy');
    expect(a.full.quality).toMatchObject({ metric: 'accuracy', value: correct / 10, ci: wilson(correct, 10), samples: 10 });
    const [fp32] = a.codecs;
    // r1 is [1, 4, 8, 8] float32 = 1024 bytes, after a 2-byte LEB128 length (1024 >= 128)
    expect(fp32).toMatchObject({ cut: r1.id, codec: 'fp32', lossy: false, bytesMean: 1026, agreement: 1, quality: a.full.quality, predictions: expected });
    expect(a.inputs).toEqual([]);

    // the same inputs again: from the cache, the same figures
    const again = await qualityAnalysis(g, [r1], singleTensorCuts(g).at(-1)!, ['fp32'], data, { inputs: false, task: {} }, cache);
    expect(again).toEqual({ value: a, cached: true });
  });

  it('no cuts (local and remote only): predictions from the full model, no codec figures; remote input encodings on request', async () => {
    const { value: a } = await qualityAnalysis(g, [], singleTensorCuts(g).at(-1)!, ['fp32'], data, { inputs: true, task: {} }, analysisCache(false));
    expect(a.full.predictions).toEqual(await directPredictions());
    expect(a.codecs).toEqual([]);
    expect(a.inputs.length).toBeGreaterThan(0);
    // the input as float32: 3 x 8 x 8 x 4 bytes, and lossless
    const raw = a.inputs.find((i) => /float32/.test(i.name))!;
    expect(raw.bytesMean).toBe(768);
    expect(raw.quality.value).toBe(a.full.quality.value);
  });
});

describe('adaptive quality analysis and its top-up', () => {
  it('codecs stopped after the first round (4 images), then measured on the other 6, have exactly the exhaustive figures', async () => {
    const codecs = ['fp32', 'int8+deflate', 'int4+deflate'];
    const fallback = singleTensorCuts(g).at(-1)!;
    const { value: exhaustive } = await qualityAnalysis(g, [r1], fallback, codecs, data, { inputs: false, task: {} }, analysisCache(false));
    // a floor of 101 % nothing meets: every lossy codec stops after round 1; fp32 (lossless, free) goes on
    const o = { inputs: false, task: {}, adaptive: { tolerance: 0.005, first: 4, bound: { limit: 1.01, bound: 'min' as const } } };
    const cache = analysisCache(true, join(dir, 'cache-topup'));
    const { value: adaptive } = await qualityAnalysis(g, [r1], fallback, codecs, data, o, cache);
    expect(adaptive.codecs.map((c) => [c.codec, c.quality.samples, c.stopped])).toEqual([['fp32', 10, null], ['int8+deflate', 4, 'below-qos'], ['int4+deflate', 4, 'below-qos']]);
    // a stopped codec's figure: the full model's on all 10 images plus its paired difference on the first 4
    const fullScores = adaptive.codecs[0]!.scores;
    for (const c of adaptive.codecs.slice(1)) {
      const d = pairedDifference({ kind: 'rate' }, c.scores, fullScores.slice(0, 4));
      expect(c.quality.value).toBeCloseTo(adaptive.full.quality.value + d.value, 12);
      expect(c.quality.ci).toEqual([adaptive.full.quality.value + d.ci[0], adaptive.full.quality.value + d.ci[1]]);
    }
    const arms = codecs.slice(1).map((codec) => ({ cut: r1, codec }));
    const topped = await topUpAnalysis(g, adaptive, arms, { cuts: [r1], codecs }, data, o, cache);
    expect(topped.cached).toBe(false);
    expect(topped.value.codecs).toEqual(exhaustive.codecs);
    expect(await topUpAnalysis(g, adaptive, arms, { cuts: [r1], codecs }, data, o, cache)).toEqual({ value: topped.value, cached: true });
  });

  it('codecs the screen settled (figures are bounds, no first samples), then measured on every sample, have exactly the exhaustive figures', async () => {
    const codecs = ['fp32', 'int8+deflate', 'int4+deflate'];
    const fallback = singleTensorCuts(g).at(-1)!;
    const { value: exhaustive } = await qualityAnalysis(g, [r1], fallback, codecs, data, { inputs: false, task: {} }, analysisCache(false));
    // every gain is a tie under a tolerance of 1 and every split is beaten: the screen settles every lossy codec
    const o = { inputs: false, task: {}, adaptive: { tolerance: 1, outclassed: () => true } };
    const cache = analysisCache(true, join(dir, 'cache-screen'));
    const { value: adaptive } = await qualityAnalysis(g, [r1], fallback, codecs, data, o, cache);
    expect(adaptive.codecs.map((c) => [c.codec, c.stopped])).toEqual([['fp32', null], ['int8+deflate', 'outclassed'], ['int4+deflate', 'outclassed']]);
    // a settled codec's figure bounds its exhaustive one from above; its bytes are the exhaustive ones
    for (const [k, c] of adaptive.codecs.entries()) {
      expect(c.quality.value).toBeGreaterThanOrEqual(exhaustive.codecs[k]!.quality.value - 1e-12);
      expect(c.byteSizes).toEqual(exhaustive.codecs[k]!.byteSizes);
    }
    const arms = codecs.slice(1).map((codec) => ({ cut: r1, codec }));
    const topped = await topUpAnalysis(g, adaptive, arms, { cuts: [r1], codecs }, data, o, cache);
    expect(topped.value.codecs).toEqual(exhaustive.codecs);
  });
});

describe('saliencyAnalysis', () => {
  it('one log10 CUI per candidate layer in depth order, each with its single-tensor cut', async () => {
    const { value: s } = await saliencyAnalysis(g, data, analysisCache(false));
    expect(s.samples).toBe(10);
    expect(s.curve.map((p) => p.layer)).toEqual(candidateLayers(g));
    const cutOf = new Map(singleTensorCuts(g).map((c) => [c.tensors[0]!, c.index]));
    for (const p of s.curve) expect(p.cut).toBe(cutOf.get(p.layer) ?? null);
    expect(s.curve.filter((p) => p.best)).toHaveLength(1);
  });
});

describe('combineExits', () => {
  // two exits, four samples; labels 0 1 2 3; the path to the end predicts 0 1 2 0 (3 of 4 right)
  const a: ExitAnalysis = {
    exits: [],
    samples: 4,
    taus: [
      {
        tau: 0.9,
        passes: [
          [1, 0, 0, 0], // exit 0 confident on sample 0 only
          [0, 1, 0, 1], // exit 1 on samples 1 and 3
        ],
        preds: [
          [2, 9, 9, 9], // exit 0 wrong on sample 0
          [9, 1, 9, 3], // exit 1 right on 1 and 3
        ],
      },
    ],
    testAccuracy: [],
    ece: [],
  };
  const labels = [0, 1, 2, 3];
  const end = [0, 1, 2, 0];

  it('a sample leaves at the first confident exit on the device, else takes the end prediction', () => {
    // both exits: sample 0 leaves at exit 0 (wrong), 1 and 3 at exit 1 (right), 2 at the end (right): 3 of 4
    expect(combineExits(a, 0, 2, labels, end)).toEqual({ accuracy: 0.75, ci: wilson(3, 4), rates: [0.25, 0.5] });
    // only the first exit on the device: sample 0 leaves (wrong), 1 2 3 take the end (1, 2 right; 3 wrong): 2 of 4
    expect(combineExits(a, 0, 1, labels, end)).toEqual({ accuracy: 0.5, ci: wilson(2, 4), rates: [0.25] });
    // no exit on the device: the end predictions alone
    expect(combineExits(a, 0, 0, labels, end)).toEqual({ accuracy: 0.75, ci: wilson(3, 4), rates: [] });
  });
});
