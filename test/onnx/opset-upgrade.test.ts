/** When a model may be raised to a later opset (every node keeps its meaning), and the backward graph doing it. */
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../src/autodiff/backward.js';
import type { AttrValue } from '../../src/onnx/attributes.js';
import { ImperaError } from '../../src/errors.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { raiseNodes, upgradeBlocker, withOpset } from '../../src/onnx/opset-upgrade.js';
import { onnx } from '../../src/onnx/proto.js';

/** A graph of one node reading a rank-`rank` tensor 'x'. */
function oneNode(opType: string, attrs: Record<string, AttrValue> = {}, inputs = ['x']): onnx.IGraphProto {
  const b = new ModelBuilder();
  b.node(opType, inputs, attrs, { outputs: ['y'] });
  return { node: b.nodes };
}

const rank = (r: number) => () => r;

describe('upgradeBlocker', () => {
  it('lets through ops whose later versions only add types or optional attributes', () => {
    for (const op of ['Conv', 'Relu', 'MaxPool', 'Gemm', 'Concat', 'Reshape', 'Flatten', 'Gather']) expect(upgradeBlocker(oneNode(op), 7, 16, rank(4)), op).toBeUndefined();
  });

  it('names an op whose attributes became inputs between the two opsets, and only then', () => {
    expect(upgradeBlocker(oneNode('Slice'), 9, 11, rank(4))).toMatch(/Slice node 'y' changes meaning at opset 10/);
    expect(upgradeBlocker(oneNode('Clip'), 9, 11, rank(4))).toMatch(/Clip .* opset 11/);
    expect(upgradeBlocker(oneNode('Clip'), 11, 16, rank(4))).toBeUndefined();
    expect(upgradeBlocker(oneNode('Squeeze'), 11, 16, rank(4))).toMatch(/opset 13/);
    expect(upgradeBlocker(oneNode('ReduceMean'), 13, 16, rank(4))).toBeUndefined();
    expect(upgradeBlocker(oneNode('ReduceMean'), 13, 18, rank(4))).toMatch(/opset 18/);
  });

  it('knows the changes of opsets 18 to 21: reductions and Split at 18, DFT at 20, GroupNormalization at 21', () => {
    for (const op of ['ReduceMax', 'ReduceL2', 'ReduceLogSumExp', 'Split']) expect(upgradeBlocker(oneNode(op), 17, 18, rank(4)), op).toMatch(/changes meaning at opset 18/);
    expect(upgradeBlocker(oneNode('DFT'), 17, 20, rank(4))).toMatch(/DFT .* opset 20/);
    expect(upgradeBlocker(oneNode('GroupNormalization', { num_groups: 2 }), 18, 20, rank(4))).toBeUndefined();
    expect(upgradeBlocker(oneNode('GroupNormalization', { num_groups: 2 }), 18, 21, rank(4))).toMatch(/GroupNormalization .* opset 21/);
    for (const op of ['Pad', 'Resize', 'Gelu', 'LayerNormalization', 'ScatterElements', 'Cast']) expect(upgradeBlocker(oneNode(op), 18, 23, rank(4)), op).toBeUndefined();
  });

  it('keeps a softmax over the last axis across opset 13 and refuses one that flattened several axes', () => {
    expect(upgradeBlocker(oneNode('Softmax', { axis: -1 }), 11, 16, rank(3))).toBeUndefined();
    expect(upgradeBlocker(oneNode('Softmax'), 11, 16, rank(2))).toBeUndefined(); // default axis 1 of [N, C]
    expect(upgradeBlocker(oneNode('Softmax'), 11, 16, rank(3))).toMatch(/Softmax .* opset 13/);
  });

  it('refuses a node carrying an attribute the new opset removed, unless dropping it keeps the meaning', () => {
    expect(upgradeBlocker(oneNode('BatchNormalization', { spatial: 0 }), 7, 9, rank(4))).toMatch(/attribute 'spatial', removed at opset 9/);
    expect(upgradeBlocker(oneNode('BatchNormalization', { spatial: 1 }), 7, 9, rank(4))).toBeUndefined();
    expect(upgradeBlocker(oneNode('Dropout', { ratio: { float: 0.2 } }), 7, 16, rank(4))).toBeUndefined();
    const bn = raiseNodes(oneNode('BatchNormalization', { spatial: 1, epsilon: { float: 1e-3 } }), 7, 16);
    expect(bn.nodes[0]!.attribute!.map((a) => a.name)).toEqual(['epsilon']);
  });

  it("rewrites Upsample's scales attribute as an input at opset 9, and refuses past 9 (removed at 10)", () => {
    const graph = oneNode('Upsample', { mode: 'nearest', scales: { floats: [1, 1, 2, 2] } });
    expect(upgradeBlocker(graph, 7, 9, rank(4))).toBeUndefined();
    const { nodes, initializers } = raiseNodes(graph, 7, 9);
    expect(nodes[0]).toMatchObject({ opType: 'Upsample', input: ['x', 'y::scales'] });
    expect(nodes[0]!.attribute!.map((a) => a.name)).toEqual(['mode']);
    expect(initializers.map((t) => [t.name, [...t.dims!].map(Number)])).toEqual([['y::scales', [4]]]);
    expect(upgradeBlocker(graph, 7, 16, rank(4))).toMatch(/Upsample node 'y' changes meaning/);
    expect(raiseNodes(graph, 9, 16).nodes[0]).toBe(graph.node![0]);
  });

  it('looks inside subgraphs', () => {
    const branch = { ...oneNode('Squeeze'), name: 'then' };
    expect(upgradeBlocker(oneNode('If', { then_branch: branch }, ['c']), 11, 16, rank(4))).toMatch(/Squeeze/);
  });

  it('sets the default domain and keeps the others', () => {
    const model = { opsetImport: [{ domain: 'ai.onnx', version: 9 }, { domain: 'com.microsoft', version: 1 }] };
    expect(withOpset(model, 16).opsetImport).toEqual([{ domain: '', version: 16 }, { domain: 'com.microsoft', version: 1 }]);
  });
});

