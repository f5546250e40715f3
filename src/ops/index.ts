/** The op rules' public face: the registry's functions and the types a custom rule is written with. */
export { getOpRule, registerOpRule, registeredOps } from './registry.js';
export type { RegisterOptions } from '../onnx/op-table.js';
export type { ConstValue, NodeCost, OpContext, OpRule, TensorInfo } from './types.js';
