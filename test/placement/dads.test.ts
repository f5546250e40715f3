import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCuts } from '../../src/cuts/cuts.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes, tensor, type Graph } from '../../src/graph/graph.js';
import { loadModel } from '../../src/onnx/io.js';
import { bestEnumeratedCut, dadsPartition, splitLatency, transferFromBytes, type EdgeCloudCosts } from '../../src/placement/dads.js';
import { minCut } from '../../src/placement/maxflow.js';
import { seededRandom } from '../../src/util/random.js';
import { chain, randomDag, residual, ZOO } from '../helpers/models.js';

const producerOf = (g: Graph, name: string) => tensor(g, name).producer;

/** The least latency over every set of edge nodes closed under ancestors (enumerated node by node in topological order). */
function bruteForce(g: Graph, costs: EdgeCloudCosts): number {
  const order = runtimeNodes(g);
  const runtime = new Set(order);
  const parents = new Map(order.map((n) => [n, g.nodes[n]!.reads.map((r) => g.tensors.get(r)?.producer ?? -1).filter((p) => runtime.has(p))]));
  let best = Infinity;
  const visit = (i: number, edge: Set<number>) => {
    if (i === order.length) {
      best = Math.min(best, splitLatency(g, costs, edge).latencyMs);
      return;
    }
    const n = order[i]!;
    visit(i + 1, edge);
    if (parents.get(n)!.every((p) => edge.has(p))) visit(i + 1, new Set([...edge, n]));
  };
  visit(0, new Set());
  return best;
}

/** Costs from MACs at an edge and a cloud speed (MAC per ms) with a small fixed cost per node, transfer at `mbps`. */
function macCosts(g: Graph, edgeMacsPerMs: number, cloudMacsPerMs: number, mbps: number): EdgeCloudCosts {
  const macs = (n: number) => g.costs[n]?.macs ?? 0;
  return {
    edgeMs: (n) => 0.005 + macs(n) / edgeMacsPerMs,
    cloudMs: (n) => 0.002 + macs(n) / cloudMacsPerMs,
    transferMs: transferFromBytes(g, (bytes) => (bytes * 8) / (mbps * 1e3)),
  };
}

describe('minCut', () => {
  it('finds the textbook maximum flow (CLRS fig. 26.6: 23) and its cut', () => {
    const arcs = [[0, 1, 16], [0, 2, 13], [1, 3, 12], [2, 1, 4], [2, 4, 14], [3, 2, 9], [3, 5, 20], [4, 3, 7], [4, 5, 4]].map(([from, to, capacity]) => ({ from: from!, to: to!, capacity: capacity! }));
    const cut = minCut(6, arcs, 0, 5);
    expect(cut.value).toBe(23);
    expect(cut.sourceSide).toEqual([true, true, true, false, true, false]);
  });

  it('never cuts an infinite arc', () => {
    const cut = minCut(3, [{ from: 0, to: 1, capacity: Infinity }, { from: 1, to: 2, capacity: 5 }, { from: 0, to: 2, capacity: 1 }], 0, 2);
    expect(cut.value).toBe(6);
    expect(cut.sourceSide).toEqual([true, true, false]);
  });
});

