/**
 * Model-local functions inlined at load (src/onnx/functions.ts). Oracle: ONNX Runtime running the model as written,
 * which expands the functions itself; the inlined model gives the same outputs, holds no call left, and its parts
 * compose back into the model. Models: a TorchScript export with export_modules_as_functions
 * (test/fixtures/pytorch-functions, made by its make_modules.py: functions call functions three deep and a
 * convolution's strides come through two attribute references); one built here as PyTorch's dynamo exporter writes
 * them (onnxscript functions in `pkg.onnxscript.torch_lib` with attribute defaults, a function written for an
 * older opset, a subgraph inside a body, one function called three times); the opset-21 dynamo-style export of
 * test/helpers/dynamo.ts. Where ONNX Runtime refuses the model as written (a function whose output is one of its
 * inputs) or cannot compare (a body at opset 8), the inlined model is checked against the closed form.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findCuts } from '../../src/cuts/cuts.js';
import { splitModel } from '../../src/export/split.js';
import { verifyParts } from '../../src/export/verify.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { attrInts } from '../../src/onnx/attributes.js';
import { ModelBuilder, valueInfo } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inlineFunctions } from '../../src/onnx/functions.js';
import { decodeModel, inMemoryModel, loadModel } from '../../src/onnx/io.js';
import { onnx, type ModelProto, type NodeProto } from '../../src/onnx/proto.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run, type Feeds } from '../../src/ort/session.js';
import { isImperaError } from '../../src/errors.js';
import { readNpy } from '../../src/data/npy.js';
import { randomValues } from '../autodiff/gradcheck.js';
import { dynamoExport, localFunction, reference, SUBGRAPHS, TORCH_LIB, TORCH_LIB_COMMON } from '../helpers/dynamo.js';
import { weights } from '../helpers/models.js';

const FIXTURE = new URL('../fixtures/pytorch-functions/', import.meta.url).pathname;

async function outputs(proto: ModelProto, feeds: Feeds): Promise<Record<string, Tensor>> {
  const session = await createSession(proto, '.', { optimization: 'disabled' });
  try {
    return await run(session, feeds);
  } finally {
    await session.release();
  }
}

/** Every node of the graph and its subgraphs. */
const allNodes = (nodes: readonly NodeProto[]): NodeProto[] => nodes.flatMap((n) => [n, ...(n.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])].flatMap((g) => allNodes(g.node ?? [])))]);

/** The inlined model is plain ONNX: no function left, every value written once, every node named once. */
function expectPlain(proto: ModelProto, functionDomains: readonly string[]): void {
  expect(proto.functions).toEqual([]);
  const nodes = allNodes(proto.graph!.node!);
  for (const n of nodes) expect(functionDomains).not.toContain(n.domain ?? '');
  const written = nodes.flatMap((n) => n.output!.filter(Boolean));
  expect(new Set(written).size).toBe(written.length);
  expect(new Set(nodes.map((n) => n.name)).size).toBe(nodes.length);
  for (const d of functionDomains) expect(proto.opsetImport!.map((o) => o.domain)).not.toContain(d);
}

/** Outputs of the original (ORT expands its functions) and of the inlined model agree to float32 rounding. */
async function expectSameOutputs(original: ModelProto, inlined: ModelProto, feeds: Feeds): Promise<void> {
  const [want, got] = [await outputs(original, feeds), await outputs(inlined, feeds)];
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    expect(got[name]!.dims).toEqual(w.dims);
    const scale = Math.max(...Array.from(w.data as Float32Array, Math.abs));
    expect(scale).toBeGreaterThan(0);
    Array.from(got[name]!.data as Float32Array).forEach((v, i) => expect(Math.abs(v - (w.data as Float32Array)[i]!)).toBeLessThanOrEqual(1e-6 * scale));
  }
}

