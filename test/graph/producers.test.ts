/** What made an output, as the task layer reads it: projections, softmaxes and normalisations as exporters write them. */
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { outputProducer } from '../../src/graph/producers.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { weights } from '../helpers/models.js';

/** x [batch, 4, 8] through `tail`, which returns the output tensor's name. */
async function producerAfter(tail: (b: ModelBuilder, x: string) => string): Promise<string | undefined> {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 4, 8]);
  const out = tail(b, 'x');
  b.output(out, 'float32', ['batch', 4, 8]);
  const g = await analyzeModel(inMemoryModel(b.build(), 'producers'));
  return outputProducer(g, out);
}

const c = (b: ModelBuilder, v: number[]) => b.constantNode('float32', v.length === 1 ? [] : [v.length], v);
const mean = (b: ModelBuilder, x: string) => b.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });

describe('outputProducer', () => {
  it('a projection with a bias is linear; a softmax after it is Softmax; moves are looked through', async () => {
    expect(await producerAfter((b, x) => b.op('Add', [b.op('MatMul', [x, weights(b, 'w', [8, 8], 1)]), c(b, [0.5])]))).toBe('linear');
    expect(await producerAfter((b, x) => b.op('Softmax', [b.op('MatMul', [x, weights(b, 'w', [8, 8], 1)])], { axis: -1 }))).toBe('Softmax');
    expect(await producerAfter((b, x) => b.op('Identity', [b.op('Transpose', [b.op('Transpose', [b.op('MatMul', [x, weights(b, 'w', [8, 8], 1)])], { perm: [0, 2, 1] })], { perm: [0, 2, 1] })]))).toBe('MatMul');
  });

  it("a layer norm as PyTorch decomposes it ((x - mean) / sqrt(var + eps) * g + b) and an L2 normalisation are 'normalized'", async () => {
    const layerNorm = await producerAfter((b, x) => {
      const centred = b.op('Sub', [x, mean(b, x)]);
      const std = b.op('Sqrt', [b.op('Add', [mean(b, b.op('Pow', [centred, c(b, [2])])), c(b, [1e-5])])]);
      return b.op('Add', [b.op('Mul', [b.op('Div', [centred, std]), c(b, [1, 1, 1, 1, 1, 1, 1, 1])]), c(b, [0, 0, 0, 0, 0, 0, 0, 0])]);
    });
    expect(layerNorm).toBe('normalized');
    const l2 = await producerAfter((b, x) => b.op('Div', [x, b.op('Clip', [b.op('ReduceL2', [x], { axes: [-1], keepdims: 1 }), c(b, [1e-12])])]));
    expect(l2).toBe('normalized');
  });

  it('a residual sum and a concatenation are what they are', async () => {
    expect(await producerAfter((b, x) => b.op('Add', [x, b.op('Relu', [x])]))).toBe('Add');
    expect(await producerAfter((b, x) => b.op('Concat', [b.op('Slice', [x, b.constantNode('int64', [1], [0]), b.constantNode('int64', [1], [4]), b.constantNode('int64', [1], [2])]), b.op('Sigmoid', [b.op('Slice', [x, b.constantNode('int64', [1], [4]), b.constantNode('int64', [1], [8]), b.constantNode('int64', [1], [2])])])], { axis: 2 }))).toBe('Concat');
  });
});
