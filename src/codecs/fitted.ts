/** A codec fitted to one cut tensor: its parameters from calibration data, ready to emit as ONNX or run on bytes. */
import { latentDims, type LearnedStage } from './learned.js';
import type { CodecSpec } from './spec.js';

export interface FittedTensorCodec {
  tensor: string;
  /** Rank of the tensor (with the batch) and its channel axis (see graph/layout.ts). */
  rank: number;
  channelAxis: number;
  /** Elements per sample of the wire tensor (after PCA or a learned encoder, if any). */
  wireElements: number;
  /** A trained bottleneck around the quantisation (the latent keeps the tensor's rank and channel axis). */
  learned?: LearnedStage;
  /** Kept principal directions (k x C, row-major), the channel means, and the share of variance kept. */
  pca?: { k: number; components: Float32Array; mean: Float32Array; explained: number };
  /** Affine quantisation: q = clip(round(x / scale) + zeroPoint, 0, 2^bits - 1); one value, or one per channel. */
  quant?: { bits: number; scale: Float32Array; zeroPoint: Float32Array };
  fp16?: boolean;
  /**
   * The tensor's element type by ONNX name where it is not float32 (a bool mask, int64 token ids beside an
   * activation): such a tensor crosses as it is, losslessly; the codec's stages apply to the float32 tensors only.
   */
  passthrough?: string;
}

export interface FittedCodec {
  spec: CodecSpec;
  /** One per cut tensor, in the cut's order. */
  tensors: FittedTensorCodec[];
  /** Bytes of the codec's own parameters (PCA matrices, scales), part of the encoder's size. */
  paramBytes: number;
}

export function codecParamBytes(tensors: readonly FittedTensorCodec[]): number {
  return tensors.reduce((s, t) => s + 4 * ((t.pca ? t.pca.components.length + t.pca.mean.length : 0) + (t.quant ? 2 * t.quant.scale.length : 0)) + (t.learned?.encoderBytes ?? 0), 0);
}

/** The wire tensor's dims from the cut tensor's (batch kept): k channels after PCA, the latent's after a learned encoder. */
export function wireDimsOf<T>(fit: FittedTensorCodec, dims: readonly T[]): (T | number)[] {
  if (fit.learned) return latentDims(fit.learned, dims);
  const out: (T | number)[] = [...dims];
  if (fit.pca) out[fit.channelAxis] = fit.pca.k;
  return out;
}

/** FLOPs per sample the codec adds on the device (encoding) and on the server (decoding): a learned encoder's and decoder's. */
export const codecFlops = (fit: FittedCodec): { encode: number; decode: number } => ({
  encode: fit.tensors.reduce((s, t) => s + (t.learned?.flops.encode ?? 0), 0),
  decode: fit.tensors.reduce((s, t) => s + (t.learned?.flops.decode ?? 0), 0),
});
