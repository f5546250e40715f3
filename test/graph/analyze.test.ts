import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { symbolicShape, tensor } from '../../src/graph/graph.js';
import { parseInputShapes } from '../../src/graph/input-shapes.js';
import { DataType } from '../../src/onnx/dtype.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel, loadModel } from '../../src/onnx/io.js';
import { branches, chain, dynamicSequence, fcn, shapeChain, spatialShapes, unknownOp, weights } from '../helpers/models.js';

describe('analyzeModel', () => {
  it('infers every shape at batch 1 by default, and at a chosen batch', async () => {
    const g = await analyzeModel(chain());
    expect(tensor(g, 'r2').shape).toEqual([1, 4, 8, 8]);
    expect(tensor(g, 'y').shape).toEqual([1, 5]);
    expect(tensor(g, 'r2').bytes).toBe(4 * 4 * 8 * 8);
    expect(g.batch).toEqual({ symbol: 'batch', size: 1 });
    const g8 = await analyzeModel(chain(), { batch: 8 });
    expect(tensor(g8, 'r2').shape).toEqual([8, 4, 8, 8]);
  });

  it('knows how each dim follows the batch', async () => {
    const g = await analyzeModel(shapeChain(), { batch: 3 });
    expect(tensor(g, 'r').shape).toEqual([3, 6, 2, 2]);
    expect(tensor(g, 'r').batchScale).toEqual([1, 0, 0, 0]);
    expect(tensor(g, 'target').valueFollowsBatch).toBe(true);
    expect(tensor(g, 'target').value?.data).toEqual([3, 6, 2, 2]);
  });

  it('folds shape computations into constants', async () => {
    const g = await analyzeModel(shapeChain());
    for (const n of ['h_shape', 'batch_dim', 'batch_vec', 'target']) expect(tensor(g, n).isStatic).toBe(true);
    expect(tensor(g, 'h').isStatic).toBe(false);
    expect(g.isStaticNode.filter(Boolean).length).toBe(8); // Shape, Gather, Unsqueeze, Concat and four Constants
  });

  it('asks for --input-shape when a dim other than the batch is dynamic', async () => {
    await expect(analyzeModel(dynamicSequence())).rejects.toMatchObject({
      code: 'DYNAMIC_SHAPE',
      message: expect.stringMatching(/dynamic dims beyond the batch: dim 1 \(seq\)/),
      hint: expect.stringMatching(/--input-shape tokens=1,N,8/),
    });
    const g = await analyzeModel(dynamicSequence(), { inputShapes: { tokens: [2, 16, 8] } });
    expect(tensor(g, 'y').shape).toEqual([2, 16, 3]);
  });

  it('learns which dims follow each dynamic input dim from one more shape pass per dim, and names them', async () => {
    const g = await analyzeModel(fcn(), { inputShapes: { x: [1, 2, 8, 12] } });
    // the batch one larger; H and W larger by their largest power-of-two factor (8 and 4), so strides still divide
    expect(g.dynamicDims).toEqual([
      { symbol: 'batch', at: [{ input: 'x', axis: 0 }], size: 1, probe: 2 },
      { symbol: 'H', at: [{ input: 'x', axis: 2 }], size: 8, probe: 16 },
      { symbol: 'W', at: [{ input: 'x', axis: 3 }], size: 12, probe: 16 },
    ]);
    expect(tensor(g, 'r2').shape).toEqual([1, 4, 4, 6]);
    expect(tensor(g, 'r2').shapeAt).toEqual(new Map([['batch', [2, 4, 4, 6]], ['H', [1, 4, 8, 6]], ['W', [1, 4, 4, 8]]]));
    expect(symbolicShape(g, 'r2')).toEqual(['batch', 4, 'H/2', 'W/2']);
    expect(symbolicShape(g, 'y')).toEqual(['batch', 1, 'H', 'W']);
    expect(symbolicShape(g, 'r2', new Set(['H']))).toEqual(['batch', 4, 4, 'W/2']);
    const s = await analyzeModel(spatialShapes(), { inputShapes: { x: [2, 2, 8, 12] } });
    expect(symbolicShape(s, 'flat')).toEqual(['batch', 4, 'H*W']);
  });

  it('keeps a dynamic dim fixed, and warns, when the model does not run at another size of it', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 'L']);
    b.op('Add', ['x', weights(b, 'w', [16], 1)], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 16]);
    const g = await analyzeModel(inMemoryModel(b.build(), 'fixed-length'), { inputShapes: { x: [1, 16] } });
    expect(g.dynamicDims.map((d) => [d.symbol, d.probe])).toEqual([['batch', 2], ['L', undefined]]);
    expect(g.warnings).toEqual(['the model does not run at L = 32: exported parts keep it fixed at 16']);
    expect(symbolicShape(g, 'x')).toEqual(['batch', 16]);
  });

  it('rejects input shapes that contradict the model', async () => {
    await expect(analyzeModel(chain(), { inputShapes: { x: [1, 4, 8, 8] } })).rejects.toThrow(/dim 1 must be 3/);
    await expect(analyzeModel(chain(), { inputShapes: { x: [1, 3, 8] } })).rejects.toThrow(/rank 4/);
    await expect(analyzeModel(chain(), { batch: 0 })).rejects.toThrow(/positive integer/);
  });

  it('gets shapes of ops without a rule from ONNX Runtime and warns that their cost is unknown', async () => {
    const g = await analyzeModel(unknownOp());
    expect(tensor(g, 'det').shape).toEqual([2]);
    expect(tensor(g, 'det').dtype).toBe(DataType.FLOAT);
    expect(tensor(g, 'y').shape).toEqual([2]);
    expect(g.warnings.join('\n')).toMatch(/come from an ONNX Runtime run/);
    expect(g.warnings.join('\n')).toMatch(/cost model does not know Det \(1 node\)/);
    await expect(analyzeModel(unknownOp(), { probe: false })).rejects.toThrow(/no shape rule for Det/);
  });

  it('costs convolutions by their MACs', async () => {
    const g = await analyzeModel(branches());
    const conv = g.nodes.findIndex((n) => n.outputs[0] === 'stem');
    // 3 out channels x 6x6 outputs x (2 in channels x 3x3 kernel)
    expect(g.costs[conv]!.macs).toBe(3 * 36 * 2 * 9);
  });

  it("shapes and costs a PyTorch GRU's layers without ONNX Runtime: 3 gates of hidden x (input + hidden) per step and sample", async () => {
    const model = loadModel(new URL('../fixtures/pytorch-models/gru.onnx', import.meta.url).pathname);
    const g = await analyzeModel(model, { inputShapes: { feats: [2, 24, 20], h0: [2, 2, 32] } });
    expect(g.warnings.join('\n')).not.toMatch(/GRU/);
    const grus = g.nodes.filter((n) => n.opType === 'GRU');
    expect(grus.map((n) => tensor(g, n.outputs[0]!).shape)).toEqual([[24, 1, 2, 32], [24, 1, 2, 32]]);
    // 24 steps x 2 samples x 32 units x 3 gates x (32 inputs + 32 hidden), both layers 32 wide
    for (const n of grus) expect(g.costs[n.index]!.macs).toBe(24 * 2 * 32 * 3 * (32 + 32));
  });
});

describe('parseInputShapes', () => {
  it('reads NAME=dims and bare dims for single-input models', () => {
    expect(parseInputShapes(['1,3,224,224'], ['input'])).toEqual({ input: [1, 3, 224, 224] });
    expect(parseInputShapes(['a=2x4', 'b=2,8'], ['a', 'b'])).toEqual({ a: [2, 4], b: [2, 8] });
  });
  it('rejects bad specs clearly', () => {
    expect(() => parseInputShapes(['1,3'], ['a', 'b'])).toThrow(/does not say which input/);
    expect(() => parseInputShapes(['z=1,3'], ['a'])).toThrow(/'z', which is not an input/);
    expect(() => parseInputShapes(['1,0,3'], ['a'])).toThrow(/positive integer dims/);
    expect(() => parseInputShapes(['a='], ['a'])).toThrow(/positive integer dims/);
  });
});