/** Every cut of one tensor splits the inlined model into parts that compose to it (ORT, optimisations off). */
async function expectPartsCompose(proto: ModelProto, feeds: Feeds, source: string): Promise<number> {
  const g = await analyzeModel(inMemoryModel(proto, source));
  const singles = findCuts(g).filter((c) => c.tensors.length === 1);
  expect(singles.length).toBeGreaterThan(2);
  for (const cut of singles) {
    const report = await verifyParts(g, splitModel(g, [cut]).parts, feeds);
    expect(report.ok, `cut at ${cut.tensors.join('+')}`).toBe(true);
  }
  return singles.length;
}

describe('a TorchScript export with export_modules_as_functions (torch 1.13, opset 17)', () => {
  const file = `${FIXTURE}modules.onnx`;
  const original = decodeModel(readFileSync(file));
  const images = readNpy(`${FIXTURE}images.npy`);
  const feeds: Feeds = { x: { dtype: DataType.FLOAT, dims: images.dims, data: images.data } };
  const torchDomains = ['__main__', 'torch.nn.modules.conv', 'torch.nn.modules.activation', 'torch.nn.modules.linear', 'torch.nn.modules.normalization', 'torch.nn.modules.pooling'];

  it('is written as one call to a function that calls functions (as the exporter wrote it)', () => {
    expect(original.graph!.node!.map((n) => `${n.domain}::${n.opType}`)).toEqual(['__main__::Net']);
    expect(original.functions!.length).toBeGreaterThan(5);
  });

  it('loads as plain ops: no call left, the strides each Block passes down two references are kept', () => {
    const { proto } = loadModel(file);
    expectPlain(proto, torchDomains);
    const convs = proto.graph!.node!.filter((n) => n.opType === 'Conv');
    expect(convs.map((n) => attrInts(n, 'strides'))).toEqual([[2, 2], [1, 1], [2, 2]]);
    expect(proto.graph!.node!.map((n) => n.opType)).toContain('LayerNormalization');
  });

  it('gives the outputs ONNX Runtime gives running the functions', async () => {
    await expectSameOutputs(original, loadModel(file).proto, feeds);
  });

  it('splits at every single-tensor cut into parts that compose (split --verify)', async () => {
    await expectPartsCompose(loadModel(file).proto, { x: { ...feeds.x!, dims: [4, 3, 16, 16], data: (images.data as Float32Array).subarray(0, 4 * 768) } }, file);
  });
});

const T = onnx.AttributeProto.AttributeType;
const MODULES = 'pkg.torch.2.1.0';

/**
 * A dynamo-style model at opset 18: Block (a module function) = Conv + aten_leaky_relu with the Block's `slope`
 * passed on by reference; aten_leaky_relu's negative_slope defaults to 0.01; `_aten_gate` holds an If whose
 * branches read the function's values; aten_relu is written for opset 14.
 */
