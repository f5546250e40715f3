import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { partCost } from '../../src/cost/part.js';
import { findCuts } from '../../src/cuts/cuts.js';
import { ImperaError } from '../../src/errors.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes, type Graph } from '../../src/graph/graph.js';
import { loadModel } from '../../src/onnx/io.js';
import { bruteForceChain, planChain, type ChainDevice, type ChainLink, type ChainObjective, type ChainPlan, type ChainProblem } from '../../src/placement/chain.js';
import { seededRandom } from '../../src/util/random.js';
import { chain, randomChain, randomDag, residual, ZOO } from '../helpers/models.js';

const memoryOf = (g: Graph, nodes: Iterable<number>) => {
  const c = partCost(g, new Set(nodes));
  return c.paramBytes + c.peakActivationBytes;
};

/** A device whose stage time is a fixed overhead plus its own time per node. */
const device = (name: string, memoryBytes: number, nodeMs: (n: number) => number, overheadMs = 0): ChainDevice => ({
  name,
  memoryBytes,
  ms: (nodes) => overheadMs + nodes.reduce((s, n) => s + nodeMs(n), 0),
});
const link = (name: string, latencyMs: number, bytesPerMs: number): ChainLink => ({ name, ms: (bytes) => latencyMs + bytes / bytesPerMs });

/** k devices with random per-node times, random memory (a share of the whole model's, some too small) and links. */
function randomProblem(g: Graph, k: number, rand: () => number): ChainProblem {
  const total = memoryOf(g, runtimeNodes(g));
  const devices = Array.from({ length: k }, (_, j) => {
    const times = new Map(runtimeNodes(g).map((n) => [n, rand() * 10]));
    return device(`d${j}`, Math.max(1, Math.round(total * (0.15 + (1.8 * rand()) / Math.sqrt(k)))), (n) => times.get(n)!, rand() * 2);
  });
  const links = Array.from({ length: k - 1 }, (_, j) => link(`l${j}`, rand() * 3, 1 + rand() * 300));
  return { graph: g, devices, links };
}

/** The DP and brute force agree: both fail alike, or give the same objective (and, for throughput, the same latency). */
function agree(problem: ChainProblem, objective: ChainObjective): ChainPlan | null {
  let brute: ChainPlan;
  try {
    brute = bruteForceChain(problem, objective);
  } catch (e) {
    expect(e).toBeInstanceOf(ImperaError);
    expect(() => planChain(problem, objective)).toThrow((e as Error).message);
    return null;
  }
  const dp = planChain(problem, objective);
  if (objective === 'throughput') expect(dp.bottleneckMs).toBe(brute.bottleneckMs);
  expect(dp.latencyMs).toBeCloseTo(brute.latencyMs, 9);
  for (const s of dp.stages) expect(s.memoryBytes).toBeLessThanOrEqual(s.capacityBytes);
  return dp;
}

