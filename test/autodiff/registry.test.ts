/** The gradient-rule registry: rules keyed by (domain, op type) like op rules, clashes refused. */
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../src/autodiff/backward.js';
import { differentiableOps, getGradient, registerGradient } from '../../src/autodiff/registry.js';
import type { GradRule } from '../../src/autodiff/rule.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { registerOpRule } from '../../src/ops/index.js';

/** dx = -dy: a rule no standard op has, so its node shows which rule built the backward graph. */
const negated: GradRule = { grad: (ctx) => [ctx.needs(0) ? ctx.emit.neg(ctx.dy()!) : undefined] };

/** x -> Relu (in `domain`) -> y */
function relu(domain: string) {
  const b = new ModelBuilder();
  b.input('x', 'float32', [2, 3]);
  b.op('Relu', ['x'], {}, { output: 'y', domain });
  b.output('y');
  const proto = b.build();
  if (domain) proto.opsetImport.push({ domain, version: 1 });
  return inMemoryModel(proto, `relu-${domain || 'onnx'}`);
}

const backwardOpTypes = async (domain: string) => {
  const bwd = buildBackwardGraph(await analyzeModel(relu(domain), { probe: false }), { wrt: ['x'], objective: 'seed' });
  return bwd.proto.graph!.node!.map((n) => n.opType);
};

describe('gradient-rule registry', () => {
  it('registers every built-in family (one op of each)', () => {
    expect(differentiableOps()).toEqual(expect.arrayContaining(['Add', 'Conv', 'MatMul', 'MaxPool', 'Softmax', 'Reshape']));
  });

  it('refuses a second rule for an op, naming the way to replace it', () => {
    expect(() => registerGradient('Relu', negated)).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_RULE', message: 'a gradient rule for op Relu is already registered', hint: 'pass { replace: true } to registerGradient to replace it' }),
    );
  });

  it('keys rules by domain: a custom Relu gets only its own rule, the standard Relu keeps the built-in one', async () => {
    registerOpRule('Relu', { infer: (ctx) => [ctx.input(0)] }, { domain: 'com.example' });
    await expect(backwardOpTypes('com.example')).rejects.toMatchObject({ code: 'NO_GRADIENT', message: "cannot differentiate the model: no gradient rule for op com.example.Relu (node 'y')" });

    const builtIn = getGradient('', 'Relu');
    registerGradient('Relu', negated, { domain: 'com.example' });
    expect(getGradient('', 'Relu')).toBe(builtIn);
    expect(await backwardOpTypes('com.example')).toContain('Neg');
    expect(await backwardOpTypes('')).toEqual(expect.arrayContaining(['Relu', 'Greater', 'Mul']));
    expect(await backwardOpTypes('')).not.toContain('Neg');
  });
});