function dynamoStyle(): ModelProto {
  const b = new ModelBuilder({ opset: 18, irVersion: 9, name: 'main_graph' });
  b.input('x', 'float32', ['s0', 3, 8, 8]);
  const call = (opType: string, domain: string, inputs: string[], output: string[], attrs: onnx.IAttributeProto[] = []) =>
    b.nodes.push(onnx.NodeProto.create({ opType, domain, name: `node_${opType}_${b.nodes.length}`, input: inputs, output, attribute: attrs }));
  const slope = (v: number) => onnx.AttributeProto.create({ name: 'slope', type: T.FLOAT, f: v });
  call('Block', MODULES, ['x', weights(b, 'conv1.weight', [6, 3, 3, 3], 1)], ['block1'], [slope(0.2)]);
  call('Block', MODULES, ['block1', weights(b, 'conv2.weight', [6, 6, 3, 3], 2)], ['block2']);
  call('aten_leaky_relu', TORCH_LIB, ['block2'], ['leaky']);
  call('_aten_gate', TORCH_LIB, ['leaky'], ['gated']);
  call('aten_relu', TORCH_LIB, ['gated'], ['relu']);
  b.op('Flatten', [b.op('GlobalAveragePool', ['relu'])], { axis: 1 }, { output: 'flat' });
  b.op('Gemm', ['flat', weights(b, 'fc.weight', [4, 6], 3)], { transB: 1 }, { output: 'logits' });
  b.output('logits', 'float32', ['s0', 4]);
  const model = b.build();
  model.opsetImport.push({ domain: TORCH_LIB, version: 1 }, { domain: MODULES, version: 1 });
  model.functions = [
    localFunction(MODULES, 'Block', { input: ['input', 'weight'], output: ['out'], attribute: [], defaults: [onnx.AttributeProto.create({ name: 'slope', type: T.FLOAT, f: 0.05 })] }, { '': 18, [TORCH_LIB]: 1 }, (e) => {
      e.node('Conv', ['input', 'weight'], { pads: [1, 1, 1, 1] }, { outputs: ['conv'] });
      e.node('aten_leaky_relu', ['conv'], {}, { outputs: ['out'], domain: TORCH_LIB });
      e.nodes.at(-1)!.attribute.push(reference('negative_slope', 'slope', T.FLOAT));
    }),
    localFunction(TORCH_LIB, 'aten_leaky_relu', { input: ['self'], output: ['result'], defaults: [onnx.AttributeProto.create({ name: 'negative_slope', type: T.FLOAT, f: 0.01 })] }, { '': 18 }, (e) => {
      e.node('LeakyRelu', ['self'], {}, { outputs: ['result'] });
      e.nodes.at(-1)!.attribute.push(reference('alpha', 'negative_slope', T.FLOAT));
    }),
    localFunction(TORCH_LIB, '_aten_gate', { input: ['self'], output: ['result'] }, { '': 18 }, (e) => {
      const positive = e.node('Greater', [e.node('ReduceSum', ['self'], { keepdims: 0 })[0]!, e.constantNode(DataType.FLOAT, [], [0])])[0]!;
      const branch = (name: string, op: string) => ({ name, node: [onnx.NodeProto.create({ opType: op, name: `${name}_op`, input: ['self'], output: [`${name}_out`] })], output: [valueInfo(`${name}_out`, 'float32')] });
      e.node('If', [positive], { then_branch: branch('then', 'Sigmoid'), else_branch: branch('else', 'Tanh') }, { outputs: ['gate'] });
      e.node('Mul', ['self', 'gate'], {}, { outputs: ['result'] });
    }),
    localFunction(TORCH_LIB, 'aten_relu', { input: ['self'], output: ['return_val'] }, { '': 14 }, (e) => {
      e.node('Relu', ['self'], {}, { outputs: ['return_val'] });
    }),
  ];
  return model;
}

describe('a model written as PyTorch\'s dynamo exporter writes them (onnxscript functions, opset 18)', () => {
  const original = dynamoStyle();
  const x: Tensor = { dtype: DataType.FLOAT, dims: [3, 3, 8, 8], data: Float32Array.from(randomValues(3 * 192, 4, -1, 1)) };

  it('inlines every call: attribute references and defaults resolved, names unique, opset imports merged', () => {
    const proto = inlineFunctions(original);
    expectPlain(proto, [TORCH_LIB, MODULES]);
    expect(proto.opsetImport!.find((o) => !o.domain)!.version).toBe(18);
    const alphas = proto.graph!.node!.filter((n) => n.opType === 'LeakyRelu').map((n) => n.attribute!.find((a) => a.name === 'alpha')!.f);
    expect(alphas).toEqual([0.2, 0.05, 0.01]);
    for (const n of allNodes(proto.graph!.node!)) expect(n.attribute!.every((a) => !a.refAttrName)).toBe(true);
  });

  it('gives the outputs ONNX Runtime gives running the functions', async () => {
    await expectSameOutputs(original, inlineFunctions(original), { x });
  });

  it('loads as plain ops from bytes and splits into parts that compose', async () => {
    const loaded = inMemoryModel(decodeModel(onnx.ModelProto.encode(original).finish()));
    expect(loaded.proto.functions).toEqual([]);
    await expectPartsCompose(loaded.proto, { x }, 'dynamo-style model');
  });

  it('leaves a model without functions as it is', () => {
    const plain = { ...original, functions: [] } as unknown as ModelProto;
    expect(inlineFunctions(plain)).toBe(plain);
  });
});

