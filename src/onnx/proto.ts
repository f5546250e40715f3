/**
 * The ONNX protobuf messages (generated from onnx.proto by protobufjs). int64 fields are decoded as plain
 * numbers: ONNX int64s are dims, attribute ints and versions, far below 2^53; tensor payloads stay bytes.
 */
import protobuf from 'protobufjs/minimal.js';
import { onnx } from './generated/onnx.js';

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

export { onnx };
export type ModelProto = onnx.ModelProto;
export type GraphProto = onnx.IGraphProto;
export type NodeProto = onnx.INodeProto;
export type TensorProto = onnx.ITensorProto;
export type AttributeProto = onnx.IAttributeProto;
export type ValueInfoProto = onnx.IValueInfoProto;