describe('planChain on a hand-sized example', () => {
  it('reports each stage and hop from the device and link functions, and sums them into latency and throughput', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const cuts = findCuts(g, { maxWidth: 1 });
    const fast = device('fast', 1e9, () => 1);
    const slow = device('slow', 1e9, () => 2);
    const plan = planChain({ graph: g, devices: [fast, slow], links: [link('wire', 2, 100)] }, 'throughput');
    // 7 one-node stretches: the fast device takes 5 (5 ms), the slow 2 (4 ms); the hop sends the cut after 5
    expect(plan.positions).toEqual([5]);
    expect(plan.stages.map((s) => [s.device, s.role, s.nodes, s.ms])).toEqual([['fast', 'compute', 5, 5], ['slow', 'compute', 2, 4]]);
    expect(plan.cuts.map((c) => c.id)).toEqual([cuts[4]!.id]);
    expect(plan.hops).toEqual([{ link: 'wire', tensor: 'gap', bytes: 16, ms: 2.16 }]);
    expect(plan.stages[0]!.memoryBytes).toBe(memoryOf(g, cuts[4]!.head));
    expect(plan.latencyMs).toBeCloseTo(5 + 2.16 + 4, 12);
    expect(plan.bottleneckMs).toBe(5);
    expect(plan.throughputFps).toBe(200);
    expect(plan.devicesUsed).toBe(2);
  });

  it('tells when fewer devices are better: an idle tail for latency, both devices for a pipelined stream', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const problem = { graph: g, devices: [device('a', 1e9, () => 1), device('b', 1e9, () => 1)], links: [link('slow link', 2, 1000)] };
    const latency = planChain(problem, 'latency');
    expect(latency.stages.map((s) => s.role)).toEqual(['compute', 'idle']);
    expect(latency.hops).toEqual([]);
    expect(latency.devicesUsed).toBe(1);
    expect(latency.latencyMs).toBe(7);
    const stream = planChain(problem, 'throughput');
    expect(stream.devicesUsed).toBe(2);
    expect(stream.bottleneckMs).toBe(4); // 4 nodes | a 3.024 ms hop | 3 nodes (or 3 | hop | 4)
  });

  it('lets a device too small for any layer relay the input to the next one', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const inputBytes = 3 * 8 * 8 * 4;
    const plan = planChain({ graph: g, devices: [device('camera', inputBytes, () => 0.1), device('box', 1e9, () => 1)], links: [link('wifi', 1, 100)] }, 'latency');
    expect(plan.stages.map((s) => [s.role, s.memoryBytes])).toEqual([['relay', inputBytes], ['compute', memoryOf(g, runtimeNodes(g))]]);
    expect(plan.hops).toEqual([{ link: 'wifi', tensor: 'x', bytes: inputBytes, ms: 1 + inputBytes / 100 }]);
    expect(plan.cuts).toEqual([]);
  });

  it('honours memory: the latency optimum moves when the fast device cannot hold it', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const make = (fastMemory: number) => ({ graph: g, devices: [device('fast', fastMemory, () => 1), device('slow', 1e9, () => 5)], links: [link('wire', 0, 1e6)] });
    expect(planChain(make(1e9), 'latency').devicesUsed).toBe(1);
    const limit = memoryOf(g, runtimeNodes(g)) - 1; // the last layer's weights no longer fit
    const plan = planChain(make(limit), 'latency');
    expect(plan.positions).toEqual([6]);
    expect(plan.stages[0]!.memoryBytes).toBeLessThanOrEqual(limit);
  });
});

describe('planChain equals brute force', () => {
  it.each([2, 3, 4])('on 150 random chain models over %i devices, for latency and throughput', async (k) => {
    const rand = seededRandom(100 + k);
    const seen = { feasible: 0, infeasible: 0, fewerDevices: 0, relays: 0, memoryBinds: 0 };
    for (let trial = 0; trial < 150; trial++) {
      const g = await analyzeModel(trial % 3 === 0 ? randomDag(trial, 4 + (trial % 9), 1) : randomChain(trial, 2 + (trial % 7)), { batch: 1 });
      const problem = randomProblem(g, k, rand);
      for (const objective of ['latency', 'throughput'] as const) {
        const plan = agree(problem, objective);
        if (!plan) {
          seen.infeasible++;
          continue;
        }
        seen.feasible++;
        if (plan.devicesUsed < k) seen.fewerDevices++;
        if (plan.stages.some((s) => s.role === 'relay')) seen.relays++;
        const roomy = { ...problem, devices: problem.devices.map((d) => ({ ...d, memoryBytes: 1e12 })) };
        if (planChain(roomy, objective)[objective === 'latency' ? 'latencyMs' : 'bottleneckMs'] < plan[objective === 'latency' ? 'latencyMs' : 'bottleneckMs']) seen.memoryBinds++;
      }
    }
    // the random problems reach every case: infeasible, memory-bound, fewer devices, relays
    expect(seen.infeasible).toBeGreaterThan(5);
    expect(seen.memoryBinds).toBeGreaterThan(5);
    expect(seen.fewerDevices).toBeGreaterThan(5);
    expect(seen.relays).toBeGreaterThan(0);
    expect(seen.feasible + seen.infeasible).toBe(300);
  });

  it('on ResNet-50 and MobileNetV2 (DAGs, 40 and 52 stretches) over 3 and 4 devices, with int8 on the wire', async () => {
    const rand = seededRandom(7);
    for (const name of ['resnet50', 'mobilenet_v2']) {
      const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)), { batch: 1 });
      const total = memoryOf(g, runtimeNodes(g));
      const macs = new Map(runtimeNodes(g).map((n) => [n, g.costs[n]?.macs ?? 0]));
      for (const k of [3, 4]) {
        const devices = Array.from({ length: k }, (_, j) => {
          const macsPerMs = 1e5 + rand() * 1e6;
          return device(`npu${j}`, total * (0.55 + 0.3 * rand()), (n) => 0.01 + macs.get(n)! / macsPerMs);
        });
        const links = Array.from({ length: k - 1 }, (_, j) => link(`eth${j}`, 0.1, 1e3 + rand() * 1e5));
        for (const objective of ['latency', 'throughput'] as const) {
          const plan = agree({ graph: g, devices, links, cutBytes: (c) => c.wireBytes.int8 }, objective)!;
          expect(plan.stretches).toBe(findCuts(g, { maxWidth: 1 }).length + 1);
          expect(plan.devicesUsed).toBeGreaterThanOrEqual(2); // no device holds the whole model
        }
      }
    }
  });
});