/** x -> Slice (attribute form) -> MaxPool 3x3 stride 2 (overlapping) -> GAP -> Flatten, at `opset`. */
async function overlappingPool(opset: number) {
  const b = new ModelBuilder({ opset });
  b.input('x', 'float32', ['batch', 2, 7, 7]);
  const s = b.slice('x', [0], [2], [1]);
  const p = b.op('MaxPool', [s], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  b.op('Flatten', [b.op('GlobalAveragePool', [p])], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 2]);
  return analyzeModel(inMemoryModel(b.build()));
}

describe('backward graphs that need a later opset than the model', () => {
  it('are written at that opset when every node keeps its meaning', async () => {
    const bwd = buildBackwardGraph(await overlappingPool(11), { wrt: ['x'] });
    expect(bwd.opset).toBe(16);
    expect(bwd.proto.opsetImport).toEqual([{ domain: '', version: 16 }]);
    expect(bwd.proto.graph!.node!.some((n) => n.opType === 'ScatterElements' && n.attribute!.some((a) => a.name === 'reduction'))).toBe(true);
  });

  it('are refused with the node that would change meaning, and the fix', async () => {
    const g = await overlappingPool(9);
    const error = (() => {
      try {
        buildBackwardGraph(g, { wrt: ['x'] });
      } catch (e) {
        return e as ImperaError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ImperaError);
    expect(error!.code).toBe('NO_GRADIENT');
    expect(error!.message).toMatch(/MaxPool node .* needs opset 16, but the model is opset 9 and cannot be raised: Slice node .* changes meaning at opset 10/);
    expect(error!.hint).toMatch(/re-export the model at opset 16 or later/);
  });

  it('stay at the model opset when no rule needs more', async () => {
    const g = await overlappingPool(16);
    expect(buildBackwardGraph(g, { wrt: ['x'] }).opset).toBe(16);
  });
});
