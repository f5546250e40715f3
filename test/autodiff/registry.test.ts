/** The gradient-rule registry: rules keyed by (domain, op type) like op rules, clashes refused. */
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../src/autodiff/backward.js';
import { differentiableOps, getGradient, registerGradient } from '../../src/autodiff/registry.js';
import type { GradRule } from '../../src/autodiff/rule.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { registerOpRule } from '../../src/ops/index.js';
import { gradCheck } from './gradcheck.js';

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

/** d/dx x·Φ(x) = Φ(x) + x·φ(x), for ONNX Runtime's contrib op com.microsoft.Gelu (the erf form). */
const geluGradient: GradRule = {
  grad: (ctx) => {
    if (!ctx.needs(0)) return [undefined];
    const [e, x] = [ctx.emit, ctx.x(0)];
    const cdf = e.mul(e.scalar(0.5), e.add(e.scalar(1), e.op('Erf', [e.mul(x, e.scalar(Math.SQRT1_2))])));
    const pdf = e.mul(e.scalar(1 / Math.sqrt(2 * Math.PI)), e.op('Exp', [e.mul(e.scalar(-0.5), e.mul(x, x))]));
    return [e.mul(ctx.dy()!, e.add(cdf, e.mul(x, pdf)))];
  },
};

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
    expect(await backwardOpTypes('')).toEqual(expect.arrayContaining(['Relu', 'HardSigmoid', 'Mul']));
    expect(await backwardOpTypes('')).not.toContain('Neg');
  });

  it('differentiates a custom-domain op with the rule registered for its domain (ONNX Runtime contrib Gelu, finite differences)', async () => {
    registerGradient('Gelu', geluGradient, { domain: 'com.microsoft' });
    const b = new ModelBuilder();
    b.input('x', 'float32', [2, 3]);
    b.op('Gelu', ['x'], {}, { output: 'y', domain: 'com.microsoft' });
    b.output('y', 'float32', [2, 3]);
    const proto = b.build();
    proto.opsetImport.push({ domain: 'com.microsoft', version: 1 });
    const { errors, norms } = await gradCheck(proto, { x: { shape: [2, 3] } }, ['x']);
    expect(norms.x).toBeGreaterThan(1e-3);
    expect(errors.x).toBeLessThan(2e-3);
  });
});
