/** The op-rule registry: the built-in families, custom ops added by (domain, op type), clashes refused. */
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { tensor } from '../../src/graph/graph.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { getOpRule, registerOpRule, registeredOps, type OpRule } from '../../src/ops/index.js';

/** A rule whose output repeats the input `times` times along the last axis: unlike any standard op's. */
const tiled = (times: number): OpRule => ({
  infer: (ctx) => [{ dtype: ctx.input(0).dtype, shape: ctx.input(0).shape.map((d, i, s) => (i === s.length - 1 ? d * times : d)) }],
});

/** x -> Relu -> r -> com.example::Relu -> y */
function customRelu() {
  const b = new ModelBuilder();
  b.input('x', 'float32', [2, 3]);
  const r = b.op('Relu', ['x'], {}, { output: 'r' });
  b.op('Relu', [r], {}, { output: 'y', domain: 'com.example' });
  b.output('y');
  const proto = b.build();
  proto.opsetImport.push({ domain: 'com.example', version: 1 });
  return inMemoryModel(proto, 'custom-relu');
}

describe('op-rule registry', () => {
  it('registers every built-in family (one op of each)', () => {
    expect(registeredOps()).toEqual(expect.arrayContaining(['Add', 'Conv', 'MatMul', 'BatchNormalization', 'ReduceSum', 'Reshape', 'Constant']));
  });

  it('refuses a custom rule for an op that already has one, naming the way to replace it', () => {
    expect(() => registerOpRule('Relu', tiled(2))).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_RULE', message: 'an op rule for op Relu is already registered', hint: 'pass { replace: true } to registerOpRule to replace it' }),
    );
  });

  it('keys custom ops by domain: a custom Relu infers with its own rule, the standard Relu with the built-in one', async () => {
    const builtIn = getOpRule('', 'Relu');
    registerOpRule('Relu', tiled(2), { domain: 'com.example' });
    expect(getOpRule('', 'Relu')).toBe(builtIn);
    const g = await analyzeModel(customRelu(), { probe: false });
    expect(tensor(g, 'r').shape).toEqual([2, 3]);
    expect(tensor(g, 'y').shape).toEqual([2, 6]);

    expect(() => registerOpRule('Relu', tiled(3), { domain: 'com.example' })).toThrow(/an op rule for op Relu in domain 'com.example' is already registered/);
    registerOpRule('Relu', tiled(3), { domain: 'com.example', replace: true });
    expect(tensor(await analyzeModel(customRelu(), { probe: false }), 'y').shape).toEqual([2, 9]);
  });
});
