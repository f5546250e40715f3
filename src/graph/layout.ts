/**
 * Which axis of an activation holds channels and which hold positions. Per tensor, the ops that define a layout
 * decide it (Conv, pooling, normalisations: NCHW on their data; MatMul/Gemm: the last axis) and it flows through
 * Transpose, element-wise ops, Concat and reductions, forwards and backwards, so a tf2onnx export's [N, H, W, C]
 * tensors between transposed convolutions are read channels-last. Where nothing decides, the conventions ONNX
 * exports follow: images [N, C, H, W], token sequences [N, T, C], vectors [N, C], and above rank 4 ONNX's own
 * [N, C, D1, ..., Dk] (Conv3d volumes, video). A 1-D convolution's [N, C, T] (audio) is decided by its Conv.
 * Positions are every axis but the batch (0) and the channels: H x W, T, D x H x W, or 1 for a vector.
 */
import { attrInt, attrInts } from '../onnx/attributes.js';
import type { Graph } from './graph.js';

export interface ChannelLayout {
  channelAxis: number;
  positionAxes: number[];
  channels: number;
  /** Positions per sample (H x W, tokens, or 1). */
  positions: number;
}

/** The layout of a tensor of rank 2 or more with channels on `channelAxis` (batch on axis 0). */
export function layoutAlong(shape: readonly number[], channelAxis: number): ChannelLayout {
  const positionAxes = shape.map((_, a) => a).filter((a) => a > 0 && a !== channelAxis);
  return { channelAxis, positionAxes, channels: shape[channelAxis]!, positions: positionAxes.reduce((p, a) => p * shape[a]!, 1) };
}

/** The rank convention alone, for tensors no op decides. */
export function channelLayout(shape: readonly number[]): ChannelLayout | undefined {
  if (shape.length >= 4) return layoutAlong(shape, 1);
  if (shape.length === 3 || shape.length === 2) return layoutAlong(shape, shape.length - 1);
  return undefined;
}

/** Ops whose data input and output are channels-first by definition. */
const CHANNELS_FIRST = new Set(['Conv', 'ConvTranspose', 'BatchNormalization', 'InstanceNormalization', 'MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool', 'LRN', 'DepthToSpace', 'SpaceToDepth', 'QLinearConv']);
/** Ops whose same-rank data inputs and outputs share one layout. */
const SAME_LAYOUT = new Set([
  'Identity', 'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'Gelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Softplus', 'Softsign', 'Mish',
  'Clip', 'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Erf', 'Floor', 'Ceil', 'Round', 'Sign', 'Cast', 'Dropout',
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Concat', 'Split', 'Slice', 'Pad', 'Resize', 'Upsample',
  'QuantizeLinear', 'DequantizeLinear',
]);
const REDUCTIONS = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare']);

type Rank = (name: string) => number;

/** Layout links of one node: pairs (tensor a, axis in a) <-> (tensor b, axis in b) as mapping functions. */
interface Link {
  a: string;
  b: string;
  /** a's channel axis to b's, or undefined when the channels do not survive. */
  forward: (axis: number) => number | undefined;
  backward: (axis: number) => number | undefined;
}

function reducedAxes(g: Graph, node: Graph['nodes'][number], rank: number): number[] | undefined {
  const fromInput = node.inputs[1] ? g.tensors.get(node.inputs[1])?.value : undefined;
  const axes = attrInts(node.proto, 'axes') ?? fromInput?.data;
  return axes?.map((a) => (a < 0 ? a + rank : a));
}

/**
 * Where axis `x` of `from` lands when its data is reshaped (row-major) to `to`, if it survives whole: the axis with
 * the same extent after the same number of elements; when only unit dims move (tf2onnx writes a Transpose that
 * moves a unit dim as a Reshape), the same non-unit (or unit) dim in order.
 */
export function reshapedAxis(from: readonly number[], to: readonly number[], x: number): number | undefined {
  const nonUnit = (s: readonly number[]) => s.map((_, a) => a).filter((a) => a > 0 && s[a] !== 1);
  const unit = (s: readonly number[]) => s.map((_, a) => a).filter((a) => a > 0 && s[a] === 1);
  const [fromBig, toBig] = [nonUnit(from), nonUnit(to)];
  if (from[0] === to[0] && fromBig.length === toBig.length && fromBig.every((a, k) => from[a] === to[toBig[k]!])) {
    if (from[x] !== 1) return toBig[fromBig.indexOf(x)];
    const [fromOne, toOne] = [unit(from), unit(to)];
    return fromOne.length === toOne.length ? toOne[fromOne.indexOf(x)] : undefined;
  }
  const before = from.slice(0, x).reduce((p, d) => p * d, 1);
  const b = to.findIndex((_, a) => to.slice(0, a).reduce((p, d) => p * d, 1) === before && to[a] === from[x]);
  return b >= 0 ? b : undefined;
}

