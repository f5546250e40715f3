/** `impera/onnx`: the ONNX format — load and save models (external data too), tensors as typed arrays, data types, building models in code, and the protobuf classes. */
export { loadModel, saveModel, decodeModel, encodeModel, inMemoryModel, type OnnxModel, type SaveOptions } from '../onnx/io.js';
export { readTensor, makeTensorProto, toNumbers, type Tensor, type TypedArray } from '../onnx/tensor.js';
export { ModelBuilder, valueInfo } from '../onnx/builder.js';
export { Emitter, type NodeOptions, type OpOptions } from '../onnx/emitter.js';
export { DataType, dtypeName, tensorBytes } from '../onnx/dtype.js';
export { onnx } from '../onnx/proto.js';
