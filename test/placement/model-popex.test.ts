import { describe, expect, it } from 'vitest';
import { findCuts } from '../../src/cuts/cuts.js';
import { stretches } from '../../src/cuts/cuts.js';
import { conditionalRates, modelPopex, pathTimes } from '../../src/placement/model-popex.js';
import { expectedTime, type PopexProblem } from '../../src/placement/popex.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes } from '../../src/graph/graph.js';
import { seededRandom } from '../../src/util/random.js';
import { residual } from '../helpers/models.js';

describe('POPEX on a model', () => {
  it('stretches between single-tensor cuts cover every node once, and their prefixes are the heads', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g, { maxWidth: 1 });
    const layers = stretches(g, cuts);
    expect(layers).toHaveLength(cuts.length + 1);
    expect(layers.flat().sort((a, b) => a - b)).toEqual([...runtimeNodes(g)].sort((a, b) => a - b));
    cuts.forEach((c, i) => expect(new Set(layers.slice(0, i + 1).flat())).toEqual(c.head));
  });

  it('E[T] is the share-weighted mean of the path times, for every cut', () => {
    const rand = seededRandom(3);
    for (let trial = 0; trial < 300; trial++) {
      const n = 2 + Math.floor(rand() * 8);
      const befores = [...new Set(Array.from({ length: 3 }, () => 2 + Math.floor(rand() * n)))].sort((a, b) => a - b);
      const p: PopexProblem = {
        edgeMs: Array.from({ length: n }, () => rand() * 10),
        cloudMs: Array.from({ length: n }, () => rand()),
        hopMs: Array.from({ length: n }, () => rand() * 30),
        exits: befores.map((before) => ({ before, probability: rand(), branchMs: rand() })),
      };
      let left = 1;
      const shares = p.exits.map((e) => {
        const s = left * e.probability;
        left -= s;
        return s;
      });
      for (let cut = 0; cut <= n; cut++) {
        const paths = pathTimes(p, cut);
        const mean = shares.reduce((s, sh, k) => s + sh * paths[k]!, 0) + left * paths[paths.length - 1]!;
        expect(mean).toBeCloseTo(expectedTime(p, cut), 9);
      }
    }
  });

  it('turns shares of all samples into the probability of leaving among those that reach each exit', () => {
    const p = conditionalRates([0.5, 0.25, 0.125]);
    [0.5, 0.5, 0.5].forEach((v, i) => expect(p[i]).toBeCloseTo(v, 12));
  });

  it('builds the problem from node times and cut bytes, and agrees with brute force', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g, { maxWidth: 1 });
    const r = modelPopex(g, cuts, [{ cut: cuts[1]!, probability: 0.6, branchMs: 0.1 }], { edgeMs: (l) => 5 * l.length, cloudMs: (l) => l.length, hopMs: (b) => b / 10 }, 2 * 6 * 6 * 4);
    expect(r.problem.edgeMs.reduce((a, b) => a + b, 0)).toBe(5 * runtimeNodes(g).length);
    expect(r.problem.hopMs).toEqual([28.8, ...cuts.map((c) => c.bytes / 10)]);
    expect(r.problem.exits).toEqual([{ before: 3, probability: 0.6, branchMs: 0.1 }]);
    expect(r.plan.expectedMs).toBeCloseTo(r.bruteForce.expectedMs, 12);
  });

  it('refuses an exit at a cut of several tensors, which lies between no two layers', async () => {
    const g = await analyzeModel(residual());
    const wide = findCuts(g, { maxWidth: 2 }).find((c) => c.tensors.length === 2)!;
    const costs = { edgeMs: () => 1, cloudMs: () => 1, hopMs: () => 1 };
    expect(() => modelPopex(g, findCuts(g, { maxWidth: 1 }), [{ cut: wide, probability: 0.5, branchMs: 0.1 }], costs, 100)).toThrow(/exit cut '.*' is not a single-tensor cut \(it has 2 tensors\)/);
  });
});
