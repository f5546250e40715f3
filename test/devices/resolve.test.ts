/**
 * Device resolution: a scenario's `this-machine`, catalog id or `{ profile: FILE, like: ID }` becomes a node-time
 * predictor with a name, a catalog entry (memory, power) and a memory size; errors name the scenario field.
 */
import { mkdtempSync } from 'node:fs';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCuts } from '../../src/cuts/cuts.js';
import { findDevice, loadCatalog } from '../../src/devices/catalog.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes, type Graph } from '../../src/graph/graph.js';
import { analysisCache } from '../../src/util/analysis-cache.js';
import { resolveCompute, type ComputeContext } from '../../src/devices/resolve.js';
import { modelFingerprint, PROFILE_FORMAT, saveProfile } from '../../src/profile/profile-file.js';
import { chain } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-compute-'));
const catalog = loadCatalog();
let g: Graph;
const context = (): ComputeContext => ({ catalog, baseDir: dir, cache: analysisCache(false) });

beforeAll(async () => {
  g = await analyzeModel(chain(1));
  // node k (in runtime order) takes k + 1 ms on the camera
  saveProfile(
    {
      format: PROFILE_FORMAT,
      createdAt: '2026-12-07T00:00:00Z',
      model: { source: 'chain', fingerprint: modelFingerprint(g.model), inputShapes: { x: [1, 3, 8, 8] } },
      device: { kind: 'measured', name: 'cam', description: 'test' },
      runtime: null,
      batch: 1,
      nodes: runtimeNodes(g).map((i, k) => ({ name: g.nodes[i]!.name, opType: g.nodes[i]!.opType, ms: k + 1 })),
      parts: [],
    },
    join(dir, 'cam.json'),
  );
});

describe('resolveCompute', () => {
  it('a profile file: the device measured itself; any part is timed as the sum of its nodes', async () => {
    const cam = await resolveCompute(g, { profile: 'cam.json' }, 'devices.edge', context());
    expect(cam).toMatchObject({ name: 'cam (measured)', kind: 'measured', device: null, memoryBytes: Infinity });
    const nodes = runtimeNodes(g); // 7 nodes: 1 + 2 + ... + 7 ms
    expect(cam.ms(nodes)).toBe(28);
    expect(cam.ms(nodes.slice(0, 2))).toBe(1 + 2);
    expect(cam.ms([])).toBe(0);
  });

  it('a profile file like a catalog device takes that device\'s memory and power', async () => {
    const cam = await resolveCompute(g, { profile: 'cam.json', like: 'raspberry-pi-4' }, 'devices.edge', context());
    const pi = findDevice(catalog, 'raspberry-pi-4');
    expect(cam.device).toEqual(pi);
    expect(cam.memoryBytes).toBe(pi.memoryGB * 1e9);
  });

  it('this-machine and a catalog device: one measurement here, the catalog device predicted from it', async () => {
    const steps: string[] = [];
    const ctx = { ...context(), onStep: (step: string) => steps.push(step) };
    const here = await resolveCompute(g, 'this-machine', 'devices.server', ctx);
    const pi = await resolveCompute(g, { device: 'raspberry-pi-4' }, 'devices.edge', ctx);
    expect(steps).toEqual(['profile on this machine']);
    expect(here).toMatchObject({ name: 'this machine (measured)', kind: 'measured', device: null, memoryBytes: totalmem() });
    expect(pi).toMatchObject({ name: 'raspberry-pi-4 (predicted)', kind: 'predicted', device: findDevice(catalog, 'raspberry-pi-4') });
    expect(pi.memoryBytes).toBe(findDevice(catalog, 'raspberry-pi-4').memoryGB * 1e9);
    // node times add up: a head and its tail take as long as the whole model
    const cut = findCuts(g, { maxWidth: 1 }).find((c) => c.tensors[0] === 'r1')!;
    const all = runtimeNodes(g);
    const tail = all.filter((i) => !cut.head.has(i));
    expect(pi.ms(all)).toBeGreaterThan(0);
    expect(pi.ms(cut.head) + pi.ms(tail)).toBeCloseTo(pi.ms(all), 9);
  });

  it('errors name the scenario field and say how to fix it', async () => {
    await expect(resolveCompute(g, 'no-such-device', 'devices.edge', context())).rejects.toMatchObject({ code: 'BAD_SCENARIO', message: expect.stringMatching(/^devices\.edge: unknown device 'no-such-device'/) });
    await expect(resolveCompute(g, { profile: 'cam.json', like: 'nope' }, 'devices.edge.0', context())).rejects.toMatchObject({ code: 'BAD_SCENARIO', message: expect.stringMatching(/^devices\.edge\.0\.like: unknown device 'nope'/) });
    await expect(resolveCompute(g, { profile: 'missing.json' }, 'devices.server', context())).rejects.toMatchObject({ message: expect.stringMatching(/^devices\.server\.profile: .*does not exist/) });
  });
});
