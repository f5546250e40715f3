import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { encodeNpz, readNpz } from '../../src/data/npz.js';
import { DataType } from '../../src/onnx/dtype.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel, loadModel, saveModel } from '../../src/onnx/io.js';
import { adaptiveRule, downlinkBytesOf, plan } from '../../src/plan/planner.js';
import { readPlanScenario } from '../../src/plan/scenario.js';
import { modelFingerprint, PROFILE_FORMAT, saveProfile } from '../../src/profile/profile-file.js';
import { EXAMPLE_MODEL } from '../../src/util/package.js';
import { chain, weights } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-plan-run-'));
saveModel(chain(), join(dir, 'chain.onnx'));
// a profile "measured on another device": node times only, no memory figure
saveProfile(
  {
    format: PROFILE_FORMAT,
    createdAt: '2026-11-22T00:00:00Z',
    model: { source: 'chain', fingerprint: modelFingerprint(loadModel(join(dir, 'chain.onnx'))), inputShapes: { x: [1, 3, 8, 8] } },
    device: { kind: 'measured', name: 'cam', description: 'test' },
    runtime: null,
    batch: 1,
    nodes: [{ name: 'c1', opType: 'Conv', ms: 0.1 }],
    parts: [],
  },
  join(dir, 'cam.json'),
);
const scenario = (name: string, lines: string[]) => {
  const file = join(dir, name);
  writeFileSync(file, ['model: chain.onnx', ...lines].join('\n'));
  return readPlanScenario(file);
};

describe('plan fails early and says how to fix it', () => {
  it('a chain device from a profile file alone has no memory size: asks for like:', async () => {
    const s = scenario('chain.yaml', ['devices:', '  chain: [{ profile: cam.json }, { profile: cam.json, like: raspberry-pi-4 }]', 'links:', '  chain: [ethernet]']);
    await expect(plan(s, { cache: false })).rejects.toMatchObject({ code: 'BAD_SCENARIO', message: "devices.chain.0: 'cam (measured)' has no memory size, which a chain needs to place its stages", hint: expect.stringMatching(/add like: CATALOG_ID/) });
  });

  it('an unknown exit cut is named by its field before any analysis', async () => {
    const s = scenario('exits.yaml', ['data: fashion-mnist', 'devices:', '  edge: { profile: cam.json, like: raspberry-pi-4 }', "explore: { placements: [local], exits: { at: ['no-such-tensor'] } }"]);
    await expect(plan(s, { cache: false })).rejects.toMatchObject({ code: 'BAD_SCENARIO', message: expect.stringMatching(/^explore\.exits\.at\.0: /) });
  });
});

describe('what comes back to the device', () => {
  it("every output of the model, at the analysed shape: a 640x640 float probability map is 1.6 MB per frame", async () => {
    // a detector's shape: x [1,3,640,640] -> 1x1 conv -> sigmoid map [1,1,640,640], and a score [1,1]
    const b = new ModelBuilder();
    b.input('x', 'float32', [1, 3, 640, 640]);
    const map = b.op('Sigmoid', [b.op('Conv', ['x', weights(b, 'w', [1, 3, 1, 1], 1)], { kernel_shape: [1, 1] })], {}, { output: 'map' });
    b.op('ReduceMax', [map], { axes: [2, 3], keepdims: 0 }, { output: 'score' });
    b.output('map', 'float32', [1, 1, 640, 640]);
    b.output('score', 'float32', [1, 1]);
    const g = await analyzeModel(inMemoryModel(b.build(), 'map'));
    expect(downlinkBytesOf(g)).toBe(640 * 640 * 4 + 4); // 1,638,404 bytes
    expect(downlinkBytesOf(await analyzeModel(chain(1)))).toBe(5 * 4);
  });
});

