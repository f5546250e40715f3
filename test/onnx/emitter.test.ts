/** The one ONNX node writer: names, constants, and the opset's form of ops whose axes moved to inputs. */
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { Emitter } from '../../src/onnx/emitter.js';
import { createSession, run } from '../../src/ort/session.js';

describe('Emitter', () => {
  it('gives fresh names under its prefix and a chosen output name to the node too', () => {
    const e = new Emitter(17, 'grad');
    const [a, b] = e.node('Split', ['x'], { axis: 0 }, { outputs: 2 });
    expect([a, b]).toEqual(['grad/Split_0', 'grad/Split_1']);
    expect(e.op('Relu', [a!], {}, { output: 'y', domain: 'com.example' })).toBe('y');
    expect(e.nodes[1]).toMatchObject({ name: 'y', opType: 'Relu', domain: 'com.example', input: ['grad/Split_0'], output: ['y'] });
  });

  it('stores equal small constants once as initializers, and Constant nodes only when asked', () => {
    const e = new Emitter(17, 'codec');
    const k = e.constant(DataType.FLOAT, [2], [1, 2]);
    expect(e.constant('float32', [2], [1, 2])).toBe(k);
    expect(e.constant(DataType.FLOAT, [2], [1, 3])).not.toBe(k);
    expect(e.initializers.map((t) => t.name)).toEqual([k, 'codec/const_1']);
    const c = e.constantNode('int64', [1], [7]);
    expect(e.nodes).toHaveLength(1);
    expect(e.nodes[0]).toMatchObject({ opType: 'Constant', output: [c] });
    expect(e.initializers).toHaveLength(2);
  });

  for (const opset of [11, 13, 18]) {
    it(`writes ReduceMean, ReduceSum and Unsqueeze in opset ${opset}'s form, and ONNX Runtime runs them`, async () => {
      const b = new ModelBuilder({ opset });
      b.input('x', 'float32', [2, 3]);
      const mean = b.unsqueeze(b.reduceMean('x', [1], false), [1]);
      b.op('Identity', [b.add(mean, b.reduceSum('x', [0, 1], true))], {}, { output: 'y' });
      b.output('y', 'float32', [2, 1]);
      const axesInputs = b.nodes.filter((n) => ['ReduceMean', 'ReduceSum', 'Unsqueeze'].includes(n.opType)).map((n) => `${n.opType}:${n.input.length}`);
      const form = (op: string, since: number) => `${op}:${opset >= since ? 2 : 1}`;
      expect(axesInputs.sort()).toEqual([form('ReduceMean', 18), form('ReduceSum', 13), form('Unsqueeze', 13)].sort());

      const session = await createSession(b.build(), '.');
      const { y } = await run(session, { x: { dtype: DataType.FLOAT, dims: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) } });
      await session.release();
      expect([...y!.data]).toEqual([2 + 21, 5 + 21]); // row means + the sum of all
      expect(y!.dims).toEqual([2, 1]);
    });
  }
});
