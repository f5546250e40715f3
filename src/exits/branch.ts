/**
 * Exit branches and their ONNX forms. A branch reads one cut tensor: the linear variant is global average pooling
 * -> optional hidden layer (ReLU) -> linear classifier; the conv variant is a 3x3 stride-2 convolution (ReLU) ->
 * global average pooling -> linear classifier. The forward model takes the weights as inputs, so one definition
 * serves training (differentiated by autodiff/), inference and export (weights then become initializers).
 */
import { Emitter } from '../onnx/emitter.js';
import { ImperaError } from '../errors.js';
import { channelLayout } from '../graph/layout.js';
import { valueInfo, type Dim } from '../onnx/builder.js';
import { DataType, numel } from '../onnx/dtype.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { makeTensorProto } from '../onnx/tensor.js';
import { seededRandom } from '../util/random.js';
import { fanOutMask, layerSize, type LayerSize } from './sparsity.js';

export interface BranchSpec {
  kind: 'linear' | 'conv';
  /** Hidden units of the linear variant (0: none); output channels of the conv variant. */
  hidden: number;
  /** Fan-out of each fully connected layer (predefined sparsity); absent or 0: dense. */
  fanOut?: readonly number[];
}

export interface Param {
  name: string;
  shape: number[];
  /** Fan-in for initialisation (He uniform), or 0 for zeros (biases). */
  fanIn: number;
  /** 0/1 mask of a predefined-sparse weight (same layout). */
  mask?: Float32Array;
}

/** Per-channel standardisation of the branch input, fixed from training statistics. */
export interface Standardisation {
  mean: Float32Array;
  std: Float32Array;
}

export interface Branch {
  spec: BranchSpec;
  norm?: Standardisation;
  /** What the branch reads: pooled vectors [N, C] (linear) or the cut tensor [N, C, H, W] (conv). */
  input: { name: string; dims: Dim[] };
  classes: number;
  params: Param[];
  /** Builds the branch's nodes reading `input`, returning the logits tensor name. */
  emit(e: Emitter, input: string, weight: (p: Param) => string): string;
  /** Size of each fully connected layer (weights, MACs, bytes; dense and as stored). */
  layers: LayerSize[];
  /** MACs per sample of the whole branch (pooling excluded). */
  macs: number;
}

function fc(prefix: string, nIn: number, nOut: number, fanOut: number | undefined, seed: number): Param[] {
  const mask = fanOut ? fanOutMask(nIn, nOut, fanOut, seed) : undefined;
  return [{ name: `${prefix}.weight`, shape: [nIn, nOut], fanIn: mask ? nIn * (fanOut! / nOut) : nIn, ...(mask ? { mask } : {}) }, { name: `${prefix}.bias`, shape: [nOut], fanIn: 0 }];
}

/** (x - mean) / std per channel, as constants: channels on axis 1. */
export function standardise(e: Emitter, x: string, norm: Standardisation | undefined, rank: number): string {
  if (!norm) return x;
  const shape = [norm.mean.length, ...Array<number>(rank - 2).fill(1)];
  return e.op('Div', [e.sub(x, e.constant(DataType.FLOAT, shape, [...norm.mean])), e.constant(DataType.FLOAT, shape, [...norm.std])]);
}

/** Channel means and standard deviations of samples x width features laid out [n, C, positions...]. */
export function channelStats(x: Float32Array, count: number, channels: number): Standardisation {
  const positions = x.length / count / channels;
  const mean = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / positions) % channels;
    mean[c]! += x[i]!;
    sq[c]! += x[i]! * x[i]!;
  }
  const n = count * positions;
  return {
    mean: Float32Array.from(mean, (m) => m / n),
    std: Float32Array.from(sq, (s, c) => Math.sqrt(Math.max(s / n - (mean[c]! / n) ** 2, 0)) || 1),
  };
}

