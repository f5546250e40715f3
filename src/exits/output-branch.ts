/**
 * Exits that predict the model's own output when it is not class scores (docs/exits/OUTPUTS.md): a probability or
 * score map [N, C, H, W] (3x3 conv + ReLU + 1x1 conv to the output's channels, bilinear Resize to its H x W), sequence
 * logits [N, T, K] from a feature map (mean over H, linear Resize of W to T, 1x1 conv to K) and a vector or embedding
 * (GAP + linear). The output's activation is read from the graph's last op (Sigmoid, Softmax, or none) and applied
 * to the branch's prediction. Training distils the full model's output with the activation's matching loss — binary
 * cross-entropy after a Sigmoid, cross-entropy to the teacher's distribution after a Softmax, squared error otherwise
 * — whose gradient at the pre-activation is (activation(z) - teacher) per position: it is computed inside the
 * backward graph, which autodiff/ builds with a fed output gradient (objective seed).
 */
import { buildBackwardGraph, LOSS_OUTPUT } from '../autodiff/backward.js';
import { pickRows } from '../autodiff/training.js';
import { ImperaError } from '../errors.js';
import { analyzeModel } from '../graph/analyze.js';
import { tensor, type Graph } from '../graph/graph.js';
import { tensorLayout, type ChannelLayout } from '../graph/layout.js';
import { valueInfo, type Dim } from '../onnx/builder.js';
import { DataType, numel } from '../onnx/dtype.js';
import { Emitter } from '../onnx/emitter.js';
import { inMemoryModel } from '../onnx/io.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { branchGraph, standardise, type Param, type Standardisation } from './branch.js';
import { ALL_FEATURES } from './train.js';

export type OutputKind = 'map' | 'sequence' | 'vector';
export type Activation = 'sigmoid' | 'softmax' | 'none';

/** The output an exit learns to predict. */
export interface OutputTarget {
  name: string;
  /** Its shape with the batch. */
  shape: number[];
  kind: OutputKind;
  activation: Activation;
  /** The axis a Softmax normalises: channels of a map, tokens of a sequence, the last of a vector. */
  axis: number;
}

/** Ops that keep their input's values, so an activation before them is still the output's. */
const VALUE_KEEPING = new Set(['Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Transpose']);

/** The activation that produced `t`, looking through ops that keep values. */
function activationOf(g: Graph, t: string): Activation {
  const producer = g.nodes[tensor(g, t).producer];
  if (!producer) return 'none';
  if (producer.opType === 'Sigmoid') return 'sigmoid';
  if (producer.opType === 'Softmax') return 'softmax';
  return VALUE_KEEPING.has(producer.opType) ? activationOf(g, producer.inputs[0]!) : 'none';
}

/** Whether the model's first output is class scores [N, K] (the classifier exits of branch.ts); a detector's [K, 4] kept boxes are not. */
export function hasClassScores(g: Graph): boolean {
  const t = tensor(g, g.outputs[0]!.name!);
  return t.shape.length === 2 && t.shape[1]! >= 2 && !t.dataDependent;
}

/** What the model's first output is, for an exit that predicts it; another shape is refused in one line. */
export function outputTarget(g: Graph): OutputTarget {
  const name = g.outputs[0]!.name!;
  if (tensor(g, name).dataDependent) {
    throw new ImperaError('BAD_ARGUMENT', `an exit predicts the model's output of each sample, and output '${name}' has a data-dependent length (as a detector's boxes after NMS), which no branch of fixed size can predict`, 'compare cuts and codecs of this model with impera eval (with a metric module) or impera plan');
  }
  const shape = [...tensor(g, name).shape];
  const layout = tensorLayout(g, name);
  const activation = activationOf(g, name);
  if (layout && layout.positions <= 1) return { name, shape, kind: 'vector', activation, axis: shape.length - 1 };
  if (shape.length === 4 && layout?.channelAxis === 1) return { name, shape, kind: 'map', activation, axis: 1 };
  if (shape.length === 3) return { name, shape, kind: 'sequence', activation, axis: 2 };
  throw new ImperaError('BAD_ARGUMENT', `an exit predicts class scores [N, K], a map [N, C, H, W], sequence logits [N, T, K] or a vector, and output '${name}' is [${shape.join(', ')}]${layout ? ` with channels on axis ${layout.channelAxis}` : ''}`, 'compare cuts and codecs of this model with impera eval or impera plan');
}

