import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes } from '../../src/graph/graph.js';
import { loadProfile, saveProfile } from '../../src/profile/profile-file.js';
import { profileModel, profileSteps, traceScaleFor } from '../../src/profile/profiler.js';
import { standaloneTimes } from '../../src/profile/probes.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { chain } from '../helpers/models.js';

// Few runs: these tests check what a profile holds, not how fast anything is.
const quick = { warmup: 1, minRuns: 2, maxRuns: 4, block: 2, checkEvery: 2, budgetMs: 50 };

describe('profiling a model with ONNX Runtime', () => {
  it('times the full model, the head and tail of each cut and each staging, and predicts each from its nodes', async () => {
    const model = chain();
    const g1 = await analyzeModel(model, { batch: 1 });
    const g2 = await analyzeModel(model, { batch: 2 });
    const steps: string[] = [];
    const options = { threads: 1, cuts: ['r1'], stages: [['r1', 'r2']], measure: quick, onProgress: (s: string) => steps.push(s) };
    const profile = await profileModel([g1, g2], options);

    expect(steps).toHaveLength(profileSteps([g1, g2], options));
    const parts = profile.parts.map((p) => `${p.kind}${p.stage ?? ''} ${p.cut ?? '-'} @${p.batch}`);
    expect(parts).toEqual(['full - @1', 'head r1 @1', 'tail r1 @1', 'stage0 r1,r2 @1', 'stage1 r1,r2 @1', 'stage2 r1,r2 @1', 'full - @2', 'head r1 @2', 'tail r1 @2', 'stage0 r1,r2 @2', 'stage1 r1,r2 @2', 'stage2 r1,r2 @2']);
    for (const p of profile.parts) {
      expect(p.measured!.runs).toBeGreaterThanOrEqual(2);
      expect(p.measured!.minMs).toBeLessThanOrEqual(p.measured!.medianMs);
      expect(p.measured!.medianMs).toBeLessThanOrEqual(p.measured!.p90Ms);
      expect(p.predictedMs).toBeGreaterThan(0);
    }
    // one node record per runtime node and batch, each mapped to the ORT kernel(s) or the node it is fused into
    const names = runtimeNodes(g1).map((i) => g1.nodes[i]!.name).sort();
    for (const batch of [1, 2]) {
      const nodes = profile.nodes.filter((n) => n.batch === batch);
      expect(nodes.map((n) => n.name).sort()).toEqual(names);
      for (const n of nodes) expect(n.fusedInto !== undefined || (n.kernels ?? []).length > 0).toBe(true);
    }
    expect(profile.runtime).toMatchObject({ engine: 'onnxruntime-node', executionProvider: 'cpu', threads: 1, graphOptimization: 'all' });
    expect(profile.device.machine!.peakGflops).toBeGreaterThan(0);
    expect(profile.boundaries!.map((b) => `${b.shape.join('x')}@${b.batch}`).sort()).toEqual(['1x4x8x8@1', '1x5@1', '2x4x8x8@2', '2x5@2']);
    expect(profile.traceScale!.map((s) => s.batch)).toEqual([1, 2]);

    // the file round-trips through the format's schema and is tied to the model
    const path = join(mkdtempSync(join(tmpdir(), 'impera-profiler-')), 'p.json');
    saveProfile(profile, path);
    expect(loadProfile(path, model).parts).toEqual(profile.parts);
  });
});

describe('profiling options', () => {
  it('rejects a thread count that is not a positive integer before running anything', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    for (const threads of [0, -2, 1.5]) {
      await expect(profileModel([g], { threads, cuts: [], stages: [] })).rejects.toThrow(`threads must be a positive integer, got ${threads}`);
    }
  });
});

describe('the scale on traced kernel times', () => {
  it("makes the full model's nodes plus edges its measured median", () => {
    expect(traceScaleFor(1.9, { nodesMs: 2, boundaryMs: 0.1 })).toBeCloseTo(0.9, 12);
  });

  it('leaves the kernels a share when a slow edge probe claims the whole run (a tiny model under load)', () => {
    expect(traceScaleFor(0.012, { nodesMs: 0.015, boundaryMs: 0.013 })).toBe(0.1);
  });
});

describe('standalone probes', () => {
  // opset 11: a detector's score mask as PyTorch exports it there, where ReduceMax takes no uint8 either
  it.each([11, 17])('time a node whose output is a bool mask at opset %i (the probe reduces it after a cast to float: ReduceMax takes no bool)', async (opset) => {
    const b = new ModelBuilder({ opset });
    b.input('x', 'float32', ['batch', 64]);
    b.op('Greater', ['x', b.constantNode('float32', [], [0])], {}, { output: 'mask' });
    b.op('Where', ['mask', 'x', b.op('Neg', ['x'], {}, { output: 'neg' })], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 64]);
    const g = await analyzeModel(inMemoryModel(b.build(), 'mask'));
    const greater = runtimeNodes(g).find((i) => g.nodes[i]!.opType === 'Greater')!;
    const times = await standaloneTimes(g, [greater], 1);
    expect(times.get(greater)).toBeGreaterThanOrEqual(0);
  });
});
