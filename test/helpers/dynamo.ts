/**
 * Models as PyTorch's dynamo exporter (torch.onnx.export(..., dynamo=True), torch >= 2) writes them, built in code:
 * that exporter cannot run here (torch 1.13, no onnxscript), so these follow its conventions by hand. The graph
 * calls onnxscript functions of `pkg.onnxscript.torch_lib` (attributes passed by reference, with defaults), which
 * call helpers of `pkg.onnxscript.torch_lib.common` (IsScalar) and hold If nodes on them; modules become functions
 * of `pkg.torch.__subgraph__`; nodes are named `node_<Op>_<k>`, values after the aten op (`conv2d`, `gelu`,
 * `chunk_1`), symbolic dims `s0`, and every intermediate value has a value_info.
 */
import { ModelBuilder, valueInfo, type Dim } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { Emitter } from '../../src/onnx/emitter.js';
import { onnx } from '../../src/onnx/proto.js';
import { weights } from './models.js';

export const TORCH_LIB = 'pkg.onnxscript.torch_lib';
export const TORCH_LIB_COMMON = 'pkg.onnxscript.torch_lib.common';
export const SUBGRAPHS = 'pkg.torch.__subgraph__';

const T = onnx.AttributeProto.AttributeType;

/** An attribute that takes the calling node's attribute `from` (ref_attr_name). */
export const reference = (name: string, from: string, type: onnx.AttributeProto.AttributeType) => onnx.AttributeProto.create({ name, refAttrName: from, type });

/** A default for a function's attribute (attribute_proto). */
export const attributeDefault = (name: string, value: { f: number } | { i: number } | { s: string }): onnx.AttributeProto =>
  onnx.AttributeProto.create({ name, ...('f' in value ? { type: T.FLOAT, f: value.f } : 'i' in value ? { type: T.INT, i: value.i } : { type: T.STRING, s: Buffer.from(value.s) }) });

export interface FunctionSignature {
  input: string[];
  output: string[];
  /** Attribute names without defaults. */
  attribute?: string[];
  defaults?: onnx.AttributeProto[];
}

/** A model-local function whose body `body` writes (an Emitter at the function's default-domain opset; no initializers). */
export function localFunction(domain: string, name: string, signature: FunctionSignature, opsets: Record<string, number>, body: (e: Emitter) => void): onnx.FunctionProto {
  const e = new Emitter(opsets[''] ?? 18, name);
  body(e);
  return onnx.FunctionProto.create({
    domain, name, input: signature.input, output: signature.output, attribute: signature.attribute ?? [], attributeProto: signature.defaults ?? [], node: e.nodes,
    opsetImport: Object.entries(opsets).map(([d, version]) => ({ domain: d, version })),
  });
}

/** The last node `e` wrote, with attribute references added. */
function withReferences(e: Emitter, ...refs: onnx.AttributeProto[]): void {
  e.nodes.at(-1)!.attribute.push(...refs);
}

/** torch_lib's functions and the module function the model below calls, each at `opset`. */
function functions(opset: number): onnx.FunctionProto[] {
  const lib = { '': opset, [TORCH_LIB_COMMON]: 1 };
  return [
    localFunction(TORCH_LIB_COMMON, 'IsScalar', { input: ['input'], output: ['return_val'] }, { '': opset }, (e) => {
      e.node('Equal', [e.op('Size', [e.op('Shape', ['input'])]), e.constantNode(DataType.INT64, [], [0])], {}, { outputs: ['return_val'] });
    }),
    localFunction(TORCH_LIB, 'aten_group_norm', { input: ['input', 'weight', 'bias'], output: ['result'], attribute: ['num_groups'], defaults: [attributeDefault('eps', { f: 1e-5 })] }, lib, (e) => {
      e.node('GroupNormalization', ['input', 'weight', 'bias'], {}, { outputs: ['result'] });
      withReferences(e, reference('num_groups', 'num_groups', T.INT), reference('epsilon', 'eps', T.FLOAT));
    }),
    localFunction(TORCH_LIB, 'aten_gelu', { input: ['self'], output: ['result'], defaults: [attributeDefault('approximate', { s: 'none' })] }, lib, (e) => {
      e.node('Gelu', ['self'], {}, { outputs: ['result'] });
      withReferences(e, reference('approximate', 'approximate', T.STRING));
    }),
    localFunction(TORCH_LIB, 'aten_constant_pad_nd', { input: ['self', 'pad'], output: ['result'], defaults: [attributeDefault('value', { f: 0 })] }, lib, (e) => {
      const value = e.op('Constant', [], {}, { output: 'value_cast' });
      withReferences(e, reference('value_float', 'value', T.FLOAT));
      e.node('Pad', ['self', 'pad', value, e.constantNode(DataType.INT64, [2], [-2, -1])], {}, { outputs: ['result'] });
    }),
    localFunction(TORCH_LIB, 'aten_chunk', { input: ['self'], output: ['chunk_0', 'chunk_1'], attribute: ['chunks'], defaults: [attributeDefault('dim', { i: 0 })] }, lib, (e) => {
      e.node('Split', ['self'], {}, { outputs: ['chunk_0', 'chunk_1'] });
      withReferences(e, reference('axis', 'dim', T.INT), reference('num_outputs', 'chunks', T.INT));
    }),
    localFunction(TORCH_LIB, 'aten_mean_dim', { input: ['self', 'dim'], output: ['result'], defaults: [attributeDefault('keepdim', { i: 0 })] }, lib, (e) => {
      e.node('IsScalar', ['self'], {}, { outputs: ['is_scalar'], domain: TORCH_LIB_COMMON });
      const branch = (name: string, node: onnx.NodeProto) => ({ name, node: [node], output: [valueInfo(node.output[0]!, 'float32')] });
      const mean = onnx.NodeProto.create({ opType: 'ReduceMean', name: 'ReduceMean_mean', input: ['self', 'dim'], output: ['mean'], attribute: [reference('keepdims', 'keepdim', T.INT)] });
      const same = onnx.NodeProto.create({ opType: 'Identity', name: 'Identity_self', input: ['self'], output: ['self_copy'] });
      e.node('If', ['is_scalar'], { then_branch: branch('thenGraph', same), else_branch: branch('elseGraph', mean) }, { outputs: ['result'] });
    }),
    localFunction(SUBGRAPHS, 'torch_nn_modules_normalization_LayerNorm_norm_1', { input: ['l_x_', 'norm.weight', 'norm.bias'], output: ['layer_norm'] }, { '': opset, [TORCH_LIB]: 1 }, (e) => {
      e.node('LayerNormalization', ['l_x_', 'norm.weight', 'norm.bias'], { axis: -1, epsilon: { float: 1e-5 } }, { outputs: ['layer_norm'] });
    }),
  ];
}