export interface OutputBranch {
  target: OutputTarget;
  /** Channels of the map branch's 3x3 convolution (0 for the others). */
  hidden: number;
  norm?: Standardisation;
  /** What the branch reads: the cut tensor [N, C, H, W] (map, sequence) or its pooled vector [N, C] (vector). */
  input: { name: string; dims: Dim[] };
  params: Param[];
  /** Multiply-accumulates per sample (pooling and resizing excluded). */
  macs: number;
  /** A one-line description for reports. */
  design: string;
  /** The branch's nodes reading `input`, returning the prediction before the output's activation. */
  emit(e: Emitter, input: string, weight: (p: Param) => string): string;
}

const weightAndBias = (prefix: string, shape: number[], fanIn: number): Param[] => [
  { name: `${prefix}.weight`, shape, fanIn },
  { name: `${prefix}.bias`, shape: [shape[0]!], fanIn: 0 },
];

/** Linear Resize of H and W by the ratio of sizes (as scales: Resize's sizes would include the dynamic batch). */
function resize(e: Emitter, x: string, from: readonly [number, number], to: readonly [number, number]): string {
  if (from[0] === to[0] && from[1] === to[1]) return x;
  // floor(size x float32(scale)) must land on the size: the next float up when rounding falls short
  const scale = (a: number, b: number) => {
    const s = Math.fround(b / a);
    return Math.floor(Math.fround(a * s)) >= b ? s : Math.fround(s * (1 + 2 ** -23));
  };
  const scales = e.constant(DataType.FLOAT, [4], [1, 1, scale(from[0], to[0]), scale(from[1], to[1])]);
  return e.op('Resize', [x, '', scales], { mode: 'linear' });
}

/**
 * The exit branch for a cut tensor of `shape` (with the batch) and `layout` predicting `target`. `hidden`: channels
 * of the map branch's 3x3 convolution (default C/2, 8 to 64).
 */