describe('dadsPartition', () => {
  it('sends a tensor read by several cloud nodes once', async () => {
    const g = await analyzeModel(residual(), { batch: 1 });
    const cheapOnEdge = new Set([producerOf(g, 'stem'), producerOf(g, 'a')]);
    const costs: EdgeCloudCosts = { edgeMs: (n) => (cheapOnEdge.has(n) ? 0 : 100), cloudMs: () => 1, transferMs: (t) => (t === 'a' ? 1 : 1000) };
    const r = dadsPartition(g, costs);
    expect(r.tensors).toEqual(['a']); // read by the branch conv and by the Add, both in the cloud
    expect([r.edgeMs, r.transferMs, r.cloudMs, r.latencyMs]).toEqual([0, 1, 7, 8]);
    expect(r.flowMs).toBeCloseTo(8, 12);
    expect(r.edgeNodes).toEqual([...cheapOnEdge]);
  });

  it('keeps the input on the device: sending it costs its transfer, and a costly input keeps everything on the edge', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const cloud = dadsPartition(g, { edgeMs: () => 10, cloudMs: () => 0, transferMs: (t) => (t === 'x' ? 3 : 50) });
    expect([cloud.placement, cloud.tensors, cloud.latencyMs]).toEqual(['cloud', ['x'], 3]);
    const edge = dadsPartition(g, { edgeMs: () => 10, cloudMs: () => 0, transferMs: () => 1e6 });
    expect([edge.placement, edge.tensors, edge.latencyMs, edge.edgeNodes]).toEqual(['edge', [], 70, runtimeNodes(g)]);
  });

  it('equals brute force over every valid partition of 120 random DAGs, and the best cut of any width', async () => {
    const rand = seededRandom(11);
    let betterThanSingle = 0;
    for (let seed = 0; seed < 120; seed++) {
      const g = await analyzeModel(randomDag(seed, 4 + (seed % 9), 1 + (seed % 2)), { batch: 1 });
      const edge = new Map(runtimeNodes(g).map((n) => [n, rand() * 3]));
      const cloud = new Map(runtimeNodes(g).map((n) => [n, rand() * 3]));
      const sizes = new Map([...g.tensors.keys()].map((t) => [t, rand() * 2]));
      const costs: EdgeCloudCosts = { edgeMs: (n) => edge.get(n)!, cloudMs: (n) => cloud.get(n)!, transferMs: (t) => sizes.get(t)! };
      const r = dadsPartition(g, costs);
      expect(r.latencyMs).toBeCloseTo(bruteForce(g, costs), 9);
      expect(r.flowMs).toBeCloseTo(r.latencyMs, 9);
      for (const maxWidth of [1, 2, 3]) expect(r.latencyMs).toBeLessThanOrEqual(bestEnumeratedCut(g, costs, findCuts(g, { maxWidth })).latencyMs + 1e-9);
      // every node feeds the output here, so each valid partition is the head of the cut at its frontier
      expect(r.latencyMs).toBeCloseTo(bestEnumeratedCut(g, costs, findCuts(g, { maxWidth: runtimeNodes(g).length })).latencyMs, 9);
      if (r.latencyMs < bestEnumeratedCut(g, costs, findCuts(g, { maxWidth: 1 })).latencyMs - 1e-9) betterThanSingle++;
    }
    expect(betterThanSingle).toBeGreaterThan(10); // the min cut finds partitions that need several tensors
  });

  it('equals the best enumerated cut on chain models (a small chain and VGG16), at several speeds and bandwidths', async () => {
    for (const g of [await analyzeModel(chain(), { batch: 1 }), await analyzeModel(loadModel(join(ZOO, 'vgg16.onnx')), { batch: 1 })]) {
      const cuts = findCuts(g, { maxWidth: 1 });
      expect(cuts.length).toBe(runtimeNodes(g).length - 1); // a chain: every intermediate tensor is a cut
      const placements = new Set<string>();
      for (const [edgeSpeed, cloudSpeed] of [[1e3, 1e5], [1e6, 2e7]]) {
        for (const mbps of [0.1, 10, 1000, 1e5]) {
          const costs = macCosts(g, edgeSpeed!, cloudSpeed!, mbps);
          const r = dadsPartition(g, costs);
          const best = bestEnumeratedCut(g, costs, cuts);
          expect(r.latencyMs).toBeCloseTo(best.latencyMs, 9);
          expect(r.edgeNodes).toEqual(best.cut ? runtimeNodes(g).filter((n) => best.cut!.head.has(n)) : best.edgeNodes);
          placements.add(r.placement);
        }
      }
      expect(placements.size).toBeGreaterThan(1);
    }
  });

  it('is never worse than the best cut of up to 2 tensors on ResNet-50 and MobileNetV2 (MAC-based times, 3 speeds x 5 bandwidths)', async () => {
    const placements = new Map<string, Set<string>>();
    for (const name of ['resnet50', 'mobilenet_v2']) {
      const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)), { batch: 1 });
      const cuts = findCuts(g, { maxWidth: 2 });
      placements.set(name, new Set());
      for (const [edgeSpeed, cloudSpeed] of [[2e5, 1e7], [1e6, 5e7], [5e6, 5e7]]) {
        for (const mbps of [1, 5, 20, 100, 1e4]) {
          const costs = macCosts(g, edgeSpeed!, cloudSpeed!, mbps);
          const r = dadsPartition(g, costs);
          expect(r.latencyMs).toBeLessThanOrEqual(bestEnumeratedCut(g, costs, cuts).latencyMs + 1e-9);
          expect(r.flowMs).toBeCloseTo(r.latencyMs, 6);
          placements.get(name)!.add(r.placement);
        }
      }
    }
    // float32 activations of ResNet-50 are never smaller than the input before layer4, so it runs whole on one side
    expect([...placements.get('resnet50')!].sort()).toEqual(['cloud', 'edge']);
    expect([...placements.get('mobilenet_v2')!].sort()).toEqual(['cloud', 'edge', 'split']);
  });
});

describe('the edge/cloud cost model rejects bad input clearly', () => {
  it('refuses negative or non-finite costs, naming the node or tensor', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const conv = g.nodes[producerOf(g, 'c1')]!.name;
    expect(() => dadsPartition(g, { edgeMs: () => -1, cloudMs: () => 1, transferMs: () => 1 })).toThrow(`on the edge, node '${conv}' costs -1 ms: costs must be finite numbers >= 0`);
    expect(() => dadsPartition(g, { edgeMs: () => 1, cloudMs: () => 1, transferMs: () => NaN })).toThrow("sending tensor 'x' costs NaN ms");
  });

  it('refuses an edge part that reads from the cloud', async () => {
    const g = await analyzeModel(chain(), { batch: 1 });
    const costs: EdgeCloudCosts = { edgeMs: () => 1, cloudMs: () => 1, transferMs: () => 1 };
    expect(() => splitLatency(g, costs, new Set([producerOf(g, 'r1')]))).toThrow(/on the edge reads 'c1', which is computed in the cloud/);
  });
});