describe('a dynamo-style export at opset 21 (test/helpers/dynamo.ts): torch_lib calls calling IsScalar, an If in a body', () => {
  const original = dynamoExport();
  const x: Tensor = { dtype: DataType.FLOAT, dims: [2, 3, 16, 16], data: Float32Array.from(randomValues(2 * 768, 6, 0, 1)) };

  it('inlines to plain ops, the attribute reference inside the If\'s branch resolved to the default', () => {
    const proto = inlineFunctions(original);
    expectPlain(proto, [TORCH_LIB, TORCH_LIB_COMMON, SUBGRAPHS]);
    const mean = allNodes(proto.graph!.node!).find((n) => n.opType === 'ReduceMean')!;
    expect(mean.attribute!.map((a) => [a.name, a.i, Object.hasOwn(a, 'refAttrName')])).toEqual([['keepdims', 0, false]]);
    const split = proto.graph!.node!.find((n) => n.opType === 'Split')!;
    expect(split.attribute!.map((a) => [a.name, a.i])).toEqual([['axis', 1], ['num_outputs', 2]]);
  });

  it('gives the outputs ONNX Runtime gives running the functions', async () => {
    await expectSameOutputs(original, inlineFunctions(original), { x });
  });

  it('splits into parts that compose, its If folded by the analysis', async () => {
    expect(await expectPartsCompose(inlineFunctions(original), { x }, 'dynamo export')).toBeGreaterThan(5);
  });
});

describe('a function whose first output is its input and whose second output the call leaves out', () => {
  it('inlines to an Identity to the call\'s output and the Neg under a fresh name (ONNX Runtime refuses the function itself)', async () => {
    const b = new ModelBuilder({ opset: 18, irVersion: 9 });
    b.input('x', 'float32', [2, 3]);
    b.nodes.push(onnx.NodeProto.create({ opType: 'both', domain: 'local', name: 'call', input: ['x'], output: ['alias'] }));
    b.op('Add', ['alias', 'x'], {}, { output: 'y' });
    b.output('y');
    const model = onnx.ModelProto.create({ ...b.build(), functions: [localFunction('local', 'both', { input: ['self'], output: ['self', 'negated'] }, { '': 18 }, (e) => void e.node('Neg', ['self'], {}, { outputs: ['negated'] }))] });
    const proto = inlineFunctions(model);
    expectPlain(proto, ['local']);
    expect(proto.graph!.node!.map((n) => `${n.opType}(${n.input}) -> ${n.output}`)).toEqual(['Neg(x) -> call/negated', 'Identity(x) -> alias', 'Add(alias,x) -> y']);
    const data = Float32Array.of(1, -2, 3, 0.5, 0, -7);
    expect(Array.from((await outputs(proto, { x: { dtype: DataType.FLOAT, dims: [2, 3], data } })).y!.data as Float32Array)).toEqual(Array.from(data, (v) => 2 * v));
  });
});

