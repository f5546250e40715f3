/** What an op rule sees and returns. One rule per op family; see registry.ts. */
import { ImperaError } from '../errors.js';
import type { DataType } from '../onnx/dtype.js';
import type { GraphNode } from '../graph/structure.js';
import type { TensorProto } from '../onnx/proto.js';

/** Element type and concrete shape of a tensor. */
export interface TensorInfo {
  dtype: DataType;
  shape: number[];
}

/** A small tensor whose value is known before running the model (constants and shape computations). */
export interface ConstValue {
  dtype: DataType;
  dims: number[];
  data: number[];
}

/** Arithmetic work of one node. MACs count multiply-accumulates of Conv/Gemm/MatMul-like ops only. */
export interface NodeCost {
  macs: number;
  flops: number;
}

export interface OpContext {
  readonly node: GraphNode;
  /** Version of the opset the node's domain is imported at. */
  readonly opset: number;
  /** Input infos; undefined where an optional input is omitted. */
  readonly inputs: readonly (TensorInfo | undefined)[];
  /** Input i, which must be present. */
  input(i: number): TensorInfo;
  /** The known value of input i, if it is a small constant. */
  value(i: number): ConstValue | undefined;
  /** The known value of input i; shape inference cannot go on without it. */
  requireValue(i: number, what: string): number[];
  /** The value of a tensor held in an attribute (Constant's `value`). */
  attributeTensor(t: TensorProto): ConstValue;
}

export interface OpRule {
  /** Output element types and shapes. */
  infer(ctx: OpContext): TensorInfo[];
  /** Output values when all inputs are known constants (small tensors only; used to fold shape computations). */
  evaluate?(ctx: OpContext): ConstValue[];
  /** Arithmetic work; a rule without it is an op the cost model does not know. */
  cost?(ctx: OpContext, outputs: readonly TensorInfo[]): NodeCost;
}

/** Shape inference needs a value it does not have (e.g. a Reshape target computed from data). */
export class NeedsValueError extends Error {}

/** A node whose attributes or input shapes are inconsistent. */
export function badNode(ctx: OpContext, why: string): ImperaError {
  return new ImperaError('SHAPE_INFERENCE', `node '${ctx.node.name}' (${ctx.node.opType}): ${why}`);
}

/** Normalise a possibly negative axis. */
export function normAxis(axis: number, rank: number, ctx: OpContext): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw badNode(ctx, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}