/** A branch for a cut tensor of shape `shape` (with the batch) and layout `layout` feeding `classes` logits. */
export function makeBranch(spec: BranchSpec, prefix: string, shape: readonly number[], classes: number, seed = 1, norm?: Standardisation, layout = channelLayout(shape)): Branch {
  if (!Number.isInteger(spec.hidden) || spec.hidden < 0) throw new ImperaError('BAD_ARGUMENT', `hidden units must be a whole number >= 0, got ${spec.hidden}`);
  const fan = spec.fanOut ?? [];
  if (spec.kind === 'linear') {
    // the channels GAP leaves, as features.ts pools them
    if (!layout) throw new ImperaError('BAD_ARGUMENT', `an exit needs a feature map [N, C, H, W], token sequence [N, T, C] or vector [N, C], got [${shape}]`, 'pick a cut whose tensor has one of these shapes');
    const channels = layout.channels;
    const sizes = spec.hidden ? [channels, spec.hidden, classes] : [channels, classes];
    if (fan.length > sizes.length - 1) throw new ImperaError('BAD_ARGUMENT', `--sparsity gives ${fan.length} fan-outs for ${sizes.length - 1} fully connected layer(s)`);
    const params = sizes.slice(1).flatMap((out, i) => fc(`${prefix}.fc${i + 1}`, sizes[i]!, out, fan[i] || undefined, seed + i));
    const layers = sizes.slice(1).map((out, i) => layerSize(sizes[i]!, out, params[2 * i]!.mask));
    return {
      spec,
      ...(norm ? { norm } : {}),
      input: { name: `${prefix}.features`, dims: ['batch', channels] },
      classes,
      params,
      layers,
      macs: layers.reduce((s, l) => s + l.macs, 0),
      emit: (e, input, weight) => {
        let h = standardise(e, input, norm, 2);
        for (let i = 0; i < sizes.length - 1; i++) {
          h = e.add(e.op('MatMul', [h, weight(params[2 * i]!)]), weight(params[2 * i + 1]!));
          if (i < sizes.length - 2) h = e.op('Relu', [h]);
        }
        return h;
      },
    };
  }
  if (shape.length !== 4 || layout?.channelAxis !== 1) throw new ImperaError('BAD_ARGUMENT', `the conv exit needs an [N, C, H, W] cut tensor, got [${shape}]${shape.length === 4 ? ' with channels on axis ' + layout?.channelAxis : ''}`, 'use the linear exit (GAP) for token or vector tensors');
  const [, c, h, w] = shape as [number, number, number, number];
  const out = spec.hidden || Math.max(8, c >> 1);
  const conv: Param[] = [{ name: `${prefix}.conv.weight`, shape: [out, c, 3, 3], fanIn: c * 9 }, { name: `${prefix}.conv.bias`, shape: [out], fanIn: 0 }];
  const head = fc(`${prefix}.fc1`, out, classes, fan[0] || undefined, seed);
  const convMacs = out * c * 9 * Math.ceil(h / 2) * Math.ceil(w / 2);
  const layers = [layerSize(out, classes, head[0]!.mask)];
  return {
    spec: { ...spec, hidden: out },
    ...(norm ? { norm } : {}),
    input: { name: `${prefix}.map`, dims: ['batch', c, h, w] },
    classes,
    params: [...conv, ...head],
    layers,
    macs: convMacs + layers[0]!.macs,
    emit: (e, input, weight) => {
      const y = e.op('Relu', [e.op('Conv', [standardise(e, input, norm, 4), weight(conv[0]!), weight(conv[1]!)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })]);
      const pooled = e.reduceMean(y, [2, 3], false);
      return e.add(e.op('MatMul', [pooled, weight(head[0]!)]), weight(head[1]!));
    },
  };
}

/** He-uniform weights (scaled to the connections that exist), zero biases, masks applied. */
export function initParams(branch: Pick<Branch, 'params'>, seed = 1): Map<string, Float32Array> {
  const rand = seededRandom(seed);
  return new Map(
    branch.params.map((p) => {
      const n = numel(p.shape);
      const bound = p.fanIn ? Math.sqrt(6 / p.fanIn) : 0;
      const v = Float32Array.from({ length: n }, (_, i) => (p.mask && !p.mask[i] ? 0 : (2 * rand() - 1) * bound));
      return [p.name, v];
    }),
  );
}

/**
 * A model of the nodes `e` emitted for a branch reading `input` and writing `output` (dims with the batch): the
 * weights as inputs, or with `values` as initializers (an exported branch).
 */
export function branchGraph(e: Emitter, input: Branch['input'], params: readonly Param[], output: { name: string; dims: Dim[] }, values?: ReadonlyMap<string, Float32Array>): ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'impera',
    opsetImport: [{ domain: '', version: e.opset }],
    graph: {
      name: 'exit_branch',
      node: e.nodes,
      initializer: [...e.initializers, ...(values ? paramTensors({ params: [...params] }, values) : [])],
      input: [valueInfo(input.name, DataType.FLOAT, input.dims), ...(values ? [] : params.map((p) => valueInfo(p.name, DataType.FLOAT, p.shape)))],
      output: [valueInfo(output.name, DataType.FLOAT, output.dims)],
    },
  });
}

/** The branch alone, weights as inputs (training, inference with changing weights). */
export function branchModel(branch: Branch, opset = 17): ModelProto {
  const e = new Emitter(opset, 'branch');
  const logits = e.op('Identity', [branch.emit(e, branch.input.name, (p) => p.name)], {}, { output: 'logits' });
  return branchGraph(e, branch.input, branch.params, { name: logits, dims: ['batch', branch.classes] });
}

/** Weights as initializer tensors, for models that carry a trained branch. */
export function paramTensors(branch: Pick<Branch, 'params'>, values: ReadonlyMap<string, Float32Array>): onnx.TensorProto[] {
  return branch.params.map((p) => makeTensorProto(p.name, DataType.FLOAT, p.shape, values.get(p.name)!));
}
