/**
 * `impera plan --export`: the exported deployment runs. Head on the device, tail in the server's model
 * repository and runtime.yaml are written; running the head and then the tail in ONNX Runtime gives the full
 * model's outputs (exactly with fp32 on the wire, within int8 quantisation with a codec).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCuts, type Cut } from '../../src/cuts/cuts.js';
import { openDataset } from '../../src/data/dataset.js';
import { encodeGrayPng } from '../../src/data/images.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { DataType } from '../../src/onnx/dtype.js';
import { loadModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { exportPlan, exportSwitching } from '../../src/runtime/deploy.js';
import { loadSwitchingPlan, SWITCHING_FORMAT, type SwitchingPlan } from '../../src/plan/switching.js';
import { AdaptiveEdge } from '../../src/runtime/edge/adaptive.js';
import { loadRepository } from '../../src/runtime/server/repository.js';
import { serve, type SplitRepo } from '../helpers/runtime.js';
import type { PlanContext } from '../../src/plan/planner.js';
import type { PlanConfiguration, PlanResult } from '../../src/plan/types.js';
import { loadRuntimeConfig } from '../../src/runtime/edge/config.js';
import { seededRandom } from '../../src/util/random.js';
import { chain } from '../helpers/models.js';

const root = mkdtempSync(join(tmpdir(), 'impera-deploy-'));
let g: Graph;
let r1: Cut;
let x: Tensor;

/** What exportPlan reads of a plan's result: its name and latency limit. */
const result: Pick<PlanResult, 'scenario'> = { scenario: { name: 'deploy test', file: null, qos: { latency: { limit: 50, at: 'p95' } }, objective: 'min-latency' } };

function configuration(placement: PlanConfiguration['placement'], codec: string): PlanConfiguration {
  return {
    id: `${placement} ${codec}`,
    placement,
    link: 'wifi',
    cuts: placement === 'split' || placement === 'chain' ? [{ index: r1.index, id: r1.id }] : [],
    devices: ['edge', 'server'],
    codec,
    exits: null,
    latency: { meanMs: 1, p50Ms: 1, p95Ms: 1, p99Ms: 1, source: 'analytic', breakdown: { deviceMs: 1, transferMs: 0, serverMs: 0, queueMs: 0 } },
    quality: { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', value: 1, source: 'estimate' },
    downlinkBytes: 0,
    bytes: 0,
    energyJ: null,
    edgeMemoryBytes: 0,
    throughputFps: 1,
    checks: [],
    feasible: true,
  };
}

/** Twelve seeded-noise 8x8 gray images in one class folder, to fit a codec on. */
function calibrationImages(): string {
  const dir = join(root, 'calibration', 'any');
  mkdirSync(dir, { recursive: true });
  const rand = seededRandom(5);
  for (let k = 0; k < 12; k++) writeFileSync(join(dir, `${k}.png`), encodeGrayPng(8, 8, Uint8Array.from({ length: 64 }, () => Math.floor(rand() * 256))));
  return join(root, 'calibration');
}

const runFile = async (file: string, feeds: Record<string, Tensor>) => run(await createSession(loadModel(file).proto, '.'), feeds);

beforeAll(async () => {
  g = await analyzeModel(chain());
  r1 = findCuts(g, { maxWidth: 1 }).find((c) => c.tensors[0] === 'r1')!;
  const rand = seededRandom(9);
  x = { dtype: DataType.FLOAT, dims: [2, 3, 8, 8], data: Float32Array.from({ length: 2 * 3 * 64 }, () => rand()) };
});

describe('exportPlan', () => {
  it('a split with fp32 on the wire: head, tail repository and runtime.yaml; head then tail is the full model', async () => {
    const dir = join(root, 'fp32');
    const context: PlanContext = { g, cuts: [r1], exits: null, data: null };
    const files = await exportPlan(configuration('split', 'fp32'), context, dir, result);
    expect(files).toEqual(expect.arrayContaining([join(dir, 'configuration.json'), join(dir, 'head.onnx'), join(dir, 'server', 'tail.onnx'), join(dir, 'runtime.yaml')]));
    const config = loadRuntimeConfig(join(dir, 'runtime.yaml'));
    expect(config).toMatchObject({ server: { model: 'tail', protocol: 'binary', wire: 'tensors' }, latencyBudgetMs: 50, fallback: 'local' });
    expect(config.codec).toBeUndefined();
    expect(existsSync(join(dir, 'codec.json'))).toBe(false);

    const full = await run(await createSession(g.model.proto, g.model.dir), { x });
    const head = await runFile(config.head, { x });
    expect(Object.keys(head)).toEqual(['r1']);
    const tail = await runFile(config.tail!, { r1: head.r1! });
    expect(tail.y!.dims).toEqual([2, 5]);
    expect(Array.from(tail.y!.data as Float32Array)).toEqual(Array.from(full.y!.data as Float32Array));
  });

  it('a split with int8: the codec fitted on the calibration images inside the pair, codec.json beside head and tail', async () => {
    const dir = join(root, 'int8');
    const calibration = openDataset(calibrationImages());
    const context: PlanContext = { g, cuts: [r1], exits: null, data: { name: 'calibration', test: calibration, samples: 12, calibration, train: calibration, folder: true } };
    await exportPlan(configuration('split', 'int8'), context, dir, result);
    const config = loadRuntimeConfig(join(dir, 'runtime.yaml'));
    expect(config.server).toMatchObject({ wire: 'packed' });
    expect(config.codec).toBe(join(dir, 'codec.json'));
    expect(existsSync(join(dir, 'server', 'codec.json'))).toBe(true);

    const full = await run(await createSession(g.model.proto, g.model.dir), { x });
    const head = await runFile(config.head, { x });
    expect(Object.keys(head)).toEqual(['r1::wire']);
    const tail = await runFile(config.tail!, head);
    const [want, got] = [full.y!.data as Float32Array, tail.y!.data as Float32Array];
    const scale = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(0.02 * scale);
  });

  it('local: the whole model on the device; a codec without calibration images and a chain are refused with the fix', async () => {
    const context: PlanContext = { g, cuts: [r1], exits: null, data: null };
    const local = join(root, 'local');
    await exportPlan(configuration('local', '-'), context, local, result);
    const full = await run(await createSession(g.model.proto, g.model.dir), { x });
    const y = (await runFile(join(local, 'model.onnx'), { x })).y!;
    expect(Array.from(y.data as Float32Array)).toEqual(Array.from(full.y!.data as Float32Array));

    await expect(exportPlan(configuration('split', 'int8'), context, join(root, 'no-data'), result)).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/calibration images/) });
    await expect(exportPlan(configuration('chain', 'fp32'), context, join(root, 'chain'), result)).rejects.toMatchObject({ code: 'BAD_ARGUMENT', hint: `write its stages with \`impera split MODEL --at ${r1.index} --out DIR\`` });
  });
});