/**
 * A small image classifier at `opset` (21 by default: GroupNormalization per channel, Gelu at 20): Conv, torch_lib's
 * group_norm, gelu (tanh), constant_pad_nd (Pad with an axes input), Conv, Relu, chunk (Split with num_outputs),
 * Add, mean over H and W (an If on IsScalar), the LayerNorm module, Gemm. x [s0, 3, 16, 16] -> linear [s0, 4].
 */
export function dynamoExport(opset = 21): onnx.ModelProto {
  const b = new ModelBuilder({ opset, irVersion: 10, name: 'main_graph' });
  const values: onnx.ValueInfoProto[] = [];
  const call = (opType: string, domain: string, inputs: string[], outputs: [string, Dim[]][], attrs: onnx.IAttributeProto[] = []) => {
    b.nodes.push(onnx.NodeProto.create({ opType, domain, name: `node_${opType}_${b.nodes.length}`, input: inputs, output: outputs.map(([o]) => o), attribute: attrs }));
    values.push(...outputs.map(([o, shape]) => valueInfo(o, 'float32', shape)));
  };
  const attr = (name: string, value: number | string) => onnx.AttributeProto.create({ name, ...(typeof value === 'string' ? { type: T.STRING, s: Buffer.from(value) } : { type: T.INT, i: value }) });
  b.input('x', 'float32', ['s0', 3, 16, 16]);
  call('Conv', '', ['x', weights(b, 'conv1.weight', [8, 3, 3, 3], 11), weights(b, 'conv1.bias', [8], 12)], [['conv2d', ['s0', 8, 8, 8]]]);
  b.nodes.at(-1)!.attribute.push(...['kernel_shape', 'strides', 'pads'].map((n, i) => onnx.AttributeProto.create({ name: n, type: T.INTS, ints: [[3, 3], [2, 2], [1, 1, 1, 1]][i] })));
  call('aten_group_norm', TORCH_LIB, ['conv2d', weights(b, 'gn.weight', [8], 13), weights(b, 'gn.bias', [8], 14)], [['group_norm', ['s0', 8, 8, 8]]], [attr('num_groups', 2)]);
  call('aten_gelu', TORCH_LIB, ['group_norm'], [['gelu', ['s0', 8, 8, 8]]], [attr('approximate', 'tanh')]);
  call('aten_constant_pad_nd', TORCH_LIB, ['gelu', b.initializer('val_0', 'int64', [4], [1, 1, 1, 1])], [['constant_pad_nd', ['s0', 8, 10, 10]]]);
  call('Conv', '', ['constant_pad_nd', weights(b, 'conv2.weight', [8, 8, 3, 3], 15)], [['conv2d_1', ['s0', 8, 8, 8]]]);
  call('Relu', '', ['conv2d_1'], [['relu', ['s0', 8, 8, 8]]]);
  call('aten_chunk', TORCH_LIB, ['relu'], [['chunk', ['s0', 4, 8, 8]], ['chunk_1', ['s0', 4, 8, 8]]], [attr('chunks', 2), attr('dim', 1)]);
  call('Add', '', ['chunk', 'chunk_1'], [['add', ['s0', 4, 8, 8]]]);
  call('aten_mean_dim', TORCH_LIB, ['add', b.initializer('val_1', 'int64', [2], [-1, -2])], [['mean', ['s0', 4]]]);
  call('torch_nn_modules_normalization_LayerNorm_norm_1', SUBGRAPHS, ['mean', weights(b, 'norm.weight', [4], 16), weights(b, 'norm.bias', [4], 17)], [['norm_1', ['s0', 4]]]);
  call('Gemm', '', ['norm_1', weights(b, 'fc.weight', [4, 4], 18), weights(b, 'fc.bias', [4], 19)], [['linear', ['s0', 4]]], [attr('transB', 1)]);
  b.output('linear', 'float32', ['s0', 4]);
  const model = b.build();
  model.graph!.valueInfo = values.filter((v) => v.name !== 'linear');
  model.producerName = 'pytorch';
  model.producerVersion = '2.5.0';
  model.opsetImport.push(...[TORCH_LIB, TORCH_LIB_COMMON, SUBGRAPHS].map((domain) => onnx.OperatorSetIdProto.create({ domain, version: 1 })));
  model.functions = functions(opset);
  return model;
}
