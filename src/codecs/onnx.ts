/**
 * The ONNX form of a fitted codec: nodes that turn a cut tensor into what goes on the wire (head side) and back
 * (tail side). Exported heads end with the encoder and tails start with the decoder; evaluation runs both in one
 * round-trip model. Parameters are constants: PCA as 1x1 convolutions (MatMul for token tensors), quantisation as
 * round/clip/cast with per-channel scale and zero point, fp16 as a cast.
 */
import { Emitter } from '../onnx/emitter.js';
import { valueInfo, type Dim } from '../onnx/builder.js';
import { DataType, dtypeOf } from '../onnx/dtype.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import type { FittedTensorCodec } from './fitted.js';
import { emitLearned } from './learned.js';

/** Shape that broadcasts a per-channel vector along `axis` of a rank-`rank` tensor. */
const along = (axis: number, rank: number, n: number) => Array.from({ length: rank }, (_, i) => (i === axis ? n : 1));

export const wireDtype = (fit: FittedTensorCodec): DataType =>
  fit.passthrough ? dtypeOf(fit.passthrough) : fit.quant ? (fit.quant.bits <= 8 ? DataType.UINT8 : DataType.UINT16) : fit.fp16 ? DataType.FLOAT16 : DataType.FLOAT;

/** The cut tensor's own element type (what the head produces and the tail reads). */
export const tensorDtype = (fit: FittedTensorCodec): DataType => (fit.passthrough ? dtypeOf(fit.passthrough) : DataType.FLOAT);

function project(e: Emitter, x: string, fit: FittedTensorCodec, encode: boolean): string {
  const { k, components, mean } = fit.pca!;
  const c = mean.length;
  const { rank, channelAxis } = fit;
  // encode: z = P (x - mean); decode: x = P^T z + mean, with P the k x C matrix of principal directions
  const pt = new Float32Array(c * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < c; j++) pt[j * k + i] = components[i * c + j]!;
  const bias = encode ? Array.from({ length: k }, (_, i) => -components.subarray(i * c, (i + 1) * c).reduce((s, p, j) => s + p * mean[j]!, 0)) : [...mean];
  if (rank === 4 && channelAxis === 1) {
    const weight = encode ? e.constant(DataType.FLOAT, [k, c, 1, 1], [...components]) : e.constant(DataType.FLOAT, [c, k, 1, 1], [...pt]);
    return e.op('Conv', [x, weight, e.constant(DataType.FLOAT, [bias.length], bias)], { kernel_shape: [1, 1] });
  }
  if (channelAxis !== rank - 1) throw new Error('PCA needs channels on axis 1 of a 4-D tensor or on the last axis');
  const weight = encode ? e.constant(DataType.FLOAT, [c, k], [...pt]) : e.constant(DataType.FLOAT, [k, c], [...components]);
  return e.add(e.op('MatMul', [x, weight]), e.constant(DataType.FLOAT, [bias.length], bias));
}

/**
 * min(max(x, lo), hi) with broadcast bounds, for integer-valued floats (below 2^24). Max and Min broadcast from
 * opset 8; before, max(x, lo) = lo + relu(x - lo) and min(y, hi) = hi - relu(hi - y), exact on such values.
 */
function clampInteger(e: Emitter, x: string, lo: string, hi: string): string {
  if (e.opset >= 8) return e.op('Min', [e.op('Max', [x, lo]), hi]);
  const above = e.add(lo, e.op('Relu', [e.sub(x, lo)]));
  return e.sub(hi, e.op('Relu', [e.sub(hi, above)]));
}

/** The float tensor the precision stages work on: the PCA projection or the learned encoder's latent, else `x`. */
const reduce = (e: Emitter, x: string, fit: FittedTensorCodec): string => (fit.learned ? emitLearned(e, x, fit.learned.encoder) : fit.pca ? project(e, x, fit, true) : x);
/** Back from the reduced float tensor to the cut tensor's shape. */
const restore = (e: Emitter, t: string, fit: FittedTensorCodec): string => (fit.learned ? emitLearned(e, t, fit.learned.decoder) : fit.pca ? project(e, t, fit, false) : t);

/** Nodes from the float cut tensor `x` to its wire form. */
export function emitEncode(e: Emitter, x: string, fit: FittedTensorCodec): string {
  let t = reduce(e, x, fit);
  if (fit.quant) {
    const { bits, scale, zeroPoint } = fit.quant;
    const shape = scale.length > 1 ? along(fit.channelAxis, fit.rank, scale.length) : [];
    const s = e.constant(DataType.FLOAT, shape, [...scale]);
    const zp = e.constant(DataType.FLOAT, shape, [...zeroPoint]);
    const q = e.clip(e.add(e.round(e.op('Div', [t, s])), zp), 0, 2 ** bits - 1);
    t = e.op('Cast', [q], { to: bits <= 8 ? DataType.UINT8 : DataType.UINT16 });
  } else if (fit.fp16) {
    t = e.op('Cast', [t], { to: DataType.FLOAT16 });
  }
  return t;
}

/** Nodes from the wire form back to a float tensor of the cut tensor's shape. */
export function emitDecode(e: Emitter, wire: string, fit: FittedTensorCodec): string {
  let t = wire;
  if (fit.quant) {
    const { scale, zeroPoint } = fit.quant;
    const shape = scale.length > 1 ? along(fit.channelAxis, fit.rank, scale.length) : [];
    t = e.mul(e.sub(e.op('Cast', [t], { to: DataType.FLOAT }), e.constant(DataType.FLOAT, shape, [...zeroPoint])), e.constant(DataType.FLOAT, shape, [...scale]));
  } else if (fit.fp16) {
    t = e.op('Cast', [t], { to: DataType.FLOAT });
  }
  return restore(e, t, fit);
}

