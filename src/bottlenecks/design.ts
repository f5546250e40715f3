/**
 * The learned bottleneck at a cut (METHODS.md §2, the I-SPLIT retraining protocol) as ONNX nodes with its weights as
 * inputs, so one definition serves training (differentiated by autodiff/), inference and export (weights then
 * become initializers).
 *
 * Feature maps [N, C, H, W]: two 3x3 convolutions of stride s (default 2), C -> h -> k, each with BatchNorm and
 * ReLU, mirrored by 3x3 transposed convolutions k -> h -> C (the last linear, as the activation it stands for may
 * be negative). With h = C/8 and k = C/4 the latent holds 1/64 of the elements; a ratio r sets k = r C s^4.
 * Token sequences [N, T, C] (the documented analogue): the same along tokens — 1-D convolutions over T of kernel 3
 * and stride s, C -> h -> k with k = r C s^2 (channels and tokens both shrink, as channels and positions of a map
 * do). Vectors [N, C]: two linear layers C -> h -> k = r C with BatchNorm and ReLU, mirrored.
 * BatchNorm normalises with the batch's statistics in training (written as element-wise ops so autodiff/ needs no
 * training-mode rule) and with running statistics at inference.
 */
import { Emitter } from '../onnx/emitter.js';
import { ImperaError } from '../errors.js';
import { numel } from '../onnx/dtype.js';
import { seededRandom } from '../util/random.js';
import type { ChannelLayout } from '../graph/layout.js';

export type BottleneckLayout = 'map' | 'tokens' | 'vector';

export interface DesignOptions {
  /** Elements of the latent over elements of the cut tensor (default 1/64). */
  ratio?: number;
  /** Channels of the first layer (default C/8). */
  hidden?: number;
  /** Stride of each of the two layers along every position axis (default 2). */
  stride?: number;
}

export interface Param {
  name: string;
  shape: number[];
  init: 'he' | 'zeros' | 'ones';
  /** Fan-in of He-uniform initialisation. */
  fanIn: number;
}

/** A BatchNorm's running statistics: inputs of the inference model, outputs (batch values) of the training one. */
export interface NormStats {
  mean: string;
  variance: string;
  shape: number[];
}

export interface BottleneckDesign {
  layout: BottleneckLayout;
  /** Prefix of every weight's name. */
  prefix: string;
  /** The cut tensor's shape with the batch. */
  shape: number[];
  channels: number;
  hidden: number;
  latentChannels: number;
  stride: number;
  /** Ratio asked for, and the one the shapes give (positions round up at odd sizes). */
  ratio: number;
  elementsRatio: number;
  /** The latent's shape with a batch of 1. */
  latentShape: number[];
  params: Param[];
  norms: NormStats[];
}

export const DEFAULT_RATIO = 1 / 64;
const EPS = 1e-5;
/** Running statistics move this far towards each batch's. */
export const NORM_MOMENTUM = 0.1;

/** The layout a bottleneck is designed for, or a one-line refusal. */
function layoutOf(shape: readonly number[], layout: ChannelLayout | undefined): BottleneckLayout {
  if (shape.length === 4 && layout?.channelAxis === 1) return 'map';
  if (shape.length === 3 && layout?.channelAxis === 2) return 'tokens';
  if (shape.length === 2 && layout?.channelAxis === 1) return 'vector';
  throw new ImperaError('BAD_ARGUMENT', `a bottleneck needs a feature map [N, C, H, W], token sequence [N, T, C] or vector [N, C], got [${shape}]${layout ? ` with channels on axis ${layout.channelAxis}` : ''}`, 'pick a cut whose tensor has one of these layouts');
}

const positionAxes = (layout: BottleneckLayout): number => (layout === 'map' ? 2 : layout === 'tokens' ? 1 : 0);
const shrink = (n: number, stride: number) => Math.ceil(n / stride);

/** Ratios 1/2^m whose latent has a whole number of channels (at least 1, at most C). */
export function fittingRatios(channels: number, factor: number): string[] {
  const out: string[] = [];
  for (let m = 1; m <= 16; m++) {
    const k = (channels * factor) / 2 ** m;
    if (Number.isInteger(k) && k >= 1 && k <= channels) out.push(`1/${2 ** m}`);
  }
  return out;
}

/** "1/64", "0.015625" -> a number in (0, 1]. */
export function parseRatio(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+(?:\.\d+)?))?\s*$/.exec(text);
  const r = m ? Number(m[1]) / (m[2] ? Number(m[2]) : 1) : NaN;
  if (!(r > 0 && r <= 1)) throw new ImperaError('BAD_ARGUMENT', `--ratio must be a fraction in (0, 1] such as 1/64, got '${text}'`);
  return r;
}

