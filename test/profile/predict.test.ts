import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes, type Graph } from '../../src/graph/graph.js';
import type { NodeTiming, Profile } from '../../src/profile/profile-file.js';
import { partPredictor, predictionErrors, type PredictionInputs } from '../../src/profile/predict.js';
import { chain } from '../helpers/models.js';

/** chain(): c1 Conv -> r1 Relu -> c2 Conv -> r2 Relu -> gap -> flat -> y Gemm; node times 1, 2, 3, ... ms. */
async function setup(): Promise<{ g: Graph; at: (names: string[]) => Set<number>; inputs: PredictionInputs }> {
  const g = await analyzeModel(chain(), { batch: 1 });
  const order = runtimeNodes(g);
  const outputOf = (i: number) => g.nodes[i]!.outputs[0]!;
  const nodes: NodeTiming[] = order.map((i, k) => ({ name: g.nodes[i]!.name, opType: g.nodes[i]!.opType, ms: k + 1, index: i }));
  const at = (outputs: string[]) => new Set(order.filter((i) => outputs.includes(outputOf(i))));
  const inputs: PredictionInputs = {
    batch: 1,
    nodes,
    blockedTensors: ['r1'],
    boundaries: [
      { batch: 1, shape: [1, 4, 8, 8], outputMs: 0.1, reorderInMs: 0.02, reorderOutMs: 0.03 },
      { batch: 1, shape: [1, 2], outputMs: 0.01, reorderInMs: 0, reorderOutMs: 0 },
      { batch: 1, shape: [1, 6], outputMs: 0.03, reorderInMs: 0, reorderOutMs: 0 },
    ],
  };
  return { g, at, inputs };
}

describe('predicting a part from the full model profile', () => {
  it('sums node times and adds what the part pays at its edges', async () => {
    const { g, at, inputs } = await setup();
    const predict = partPredictor(g, inputs);
    // head up to r1: nodes 1 + 2; r1 is blocked in the full model, so it is converted back (0.03) and handed over (0.1)
    expect(predict(at(['c1', 'r1']))).toEqual({ ms: 3 + 0.13, nodesMs: 3, boundaryMs: expect.closeTo(0.13, 12) });
    // the tail converts r1 into the blocked layout (0.02) and hands over y [1,5], interpolated between [1,2] and [1,6]
    const tail = predict(at(['c2', 'r2', 'gap', 'flat', 'y']));
    expect(tail.nodesMs).toBe(3 + 4 + 5 + 6 + 7);
    expect(tail.boundaryMs).toBeCloseTo(0.02 + 0.025, 12);
  });

  it('hands over several outputs with one fixed run cost', async () => {
    const { g, at, inputs } = await setup();
    // {c1, gap} returns c1 [1,4,8,8] (0.1) and gap [1,4,1,1] (4 elements: 0.02, interpolated between the [1,2] and
    // [1,6] probes); the run's fixed cost, the smallest probe's 0.01, counts once
    const p = partPredictor(g, { ...inputs, blockedTensors: [] })(at(['c1', 'gap']));
    expect(p.nodesMs).toBe(1 + 5);
    expect(p.boundaryMs).toBeCloseTo(0.1 + 0.02 - 0.01, 12);
  });

  it('charges each output at least the fixed run cost where noisy probes extrapolate below it', async () => {
    const { g, at, inputs } = await setup();
    // the probes fall with size ([1,2] 0.05, [1,6] 0.01): [1,4,8,8] extrapolates below zero; {c1, c2} returns c1 and c2
    const boundaries = [
      { batch: 1, shape: [1, 2], outputMs: 0.05, reorderInMs: 0, reorderOutMs: 0 },
      { batch: 1, shape: [1, 6], outputMs: 0.01, reorderInMs: 0, reorderOutMs: 0 },
    ];
    const p = partPredictor(g, { ...inputs, blockedTensors: [], boundaries })(at(['c1', 'c2']));
    expect(p.boundaryMs).toBeCloseTo(0.01, 12);
  });

  it('needs node times at the graph batch', async () => {
    const { g, inputs } = await setup();
    expect(() => partPredictor(g, { ...inputs, nodes: inputs.nodes.map((n) => ({ ...n, batch: 4 })) })).toThrow(/no node times at batch 1/);
  });

  it('reports the relative error of every measured part but the full model', () => {
    const parts: Profile['parts'] = [
      { kind: 'full', cut: null, batch: 1, measured: { runs: 5, minMs: 1, medianMs: 10, p90Ms: 11 }, predictedMs: 12 },
      { kind: 'head', cut: 'a', batch: 1, measured: { runs: 5, minMs: 1, medianMs: 4, p90Ms: 5 }, predictedMs: 5 },
      { kind: 'tail', cut: 'a', batch: 1, measured: { runs: 5, minMs: 1, medianMs: 5, p90Ms: 6 }, predictedMs: 4.5 },
      { kind: 'head', cut: 'b', batch: 1, predictedMs: 4.5 },
    ];
    expect(predictionErrors({ parts }).map((e) => Number(e.toFixed(6)))).toEqual([0.25, -0.1]);
  });
});