describe('exportSwitching', () => {
  it('writes every option beside one repository holding all tails, which the adaptive edge opens against a real server', async () => {
    const dir = join(root, 'switching-export');
    const calibration = openDataset(calibrationImages());
    const context: PlanContext = { g, cuts: [r1], exits: null, data: { name: 'calibration', test: calibration, samples: 12, calibration, train: calibration, folder: true } };
    const configs = [configuration('split', 'fp32'), configuration('split', 'int8')];
    const option = (name: string, id: string) => ({ name, id, deviceMs: 1, serverMs: 1, share: 1, bytes: 1, goodness: 1 });
    const plan: SwitchingPlan = { format: SWITCHING_FORMAT, plan: 'p', latencyLimitMs: 50, tolerance: 0, hysteresis: { margin: 0.1, frames: 2 }, options: [option('c0', 'split fp32'), option('c1', 'split int8')], grid: { upMbps: [1], rttMs: [0], queueMs: [0] }, winners: [[['c0']]] };
    const files = await exportSwitching(plan, configs, context, dir, result);
    const file = join(dir, 'switching', 'switching.json');
    expect(files).toContain(file);
    const read = loadSwitchingPlan(file);
    expect(read.options.map((o) => o.runtime)).toEqual(['c0/runtime.yaml', 'c1/runtime.yaml']);
    const repo = join(dir, 'switching', 'server');
    const served = loadRepository(repo, { maxBatch: 1 });
    expect(served.map((m) => [m.name, m.wire !== undefined])).toEqual([['c0', false], ['c1', true]]);
    const full = await run(await createSession(g.model.proto, g.model.dir), { x });
    for (const name of ['c0', 'c1']) {
      const config = loadRuntimeConfig(join(dir, 'switching', name, 'runtime.yaml'));
      expect(config.server.model).toBe(name);
      expect(config.tail).toBe(join(repo, name, 'model.onnx'));
      const y = (await runFile(config.tail!, await runFile(config.head, { x }))).y!.data as Float32Array;
      const scale = Math.max(...(full.y!.data as Float32Array).map(Math.abs));
      (full.y!.data as Float32Array).forEach((v, i) => expect(Math.abs(y[i]! - v)).toBeLessThan(0.02 * scale));
    }
    const server = await serve({ dir: repo } as SplitRepo);
    try {
      const edge = await AdaptiveEdge.open(read, file, { url: server.url });
      expect(edge.current).toBe('c0');
      await edge.close();
    } finally {
      await server.close();
    }
  });
});
