/** `impera/onnx`: the ONNX format — load and save models (external data too; model-local functions inlined at load, or by `inlineFunctions` on a decoded model), tensors as typed arrays, data types, building models in code, and the protobuf classes. */
export { loadModel, saveModel, decodeModel, encodeModel, inMemoryModel, type OnnxModel, type SaveOptions } from '../onnx/io.js';
export { inlineFunctions } from '../onnx/functions.js';
export { readTensor, makeTensorProto, toNumbers, type Tensor, type TypedArray } from '../onnx/tensor.js';
export { ModelBuilder, valueInfo } from '../onnx/builder.js';
export { Emitter, type NodeOptions, type OpOptions } from '../onnx/emitter.js';
export { DataType, dtypeName, tensorBytes } from '../onnx/dtype.js';
export { onnx } from '../onnx/proto.js';
