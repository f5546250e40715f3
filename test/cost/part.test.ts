import { describe, expect, it } from 'vitest';
import { modelCost, nodeCosts, partCost } from '../../src/cost/part.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { multiIO, residual, weights } from '../helpers/models.js';

const nodesOf = (g: { nodes: readonly { index: number; outputs: readonly string[] }[] }, outs: string[]) => new Set(g.nodes.filter((n) => outs.includes(n.outputs[0]!)).map((n) => n.index));

describe('partCost', () => {
  it('counts a weight shared by two nodes once', async () => {
    const g = await analyzeModel(multiIO());
    const whole = modelCost(g);
    expect(whole.paramBytes).toBe(4 * 4 * 4);
    expect(whole.params).toBe(16);
    expect(partCost(g, nodesOf(g, ['m1'])).paramBytes).toBe(64);
  });

  it('counts Constant node values as parameters and shape computations as free', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 4]);
    const k = b.constantNode('float32', [4], [1, 2, 3, 4]);
    b.op('Mul', ['x', k], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 4]);
    const g = await analyzeModel(inMemoryModel(b.build()));
    expect(modelCost(g)).toMatchObject({ nodes: 1, params: 4, paramBytes: 16, flops: 4 });
  });

  it('tracks peak activation memory along the schedule', async () => {
    // x(16 B) -> a = Relu(x) -> b = Neg(a) -> c = Add(a, b): at Add, a, b and c are live (48 B)
    const b = new ModelBuilder();
    b.input('x', 'float32', [4]);
    b.op('Relu', ['x'], {}, { output: 'a' });
    b.op('Neg', ['a'], {}, { output: 'b' });
    b.op('Add', ['a', 'b'], {}, { output: 'c' });
    b.output('c', 'float32', [4]);
    const g = await analyzeModel(inMemoryModel(b.build()));
    const cost = modelCost(g);
    expect(cost.peakActivationBytes).toBe(48);
    expect(cost.inputBytes).toBe(16);
    expect(cost.outputBytes).toBe(16);
  });

  it('keeps a head output live to the end of the head', async () => {
    const g = await analyzeModel(residual());
    // head up to m1 hands on a and m1: a stays live while the b1 conv runs
    const head = nodesOf(g, ['stem', 'a', 'b1', 'm1']);
    const cost = partCost(g, head);
    const act = 4 * 4 * 36;
    expect(cost.outputBytes).toBe(2 * act);
    expect(cost.peakActivationBytes).toBe(3 * act);
  });

  it('adds up MACs of convolutions and matrix products', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', [2, 3, 5, 5]);
    const w = weights(b, 'w', [6, 3, 3, 3], 1);
    const c = b.op('Conv', ['x', w], { strides: [2, 2] }, { output: 'c' }); // [2, 6, 2, 2]
    const f = b.op('Flatten', [c], {}, { output: 'f' }); // [2, 24]
    b.op('MatMul', [f, weights(b, 'm', [24, 7], 2)], {}, { output: 'y' });
    b.output('y', 'float32', [2, 7]);
    const g = await analyzeModel(inMemoryModel(b.build()));
    expect(modelCost(g).macs).toBe(2 * 6 * 2 * 2 * 3 * 9 + 2 * 24 * 7);
  });
});

describe('nodeCosts', () => {
  it('lists each node run per inference with its work, weights and activation traffic', async () => {
    const g = await analyzeModel(residual());
    const nodes = nodeCosts(g);
    expect(nodes.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'Conv', 'Relu', 'Conv', 'Add', 'Relu', 'GlobalAveragePool', 'Flatten']);
    const b2 = nodes.find((n) => n.name === g.nodes.find((x) => x.outputs[0] === 'b2')!.name)!;
    expect(b2).toMatchObject({ macs: 4 * 36 * 4 * 9, known: true, paramBytes: (4 * 4 * 9 + 4) * 4, inputBytes: 4 * 36 * 4, outputBytes: 4 * 36 * 4 });
    expect(nodes.reduce((s, n) => s + n.flops, 0)).toBe(modelCost(g).flops);
  });
});