const RESHAPES = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

function links(g: Graph, node: Graph['nodes'][number], rank: Rank): Link[] {
  const out = node.outputs[0];
  if (!out || !g.tensors.has(out)) return [];
  const data = node.inputs.filter((i) => i && g.tensors.has(i) && !g.tensors.get(i)!.isStatic);
  const same = (a: string): Link => ({ a, b: out, forward: (x) => x, backward: (x) => x });
  if (node.opType === 'Transpose') {
    const perm = attrInts(node.proto, 'perm') ?? Array.from({ length: rank(out) }, (_, i) => rank(out) - 1 - i);
    return data.slice(0, 1).map((a) => ({ a, b: out, forward: (x) => perm.indexOf(x), backward: (x) => perm[x] }));
  }
  if (RESHAPES.has(node.opType) && data[0]) {
    const [from, to] = [g.tensors.get(data[0])!.shape, g.tensors.get(out)!.shape];
    return [{ a: data[0], b: out, forward: (x) => reshapedAxis(from, to, x), backward: (x) => reshapedAxis(to, from, x) }];
  }
  if (REDUCTIONS.has(node.opType) && data[0]) {
    const r = rank(data[0]);
    const axes = reducedAxes(g, node, r);
    if (!axes) return [];
    if (attrInt(node.proto, 'keepdims', 1)) return [{ a: data[0], b: out, forward: (x) => (axes.includes(x) ? undefined : x), backward: (x) => x }];
    const kept = Array.from({ length: r }, (_, i) => i).filter((i) => !axes.includes(i));
    return [{ a: data[0], b: out, forward: (x) => (kept.includes(x) ? kept.indexOf(x) : undefined), backward: (x) => kept[x] }];
  }
  if (SAME_LAYOUT.has(node.opType)) return [...data.filter((a) => rank(a) === rank(out)).map(same), ...node.outputs.slice(1).filter((o) => o && g.tensors.has(o) && rank(o) === rank(out)).map((o) => same(o))];
  return [];
}

/** The channel axis each op decides for its own tensors (definitions, not propagation). */
function definedAxes(g: Graph, node: Graph['nodes'][number], rank: Rank): [string, number][] {
  const out = node.outputs[0];
  if (!out || !g.tensors.has(out)) return [];
  const x = node.inputs[0];
  if (CHANNELS_FIRST.has(node.opType)) return [[out, 1], ...(x && g.tensors.has(x) ? [[x, 1] as [string, number]] : [])];
  if (node.opType === 'MatMul' || node.opType === 'Gemm') {
    const transA = node.opType === 'Gemm' && attrInt(node.proto, 'transA', 0) === 1;
    return [[out, rank(out) - 1], ...(x && g.tensors.has(x) && rank(x) >= 2 ? [[x, transA ? 0 : rank(x) - 1] as [string, number]] : [])];
  }
  return [];
}

/**
 * The channel axis of every data tensor some op decides: first each defining op's own tensors, then that axis
 * carried across links breadth first, forwards and backwards; the nearest definition wins.
 */
export function channelAxes(g: Graph): Map<string, number> {
  const rank: Rank = (name) => g.tensors.get(name)!.shape.length;
  const axes = new Map<string, number>();
  const queue: string[] = [];
  const set = (t: string, axis: number | undefined): void => {
    if (axis === undefined || axis <= 0 || axis >= rank(t) || axes.has(t) || g.tensors.get(t)!.isStatic) return;
    axes.set(t, axis);
    queue.push(t);
  };
  for (const i of g.order) for (const [t, a] of definedAxes(g, g.nodes[i]!, rank)) set(t, a);
  const byTensor = new Map<string, Link[]>();
  for (const i of g.order) {
    for (const l of links(g, g.nodes[i]!, rank)) {
      byTensor.set(l.a, [...(byTensor.get(l.a) ?? []), l]);
      byTensor.set(l.b, [...(byTensor.get(l.b) ?? []), l]);
    }
  }
  for (let k = 0; k < queue.length; k++) {
    const t = queue[k]!;
    const axis = axes.get(t)!;
    for (const l of byTensor.get(t) ?? []) {
      if (l.a === t) set(l.b, l.forward(axis));
      if (l.b === t) set(l.a, l.backward(axis));
    }
  }
  return axes;
}

/** A tensor's layout: the axis the graph decides for it, else the rank convention. */
export function tensorLayout(g: Graph, name: string, axes: ReadonlyMap<string, number> = channelAxes(g)): ChannelLayout | undefined {
  const shape = g.tensors.get(name)?.shape;
  if (!shape) return undefined;
  const axis = axes.get(name);
  return axis !== undefined && shape.length >= 2 ? layoutAlong(shape, axis) : channelLayout(shape);
}