/**
 * What the tail sees, in fewer ops than encode + decode: clip(round(x / s), -zp, L - zp) * s equals
 * (clip(round(x / s) + zp, 0, L) - zp) * s exactly (zp is an integer), without the integer casts.
 */
export function emitRoundTrip(e: Emitter, x: string, fit: FittedTensorCodec): string {
  let t = reduce(e, x, fit);
  if (fit.quant) {
    const { bits, scale, zeroPoint } = fit.quant;
    const perChannel = scale.length > 1;
    const shape = perChannel ? along(fit.channelAxis, fit.rank, scale.length) : [];
    const s = e.constant(DataType.FLOAT, shape, [...scale]);
    const lo = [...zeroPoint].map((z) => -z);
    const hi = [...zeroPoint].map((z) => 2 ** bits - 1 - z);
    const r = e.round(e.op('Div', [t, s]));
    // Clip takes scalar bounds only: per-channel bounds need Max/Min
    const clipped = perChannel ? clampInteger(e, r, e.constant(DataType.FLOAT, shape, lo), e.constant(DataType.FLOAT, shape, hi)) : e.clip(r, lo[0]!, hi[0]!);
    t = e.mul(clipped, s);
  } else if (fit.fp16) {
    t = e.op('Cast', [e.op('Cast', [t], { to: DataType.FLOAT16 })], { to: DataType.FLOAT });
  }
  return restore(e, t, fit);
}

export type CodecPart = 'encode' | 'decode' | 'roundtrip';

/**
 * A standalone model for one part of a codec over a cut's tensors: encode (float -> wire), decode (wire ->
 * float) or roundtrip (float -> what the tail sees). Inputs and outputs keep the tensors' names with a
 * `::wire` / `::decoded` suffix for the transformed side.
 */
export function codecModel(fits: readonly FittedTensorCodec[], part: CodecPart, opset: number, dims: (fit: FittedTensorCodec, wire: boolean) => Dim[]): ModelProto {
  const e = new Emitter(opset, 'codec');
  const inputs: onnx.IValueInfoProto[] = [];
  const outputs: onnx.IValueInfoProto[] = [];
  for (const fit of fits) {
    const wireName = `${fit.tensor}::wire`;
    if (part === 'decode') {
      inputs.push(valueInfo(wireName, wireDtype(fit), dims(fit, true)));
      outputs.push(valueInfo(e.op('Identity', [emitDecode(e, wireName, fit)], {}, { output: `${fit.tensor}::decoded` }), tensorDtype(fit), dims(fit, false)));
      continue;
    }
    inputs.push(valueInfo(fit.tensor, tensorDtype(fit), dims(fit, false)));
    if (part === 'encode') outputs.push(valueInfo(e.op('Identity', [emitEncode(e, fit.tensor, fit)], {}, { output: wireName }), wireDtype(fit), dims(fit, true)));
    else outputs.push(valueInfo(e.op('Identity', [emitRoundTrip(e, fit.tensor, fit)], {}, { output: `${fit.tensor}::decoded` }), tensorDtype(fit), dims(fit, false)));
  }
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'impera',
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: `codec_${part}`, node: e.nodes, initializer: e.initializers, input: inputs, output: outputs },
  });
}

/** Input name of a cut tensor in an evaluation model (the tensor's own name is what the tail reads). */
export const sourceName = (t: string): string => `${t}::in`;

/**
 * For evaluating several codecs at once: each cut tensor `t` (fed as `t::in`) goes through every codec's round
 * trip and the results are stacked along the batch (`batchAxis` of the tensor: dim 0, an RNN state's dim 1), codec
 * after codec, under the name `t` — so a tail appended to this graph runs once, on a batch of codecs x samples,
 * with its weights held once.
 */
export function emitStackedRoundTrips(e: Emitter, codecs: readonly (readonly FittedTensorCodec[])[], batchAxis: (tensor: string) => number): void {
  for (const [i, fit] of codecs[0]!.entries()) {
    const decoded = codecs.map((fits) => emitRoundTrip(e, sourceName(fit.tensor), fits[i]!));
    e.op('Concat', decoded, { axis: batchAxis(fit.tensor) }, { output: fit.tensor });
  }
}

/** Every codec's wire tensors for a cut (`t::wire::<k>`, codec k), from the same inputs. */
export function multiEncoderModel(codecs: readonly (readonly FittedTensorCodec[])[], opset: number, dims: (fit: FittedTensorCodec, wire: boolean) => Dim[]): ModelProto {
  const e = new Emitter(opset, 'codec');
  const first = codecs[0]!;
  const outputs = codecs.flatMap((fits, k) => fits.map((fit) => valueInfo(e.op('Identity', [emitEncode(e, fit.tensor, fit)], {}, { output: `${fit.tensor}::wire::${k}` }), wireDtype(fit), dims(fit, true))));
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'impera',
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'codec_encoders', node: e.nodes, initializer: e.initializers, input: first.map((fit) => valueInfo(fit.tensor, tensorDtype(fit), dims(fit, false))), output: outputs },
  });
}