const ratioText = (r: number) => (Number.isInteger(1 / r) ? `1/${1 / r}` : String(r));

/** The bottleneck for a cut tensor of `shape` (with the batch) and `layout`. */
export function designBottleneck(shape: readonly number[], layout: ChannelLayout | undefined, options: DesignOptions = {}, prefix = 'bottleneck'): BottleneckDesign {
  const kind = layoutOf(shape, layout);
  const ratio = options.ratio ?? DEFAULT_RATIO;
  const stride = options.stride ?? 2;
  if (!Number.isInteger(stride) || stride < 1) throw new ImperaError('BAD_ARGUMENT', `the stride must be a positive integer, got ${stride}`);
  const channels = layout!.channels;
  const axes = positionAxes(kind);
  // positions shrink by stride^2 per axis over the two layers, so k = r C stride^(2 axes) keeps the ratio
  const factor = stride ** (2 * axes);
  const k = ratio * channels * factor;
  if (!Number.isInteger(k) || k < 1 || k > channels) {
    const fits = fittingRatios(channels, factor);
    throw new ImperaError('BAD_ARGUMENT', `ratio ${ratioText(ratio)} does not fit the cut tensor [${shape}]: the latent would have ${+k.toFixed(3)} of its ${channels} channels; ${fits.length ? `ratios that fit: ${fits.join(', ')}` : 'no ratio 1/2^m fits'}`, 'pick one of those ratios, or another cut or stride');
  }
  const hidden = options.hidden ?? Math.max(1, Math.round(channels / 8));
  if (!Number.isInteger(hidden) || hidden < 1) throw new ImperaError('BAD_ARGUMENT', `the hidden channels must be a positive integer, got ${hidden}`);
  const positions = shape.slice(kind === 'tokens' ? 1 : 2, kind === 'tokens' ? 2 : 4).map((n) => shrink(shrink(n, stride), stride));
  const latentShape = kind === 'map' ? [1, k, ...positions] : kind === 'tokens' ? [1, positions[0]!, k] : [1, k];
  const kernel = kind === 'vector' ? [] : Array<number>(axes).fill(3);
  const window = numel(kernel);
  const bn = kind === 'vector' ? [] : Array<number>(axes).fill(1);
  const conv = (name: string, cin: number, cout: number, transposed: boolean): Param[] => [
    { name: `${prefix}.${name}.weight`, shape: kind === 'vector' ? [cin, cout] : transposed ? [cin, cout, ...kernel] : [cout, cin, ...kernel], init: 'he', fanIn: cin * window },
    { name: `${prefix}.${name}.bias`, shape: [cout], init: 'zeros', fanIn: 0 },
  ];
  const norm = (name: string, c: number): Param[] => [
    { name: `${prefix}.${name}.gamma`, shape: [c, ...bn], init: 'ones', fanIn: 0 },
    { name: `${prefix}.${name}.beta`, shape: [c, ...bn], init: 'zeros', fanIn: 0 },
  ];
  const layers: [string, number, number, boolean, boolean][] = [
    ['enc1', channels, hidden, false, true],
    ['enc2', hidden, k, false, true],
    ['dec1', k, hidden, true, true],
    ['dec2', hidden, channels, true, false],
  ];
  return {
    layout: kind,
    prefix,
    shape: [...shape],
    channels,
    hidden,
    latentChannels: k,
    stride,
    ratio,
    elementsRatio: numel(latentShape.slice(1)) / numel(shape.slice(1)),
    latentShape,
    params: layers.flatMap(([name, cin, cout, t, normed]) => [...conv(name, cin, cout, t), ...(normed ? norm(`${name}.bn`, cout) : [])]),
    norms: layers.filter((l) => l[4]).map(([name, , cout]) => ({ mean: `${prefix}.${name}.bn.running_mean`, variance: `${prefix}.${name}.bn.running_var`, shape: [cout, ...bn] })),
  };
}

/** He-uniform weights, zero biases and shifts, unit scales; running statistics start at mean 0, variance 1. */
export function initParams(d: BottleneckDesign, seed = 1): Map<string, Float32Array> {
  const rand = seededRandom(seed);
  const values = new Map<string, Float32Array>();
  for (const p of d.params) {
    const bound = Math.sqrt(6 / Math.max(p.fanIn, 1));
    values.set(p.name, Float32Array.from({ length: numel(p.shape) }, () => (p.init === 'he' ? (2 * rand() - 1) * bound : p.init === 'ones' ? 1 : 0)));
  }
  for (const s of d.norms) {
    values.set(s.mean, new Float32Array(numel(s.shape)));
    values.set(s.variance, new Float32Array(numel(s.shape)).fill(1));
  }
  return values;
}