export function makeOutputBranch(target: OutputTarget, prefix: string, shape: readonly number[], layout: ChannelLayout | undefined, hidden = 0, norm?: Standardisation): OutputBranch {
  const out = target.shape;
  const common = { target, ...(norm ? { norm } : {}) };
  if (target.kind === 'vector') {
    if (!layout) throw new ImperaError('BAD_ARGUMENT', `an exit needs a feature map [N, C, H, W], token sequence [N, T, C] or vector [N, C], got [${shape}]`, 'pick a cut whose tensor has one of these shapes');
    const [c, d] = [layout.channels, numel(out.slice(1))];
    const fc = weightAndBias(`${prefix}.fc`, [c, d], c);
    // MatMul's weight is [C, D]: the bias has D entries
    fc[1]!.shape = [d];
    return {
      ...common,
      hidden: 0,
      input: { name: `${prefix}.features`, dims: ['batch', c] },
      params: fc,
      macs: c * d,
      design: `GAP + linear ${c} -> ${d}`,
      emit: (e, input, weight) => e.op('Reshape', [e.add(e.op('MatMul', [standardise(e, input, norm, 2), weight(fc[0]!)]), weight(fc[1]!)), e.ints([-1, ...out.slice(1)])]),
    };
  }
  if (shape.length !== 4 || layout?.channelAxis !== 1) throw new ImperaError('BAD_ARGUMENT', `an exit predicting a ${target.kind === 'map' ? 'map' : 'sequence'} reads a feature map [N, C, H, W], got [${shape}]${layout ? ` with channels on axis ${layout.channelAxis}` : ''}`, 'pick a cut whose tensor is a feature map with channels on axis 1');
  const [, c, h, w] = shape as [number, number, number, number];
  const input = { name: `${prefix}.map`, dims: ['batch', c, h, w] as Dim[] };
  if (target.kind === 'map') {
    const [, co, ho, wo] = out as [number, number, number, number];
    const k = hidden || Math.min(64, Math.max(8, c >> 1));
    const conv = weightAndBias(`${prefix}.conv`, [k, c, 3, 3], c * 9);
    const head = weightAndBias(`${prefix}.head`, [co, k, 1, 1], k);
    return {
      ...common,
      hidden: k,
      input,
      params: [...conv, ...head],
      macs: (k * c * 9 + co * k) * h * w,
      design: `3x3 conv ${c} -> ${k} + ReLU + 1x1 conv -> ${co}, bilinear ${h}x${w} -> ${ho}x${wo}`,
      emit: (e, x, weight) => {
        const y = e.op('Relu', [e.op('Conv', [standardise(e, x, norm, 4), weight(conv[0]!), weight(conv[1]!)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
        return resize(e, e.op('Conv', [y, weight(head[0]!), weight(head[1]!)], { kernel_shape: [1, 1] }), [h, w], [ho, wo]);
      },
    };
  }
  const [, t, k] = out as [number, number, number];
  const head = weightAndBias(`${prefix}.head`, [k, c, 1, 1], c);
  return {
    ...common,
    hidden: 0,
    input,
    params: head,
    macs: k * c * t,
    design: `mean over H + linear resample W ${w} -> T ${t} + 1x1 conv ${c} -> ${k}`,
    emit: (e, x, weight) => {
      const pooled = resize(e, e.reduceMean(standardise(e, x, norm, 4), [2], true), [1, w], [1, t]);
      const logits = e.op('Conv', [pooled, weight(head[0]!), weight(head[1]!)], { kernel_shape: [1, 1] });
      // [N, K, 1, T] -> [N, 1, T, K] -> [N, T, K]
      return e.squeeze(e.op('Transpose', [logits], { perm: [0, 2, 3, 1] }), [1]);
    },
  };
}

/**
 * The output bias that makes an untrained branch predict the teacher's mean output (per channel of a map, per token
 * of a sequence, per element of a vector), before the activation: log of the mean probability after a Softmax, its
 * logit after a Sigmoid, the mean itself otherwise. Starting at the marginal spares the first epochs of a
 * 6625-token softmax learning that most steps are blank.
 */
export function priorBias(target: OutputTarget, teacher: Float32Array, count: number): Float32Array {
  const width = numel(target.shape.slice(1));
  const vector = target.kind === 'vector';
  const size = vector ? width : target.shape[target.axis]!;
  const inner = vector ? 1 : numel(target.shape.slice(target.axis + 1));
  const sums = new Float64Array(size);
  for (let i = 0; i < count * width; i++) sums[Math.floor((i % width) / inner) % size]! += teacher[i]!;
  const per = (count * width) / size;
  const clamp = (m: number) => Math.min(1 - EPS, Math.max(EPS, m));
  return Float32Array.from(sums, (sum) => {
    const m = sum / Math.max(per, 1);
    if (target.activation === 'softmax') return Math.log(clamp(m));
    if (target.activation === 'sigmoid') return Math.log(clamp(m) / (1 - clamp(m)));
    return m;
  });
}

/** The bias of the branch's last layer (the output's channels): where `priorBias` goes. */
export const outputBias = (b: OutputBranch): Param => b.params[b.params.length - 1]!;

/** The output's activation applied to a prediction. */
export function activate(e: Emitter, z: string, target: OutputTarget): string {
  if (target.activation === 'sigmoid') return e.op('Sigmoid', [z]);
  if (target.activation === 'softmax') return e.op('Softmax', [z], { axis: target.axis });
  return z;
}

/** Name of the branch's prediction in the models built here. */
export const PREDICTION = 'prediction';
/** Branch models are built at this opset (Resize with scales, Softmax on one axis). */
const OPSET = 17;

/**
 * The branch as a model reading the cut tensor (or its pooled vector): weights as inputs (training, validation),
 * or with `values` as initializers (the exported exit). `activated` false gives the prediction before the activation.
 */
export function outputBranchModel(b: OutputBranch, values?: ReadonlyMap<string, Float32Array>, activated = true): ModelProto {
  const e = new Emitter(OPSET, 'exit');
  const z = b.emit(e, b.input.name, (p) => p.name);
  e.op('Identity', [activated ? activate(e, z, b.target) : z], {}, { output: PREDICTION });
  return branchGraph(e, b.input, b.params, { name: PREDICTION, dims: ['batch', ...b.target.shape.slice(1)] }, values);
}

const TEACHER = 'distill::teacher';
/** The whole training set's teacher outputs, fed once (autodiff/training.ts). */
export const ALL_TEACHER = 'train::teacher';
/** Probabilities are clamped to [EPS, 1 - EPS] before a log. */
const EPS = 1e-7;

/**
 * The training model: the branch's backward graph with the output gradient computed inside it from the teacher's
 * output — (activation(z) - teacher) / (N x positions), the gradient of the activation's matching loss, mean over the
 * batch and positions (a Softmax's axis is one position) — and that loss as LOSS_OUTPUT. Fed the whole training set.
 */
export async function distillationModel(b: OutputBranch): Promise<ModelProto> {
  const g = await analyzeModel(inMemoryModel(outputBranchModel(b, undefined, false), 'exit branch'));
  const bwd = buildBackwardGraph(g, { wrt: b.params.map((p) => p.name), objective: 'seed' });
  const seed = bwd.outputGradInputs!.get(PREDICTION)!;
  const e = new Emitter(bwd.opset, 'distill');
  const perSample = numel(b.target.shape.slice(1));
  const positions = b.target.activation === 'softmax' ? perSample / b.target.shape[b.target.axis]! : perSample;
  const count = e.mul(e.op('Cast', [e.slice(e.shapeOf(PREDICTION), [0], [1], [0])], { to: DataType.FLOAT }), e.scalar(positions));
  const a = activate(e, PREDICTION, b.target);
  e.op('Div', [e.sub(a, TEACHER), count], {}, { output: seed });
  let perElement: string;
  if (b.target.activation === 'sigmoid') {
    const p = e.op('Max', [e.op('Min', [a, e.scalar(1 - EPS)]), e.scalar(EPS)]);
    const [logP, logQ] = [e.op('Log', [p]), e.op('Log', [e.sub(e.scalar(1), p)])];
    perElement = e.neg(e.add(e.mul(TEACHER, logP), e.mul(e.sub(e.scalar(1), TEACHER), logQ)));
  } else if (b.target.activation === 'softmax') {
    perElement = e.neg(e.mul(TEACHER, e.op('LogSoftmax', [PREDICTION], { axis: b.target.axis })));
  } else {
    const d = e.sub(PREDICTION, TEACHER);
    perElement = e.mul(e.mul(d, d), e.scalar(0.5));
  }
  e.op('Div', [e.op('ReduceSum', [perElement], { keepdims: 0 }), count], {}, { output: LOSS_OUTPUT });
  const graph = bwd.proto.graph!;
  const nodes = graph.node ?? [];
  // the loss nodes go before the first node that reads the output gradient
  const at = nodes.findIndex((n) => (n.input ?? []).includes(seed));
  const proto = onnx.ModelProto.create({
    ...bwd.proto,
    graph: {
      ...graph,
      node: [...nodes.slice(0, at), ...e.nodes, ...nodes.slice(at)],
      initializer: [...(graph.initializer ?? []), ...e.initializers],
      input: [...(graph.input ?? []).filter((i) => i.name !== seed), valueInfo(TEACHER, DataType.FLOAT, ['batch', ...b.target.shape.slice(1)])],
      output: [...(graph.output ?? []), valueInfo(LOSS_OUTPUT, DataType.FLOAT, [])],
    },
  });
  return pickRows(proto, [
    { input: b.input.name, whole: ALL_FEATURES, dtype: DataType.FLOAT, sampleDims: b.input.dims.slice(1) },
    { input: TEACHER, whole: ALL_TEACHER, dtype: DataType.FLOAT, sampleDims: b.target.shape.slice(1) },
  ]);
}
