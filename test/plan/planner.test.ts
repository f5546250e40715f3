import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/onnx/io.js';
import { plan } from '../../src/plan/planner.js';
import { readPlanScenario } from '../../src/plan/scenario.js';
import { modelFingerprint, PROFILE_FORMAT, saveProfile } from '../../src/profile/profile-file.js';
import { EXAMPLE_MODEL } from '../../src/util/package.js';
import { chain } from '../helpers/models.js';

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