export type NormMode = 'train' | 'infer';

/** What the emitted bottleneck exposes: the latent, the output, and in training each BatchNorm's batch statistics. */
export interface EmittedBottleneck {
  latent: string;
  output: string;
  batchStats: { mean: string; variance: string }[];
}

/**
 * The bottleneck's nodes from `input` (the cut tensor) to `output` (its reconstruction), weights named by
 * `weight` (model inputs when training, initializers when exported). `names` fixes the latent's and the output's
 * names; training normalises over mini-batches of `names.batch` samples.
 */
export function emitBottleneck(e: Emitter, d: BottleneckDesign, input: string, mode: NormMode, weight: (name: string) => string, names: { latent?: string; output?: string; batch?: number } = {}): EmittedBottleneck {
  const p = (suffix: string) => weight(`${d.prefix}.${suffix}`);
  const axes = positionAxes(d.layout);
  const reduceAxes = [0, ...Array.from({ length: axes }, (_, i) => i + 2)];
  const batchStats: EmittedBottleneck['batchStats'] = [];
  const normalise = (x: string, layer: string, k: number): string => {
    let mean: string;
    let variance: string;
    if (mode === 'train') {
      // a sum times 1/count, as autodiff/ differentiates means over the batch only at a batch size it knows
      const count = e.scalar(1 / ((names.batch ?? 1) * sizesAt(layer).reduce((a, b) => a * b, 1)));
      mean = e.mul(e.reduceSum(x, reduceAxes, true), count);
      const centred = e.sub(x, mean);
      variance = e.mul(e.reduceSum(e.mul(centred, centred), reduceAxes, true), count);
      batchStats.push({ mean, variance });
    } else {
      mean = weight(d.norms[k]!.mean);
      variance = weight(d.norms[k]!.variance);
    }
    const scaled = e.op('Div', [e.sub(x, mean), e.op('Sqrt', [e.add(variance, e.scalar(EPS))])]);
    return e.add(e.mul(scaled, p(`${layer}.bn.gamma`)), p(`${layer}.bn.beta`));
  };
  const geometry = { kernel_shape: Array<number>(axes).fill(3), strides: Array<number>(axes).fill(d.stride), pads: Array<number>(2 * axes).fill(1) };
  const layer = (x: string, name: string, transposed: boolean, outSize: number[]): string => {
    if (d.layout === 'vector') return e.add(e.op('MatMul', [x, p(`${name}.weight`)]), p(`${name}.bias`));
    if (!transposed) return e.op('Conv', [x, p(`${name}.weight`), p(`${name}.bias`)], geometry);
    // a transposed convolution of stride s gives s(n - 1) + 1 positions; output_padding lands exactly on outSize
    return e.op('ConvTranspose', [x, p(`${name}.weight`), p(`${name}.bias`)], { ...geometry, output_padding: outSize.map((n, i) => n - (d.stride * (inSizes(name)[i]! - 1) + 1)) });
  };
  const sizes0 = d.layout === 'map' ? d.shape.slice(2) : d.layout === 'tokens' ? [d.shape[1]!] : [];
  const sizes1 = sizes0.map((n) => shrink(n, d.stride));
  const sizes2 = sizes1.map((n) => shrink(n, d.stride));
  const inSizes = (name: string) => (name === 'dec1' ? sizes2 : sizes1);
  const sizesAt = (layer: string) => (layer === 'enc2' ? sizes2 : sizes1); // positions of each normalised layer's output
  const relu = (x: string) => e.op('Relu', [x]);
  // tokens run as 1-D convolutions over T: [N, T, C] -> [N, C, T] and back
  const x0 = d.layout === 'tokens' ? e.op('Transpose', [input], { perm: [0, 2, 1] }) : input;
  const h1 = relu(normalise(layer(x0, 'enc1', false, sizes1), 'enc1', 0));
  const z = relu(normalise(layer(h1, 'enc2', false, sizes2), 'enc2', 1));
  const latent = d.layout === 'tokens' ? e.op('Transpose', [z], { perm: [0, 2, 1] }, names.latent ? { output: names.latent } : {}) : e.op('Identity', [z], {}, names.latent ? { output: names.latent } : {});
  const z0 = d.layout === 'tokens' ? e.op('Transpose', [latent], { perm: [0, 2, 1] }) : latent;
  const g1 = relu(normalise(layer(z0, 'dec1', true, sizes1), 'dec1', 2));
  const y = layer(g1, 'dec2', true, sizes0);
  const output = d.layout === 'tokens' ? e.op('Transpose', [y], { perm: [0, 2, 1] }, names.output ? { output: names.output } : {}) : e.op('Identity', [y], {}, names.output ? { output: names.output } : {});
  return { latent, output, batchStats };
}
