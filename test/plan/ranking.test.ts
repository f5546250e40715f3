/** The candidate ranking `impera rank` and the planner share, on a model with a known information bottleneck. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { singleTensorCuts } from '../../src/cuts/cuts.js';
import { openDataset } from '../../src/data/dataset.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { loadModel } from '../../src/onnx/io.js';
import { planData, rankAnalysis } from '../../src/plan/analyses.js';
import { plan } from '../../src/plan/planner.js';
import { rankCuts } from '../../src/plan/ranking.js';
import { readPlanScenario } from '../../src/plan/scenario.js';
import { runSaliency } from '../../src/saliency/dataset-saliency.js';
import { analysisCache } from '../../src/util/analysis-cache.js';
import { writeBottleneckFixture } from '../bottlenecks/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-rank-'));
const files = writeBottleneckFixture(dir, 32);

describe('rankCuts', () => {
  it('joins depth (head MAC share), the CUI of the saliency pass and the proxies; the open cut ranks first though deeper is the bottleneck', async () => {
    const g = await analyzeModel(loadModel(files.model));
    const cuts = singleTensorCuts(g).filter((c) => ['open', 'hidden'].includes(c.tensors[0]!));
    const data = openDataset(files.data);
    const r = await rankCuts(g, cuts, { data, calibration: openDataset(files.calibration), samples: 32, calibrationSamples: 32 });
    const cui = await runSaliency(g, data, { layers: ['open', 'hidden'], samples: 32 });
    expect(r.candidates.map((c) => [c.tensor, c.cui, c.rank])).toEqual([['open', cui.curve[0]!.cui, 1], ['hidden', cui.curve[1]!.cui, 2]]);
    cuts.forEach((cut, i) => expect(r.candidates[i]!.depth).toBeCloseTo(cut.headCost.macs / (cut.headCost.macs + cut.tailCost.macs), 12));
    expect(r.candidates[0]!.depth).toBeLessThan(r.candidates[1]!.depth);
    expect(r.candidates[0]!.predicted).toBe(1);
  });
});

describe('rankAnalysis', () => {
  it("is the planner's cached analysis: predicted per layer, its peaks, and the same figures from the cache", async () => {
    const g = await analyzeModel(loadModel(files.model));
    const data = planData(files.data, { baseDir: dir, samples: 32, calibration: files.calibration, exits: false }, []);
    const cache = analysisCache(true, mkdtempSync(join(tmpdir(), 'impera-rank-cache-')));
    const first = await rankAnalysis(g, data, ['open', 'hidden'], { samples: 32, ratio: 1 / 64 }, cache);
    expect(first.cached).toBe(false);
    expect(first.value.layers.map((l) => [l.layer, l.predicted, l.peak, l.rank])).toEqual([['open', 1, true, 1], ['hidden', expect.any(Number), false, 2]]);
    const again = await rankAnalysis(g, data, ['open', 'hidden'], { samples: 32, ratio: 1 / 64 }, cache);
    expect(again).toEqual({ value: first.value, cached: true });
  });
});

describe('plan with rank:', () => {
  it('takes the peaks of predicted as candidate cuts and reports the ranking beside the CUI curve', async () => {
    const file = join(dir, 'impera.yaml');
    writeFileSync(file, ['model: model.onnx', 'data: data.npz', 'calibration: calibration.npz', 'samples: 32', 'rank: { samples: 32 }', 'devices: { edge: raspberry-pi-4, server: nvidia-t4 }', 'links: { uplink: wifi }', 'explore: { cuts: peaks, placements: [split], codecs: [fp32] }'].join('\n'));
    const { result } = await plan(readPlanScenario(file), { cache: false });
    const ranking = result.saliency!.ranking!;
    expect(result.saliency!.curve.map((p) => p.layer)).toEqual(ranking.layers.map((l) => l.layer));
    const peaks = ranking.layers.filter((l) => l.peak).map((l) => l.layer);
    expect(peaks).toContain('open');
    expect(peaks).not.toContain('hidden');
    expect(result.cuts.map((c) => c.id)).toEqual(peaks);
  });
});
