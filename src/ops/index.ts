/** Loads every op family so its rules are registered; import this once before analysing a graph. */
import './elementwise.js';
import './conv.js';
import './matmul.js';
import './norm.js';
import './reduce.js';
import './shape-ops.js';
import './constant.js';

export { getOpRule, registerOpRule, registeredOps } from './registry.js';
export type { ConstValue, NodeCost, OpContext, OpRule, TensorInfo } from './types.js';
