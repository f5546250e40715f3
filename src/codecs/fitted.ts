/** A codec fitted to one cut tensor: its parameters from calibration data, ready to emit as ONNX or run on bytes. */
import type { CodecSpec } from './spec.js';

export interface FittedTensorCodec {
  tensor: string;
  /** Rank of the tensor (with the batch) and its channel axis (see graph/layout.ts). */
  rank: number;
  channelAxis: number;
  /** Elements per sample of the wire tensor (after PCA, if any). */
  wireElements: number;
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
  return tensors.reduce((s, t) => s + 4 * ((t.pca ? t.pca.components.length + t.pca.mean.length : 0) + (t.quant ? 2 * t.quant.scale.length : 0)), 0);
}
