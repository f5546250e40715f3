/**
 * The analysed graph every later stage reads: structure plus, for the chosen input shapes, every tensor's type,
 * shape and size, which tensors are constants, known constant values, and each node's cost.
 */
import { numel, tensorBytes } from '../onnx/dtype.js';
import type { OnnxModel } from '../onnx/io.js';
import type { ConstValue, NodeCost, TensorInfo } from '../ops/types.js';
import type { GraphStructure, ValueLinks } from './structure.js';

export interface TensorFacts extends ValueLinks, TensorInfo {
  /** Fixed for the analysed input shapes: initializers, constants, shape computations. Never crosses a cut. */
  readonly isStatic: boolean;
  /** The value, when it is a small known constant. */
  readonly value: ConstValue | undefined;
  /** Size in bytes at the analysed shape. */
  readonly bytes: number;
  /**
   * How each dim follows the batch: k when the dim is k x batch, 0 when fixed, -1 when it changes with the batch
   * in some other way. Undefined when the model has no symbolic batch.
   */
  readonly batchScale: readonly number[] | undefined;
  /** The (static) value changes with the batch size, e.g. a Reshape target holding the batch. */
  readonly valueFollowsBatch: boolean;
}

/** What the analysed model was specialised to (graph/specialise.ts): it is what the analysis, cuts and parts describe. */
export interface Specialisation {
  /** Inputs bound to these values (flattened), now constants of the model. */
  readonly inputValues: Readonly<Record<string, readonly number[]>>;
  /** `If` nodes replaced by the branch their known condition takes, in the order they were folded. */
  readonly folded: readonly { readonly node: string; readonly branch: 'then' | 'else' }[];
}

export interface Graph extends GraphStructure {
  readonly model: OnnxModel;
  readonly tensors: ReadonlyMap<string, TensorFacts>;
  /** Per node: arithmetic work at the analysed shapes; undefined for ops the cost model does not know. */
  readonly costs: readonly (NodeCost | undefined)[];
  /** Per node: all its outputs are constants (folded by any runtime at load time; costs nothing per inference). */
  readonly isStaticNode: readonly boolean[];
  readonly inputShapes: ReadonlyMap<string, TensorInfo>;
  readonly batch: { readonly symbol: string; readonly size: number } | undefined;
  readonly warnings: readonly string[];
  /** Undefined when the model is analysed as its file has it. */
  readonly specialisation: Specialisation | undefined;
}

export function tensor(g: Graph, name: string): TensorFacts {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`no tensor '${name}' in the graph`);
  return t;
}

/** A tensor computed per inference: in the graph (not an omitted optional input, '') and not static. */
export const isDataTensor = (g: Graph, name: string): boolean => !!name && g.tensors.has(name) && !g.tensors.get(name)!.isStatic;

/** Nodes that run per inference: live and not constant. These are what cuts divide. */
export function runtimeNodes(g: Graph): number[] {
  return g.order.filter((i) => g.live[i] && !g.isStaticNode[i]);
}

export const bytesOf = (t: TensorInfo): number => tensorBytes(t.dtype, numel(t.shape));

/**
 * The tensor's shape for a model interface: dims that equal the batch become the batch symbol, dims that are
 * k x batch become `k*<symbol>`, fixed dims stay numbers. Without a symbolic batch, the concrete shape.
 */
export function symbolicShape(g: Graph, name: string): (number | string)[] {
  const t = tensor(g, name);
  const batch = g.batch;
  if (!batch || !t.batchScale) return [...t.shape];
  return t.shape.map((d, i) => {
    const k = t.batchScale![i]!;
    return k <= 0 ? d : k === 1 ? batch.symbol : `${k}*${batch.symbol}`;
  });
}