describe('planChain rejects bad input clearly', () => {
  const problem = async (devices: ChainDevice[], links: ChainLink[]) => ({ graph: await analyzeModel(chain(), { batch: 1 }), devices, links });

  it('needs exactly one link between consecutive devices', async () => {
    const p = await problem([device('a', 1e9, () => 1), device('b', 1e9, () => 1), device('c', 1e9, () => 1)], [link('ab', 1, 1)]);
    expect(() => planChain(p, 'latency')).toThrow('a chain of 3 devices needs 2 links between them, got 1');
    expect(() => planChain({ ...p, devices: [] }, 'latency')).toThrow('a chain needs at least one device');
  });

  it('needs a positive memory on every device', async () => {
    const p = await problem([device('a', 0, () => 1)], []);
    expect(() => planChain(p, 'latency')).toThrow("device 'a': memory must be a positive number of bytes, got 0");
  });

  it('names the device that is too small, and by how much, when no split fits', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const whole = memoryOf(g, runtimeNodes(g));
    const alone = { graph: g, devices: [device('pi', whole - 1000, () => 1)], links: [] };
    expect(() => planChain(alone, 'latency')).toThrow(/^the model does not fit the chain of 1 device: device 'pi' is too small by .* \(1000 bytes\)/);
    const tiny = { graph: g, devices: [device('pi', 2000, () => 1), device('mcu', 1000, () => 1)], links: [link('spi', 1, 1)] };
    for (const solve of [planChain, bruteForceChain]) {
      try {
        solve(tiny, 'throughput');
        expect.unreachable();
      } catch (e) {
        expect((e as ImperaError).code).toBe('DOES_NOT_FIT');
        expect((e as ImperaError).message).toMatch(/device '(pi|mcu)' is too small by .* even in the closest split/);
        expect((e as ImperaError).hint).toMatch(/more memory, add a device/);
      }
    }
  });

  it('ends stages only at single-tensor cuts in depth order', async () => {
    const g = await analyzeModel(residual(), { batch: 1 });
    const base = { graph: g, devices: [device('a', 1e9, () => 1), device('b', 1e9, () => 1)], links: [link('ab', 1, 1)] };
    const wide = findCuts(g, { maxWidth: 2 }).find((c) => c.tensors.length === 2)!;
    expect(() => planChain({ ...base, boundaries: [wide] }, 'latency')).toThrow(`boundary '${wide.id}' has 2 tensors: chain stages end at single-tensor cuts`);
    const single = findCuts(g, { maxWidth: 1 });
    expect(() => planChain({ ...base, boundaries: [single[2]!, single[1]!] }, 'latency')).toThrow(`boundary '${single[1]!.id}' does not lie after '${single[2]!.id}'`);
  });
});
