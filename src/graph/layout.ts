/**
 * Which axis of an activation holds channels and which hold positions, by the conventions ONNX exports follow:
 * images [N, C, H, W] (channels first), token sequences [N, T, C] (channels last), vectors [N, C].
 */
export interface ChannelLayout {
  channelAxis: number;
  positionAxes: number[];
  channels: number;
  /** Positions per sample (H x W, tokens, or 1). */
  positions: number;
}

export function channelLayout(shape: readonly number[]): ChannelLayout | undefined {
  if (shape.length === 4) return { channelAxis: 1, positionAxes: [2, 3], channels: shape[1]!, positions: shape[2]! * shape[3]! };
  if (shape.length === 3) return { channelAxis: 2, positionAxes: [1], channels: shape[2]!, positions: shape[1]! };
  if (shape.length === 2) return { channelAxis: 1, positionAxes: [], channels: shape[1]!, positions: 1 };
  return undefined;
}