describe('a function body written for an older opset than the model', () => {
  it('is raised as a top-level node would be: Upsample\'s scales attribute (opset 8) becomes a Constant input at 9', async () => {
    const b = new ModelBuilder({ opset: 9, irVersion: 8 });
    b.input('x', 'float32', [1, 1, 2, 2]);
    b.nodes.push(onnx.NodeProto.create({ opType: 'up', domain: 'local', name: 'call', input: ['x'], output: ['y'] }));
    b.output('y');
    const up = localFunction('local', 'up', { input: ['a'], output: ['b'] }, { '': 8 }, (e) => void e.node('Upsample', ['a'], { mode: 'nearest', scales: { floats: [1, 1, 2, 2] } }, { outputs: ['b'] }));
    const proto = inlineFunctions(onnx.ModelProto.create({ ...b.build(), functions: [up] }));
    expectPlain(proto, ['local']);
    expect(proto.graph!.node!.map((n) => `${n.opType}(${n.input})`)).toEqual(['Constant()', 'Upsample(x,call/b::scales)']);
    const y = (await outputs(proto, { x: { dtype: DataType.FLOAT, dims: [1, 1, 2, 2], data: Float32Array.of(1, 2, 3, 4) } })).y!;
    expect(Array.from(y.data as Float32Array)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });
});

describe('a function body written for a later opset than the model', () => {
  const model = (topLevel: 'Relu' | 'ReduceMean') => {
    const b = new ModelBuilder({ opset: 17, irVersion: 9 });
    b.input('x', 'float32', [2, 3]);
    b.op(topLevel, ['x'], topLevel === 'ReduceMean' ? { axes: [1], keepdims: 1 } : {}, { output: 'r' });
    b.nodes.push(onnx.NodeProto.create({ opType: 'mean', domain: 'local', name: 'call', input: ['r'], output: ['y'] }));
    b.output('y');
    const mean = localFunction('local', 'mean', { input: ['a'], output: ['b'] }, { '': 18 }, (e) => void e.node('ReduceMean', ['a', e.constantNode(DataType.INT64, [1], [0])], {}, { outputs: ['b'] }));
    return onnx.ModelProto.create({ ...b.build(), functions: [mean] });
  };

  it('raises the model to its opset when every node of the model keeps its meaning there', async () => {
    const proto = inlineFunctions(model('Relu'));
    expect(proto.opsetImport!.find((o) => !o.domain)!.version).toBe(18);
    const y = (await outputs(proto, { x: { dtype: DataType.FLOAT, dims: [2, 3], data: Float32Array.of(1, -2, 3, 5, 4, -1) } })).y!;
    expect(Array.from(y.data as Float32Array)).toEqual([3, 2, 1.5]); // column means of relu(x) = [[1, 0, 3], [5, 4, 0]]
  });

  it('refuses when a node of the model would change meaning (ReduceMean with an axes attribute at 18)', () => {
    expect(() => inlineFunctions(model('ReduceMean'), 'bad.onnx')).toThrow(/^'bad.onnx': the model's graph \(opset 17\) cannot be raised to opset 18, the version its functions use: ReduceMean .* changes meaning at opset 18/);
  });
});

describe('functions impera refuses to inline', () => {
  const refusal = (model: ModelProto): string => {
    try {
      inlineFunctions(model, 'bad.onnx');
    } catch (e) {
      expect(isImperaError(e) && e.code).toBe('INVALID_MODEL');
      return (e as Error).message;
    }
    throw new Error('not refused');
  };
  const calling = (functions: onnx.FunctionProto[], opset = 18): ModelProto => {
    const b = new ModelBuilder({ opset, irVersion: 9 });
    b.input('x', 'float32', [1, 4]);
    b.nodes.push(onnx.NodeProto.create({ opType: functions[0]!.name, domain: 'local', input: ['x'], output: ['y'] }));
    b.output('y');
    return onnx.ModelProto.create({ ...b.build(), functions });
  };

  it('a function that calls itself', () => {
    const loop = localFunction('local', 'f', { input: ['a'], output: ['b'] }, { '': 18, local: 1 }, (e) => void e.node('f', ['a'], {}, { outputs: ['b'], domain: 'local' }));
    expect(refusal(calling([loop]))).toMatch(/'local::f' calls itself/);
  });

  it('a body written for an older opset whose op changed meaning since (ReduceMean\'s axes became an input at 18)', () => {
    const mean = localFunction('local', 'mean', { input: ['a'], output: ['b'] }, { '': 17 }, (e) => void e.node('ReduceMean', ['a'], { axes: [1] }, { outputs: ['b'] }));
    expect(refusal(calling([mean]))).toMatch(/^'bad.onnx': function 'local::mean' \(opset 17\) cannot be raised to opset 18: ReduceMean .* changes meaning at opset 18/);
  });

  it('another domain imported at two versions', () => {
    const two = localFunction('local', 'g', { input: ['a'], output: ['b'] }, { '': 18, 'com.microsoft': 1 }, (e) => void e.node('Relu', ['a'], {}, { outputs: ['b'] }));
    const model = calling([two]);
    model.opsetImport.push({ domain: 'com.microsoft', version: 2 } as onnx.OperatorSetIdProto);
    expect(refusal(model)).toMatch(/domain 'com.microsoft' is imported at opsets 2 and 1/);
  });
});
