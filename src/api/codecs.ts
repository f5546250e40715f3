/** `impera/codecs`: what crosses a cut: codec specs, fitting on calibration data, their ONNX form and the wire format. */
export { parseCodec, isLossy, DEFAULT_CODECS, type CodecSpec, type QuantStage, type Entropy } from '../codecs/spec.js';
export { fitCodecs, type CalibrationOptions } from '../codecs/calibrate.js';
export { fitPca, type Pca, type ChannelMoments } from '../codecs/pca.js';
export { codecModel, emitEncode, emitDecode, emitRoundTrip } from '../codecs/onnx.js';
export { encodeWire, decodeWire, wireCodec, type WireValues, type WireDescription } from '../codecs/wire.js';
export type { FittedCodec, FittedTensorCodec } from '../codecs/fitted.js';
export { attachCodec, describeWire, runCodecPair } from '../export/codec.js';