describe('plan skips saliency when it is not needed or not wanted, and says why', () => {
  // the example classifier (10 classes, as the data has), on the edge device alone
  const local = (name: string, lines: string[]) => {
    const file = join(dir, name);
    writeFileSync(file, [`model: ${EXAMPLE_MODEL}`, 'data: fashion-mnist', 'samples: 8', ...lines, 'devices:', '  edge: raspberry-pi-4'].join('\n'));
    return readPlanScenario(file);
  };

  it('saliency: false in the scenario: no saliency step, the reason in the result', async () => {
    const { result } = await plan(local('off.yaml', ['saliency: false', 'explore: { placements: [local] }']), { cache: false });
    expect(result.saliency).toBeNull();
    expect(result.saliencySkipped).toBe('the scenario says saliency: false');
    expect(result.timings.steps.map((s) => s.step)).not.toContain('saliency (I-SPLIT)');
  });

  it('--no-saliency with explore cuts: peaks is refused before any analysis', async () => {
    await expect(plan(local('peaks.yaml', ['explore: { placements: [local], cuts: peaks }']), { cache: false, saliency: false })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: "explore.cuts 'peaks' needs saliency, which --no-saliency turns off" });
  });
});

describe('the adaptive evaluation rule of a scenario', () => {
  const base = ['devices: { edge: raspberry-pi-4, server: nvidia-t4 }', 'links: { uplink: wifi }'];
  it('max-quality: the QoS floor and the tie tolerance (half a point, or one sample of fewer than 200); other objectives stop only below the bound; the screen ties by the tolerance whatever the objective', () => {
    const s = scenario('rule.yaml', [...base, 'qos: { accuracy: 0.9 }', 'objective: max-accuracy']);
    expect(adaptiveRule(s.config, 1000, true)).toEqual({ tolerance: 0.005, tie: 0.005, bound: { limit: 0.9, bound: 'min' } });
    expect(adaptiveRule(s.config, 100, true)).toEqual({ tolerance: 0.01, tie: 0.01, bound: { limit: 0.9, bound: 'min' } });
    const latency = scenario('rule-latency.yaml', [...base, 'qos: { quality: { max: 0.2 } }', 'objective: min-latency']);
    expect(adaptiveRule(latency.config, 1000, true)).toEqual({ tolerance: Infinity, tie: 0.005, bound: { limit: 0.2, bound: 'max' } });
  });

  it('exhaustive by the scenario or by --exhaustive; without data no bound (estimates are not in its units) and the tolerance in agreement units', () => {
    const s = scenario('rule-exhaustive.yaml', [...base, 'evaluation: exhaustive']);
    expect(adaptiveRule(s.config, 1000, true)).toBeNull();
    const t = scenario('rule-nodata.yaml', [...base, 'qos: { accuracy: 0.9 }', 'modelAccuracy: 0.5']);
    expect(adaptiveRule(t.config, 1000, true, true)).toBeNull();
    expect(adaptiveRule(t.config, 1000, false)).toEqual({ tolerance: 0.01, tie: 0.01 });
  });
});

describe('candidate cuts of a model with a recurrent state beside every activation', () => {
  it("are its narrowest cuts (a PyTorch GRU tagger's h0 + each activation): split configurations are planned, not none", async () => {
    const fixtures = new URL('../fixtures/pytorch-models/', import.meta.url).pathname;
    const data = join(dir, 'gru-rows.npz');
    // the fixture's h0 is [2, N, 32] zeros as PyTorch takes it; data has one row per sample
    const feats = readNpz(join(fixtures, 'gru.npz')).get('feats')!;
    writeFileSync(data, encodeNpz({ feats, h0: { dtype: DataType.FLOAT, dims: [10, 2, 32], data: new Float32Array(640) } }));
    const file = join(dir, 'gru.yaml');
    writeFileSync(file, [`model: ${join(fixtures, 'gru.onnx')}`, 'inputShape: [1, 24, 20]', `data: ${data}`, `calibration: ${data}`, 'samples: 4', 'saliency: false', 'devices: { edge: raspberry-pi-4, server: nvidia-t4 }', 'links: { uplink: wifi }', 'explore: { placements: [split], codecs: [fp32] }'].join('\n'));
    const { result } = await plan(readPlanScenario(file), { cache: false });
    const cuts = result.cuts.map((c: { id: string }) => c.id);
    expect(cuts.length).toBeGreaterThan(0);
    for (const id of cuts) expect(id.split('+')).toContain('h0');
  }, 120_000);
});
