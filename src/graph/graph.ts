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
  /**
   * The tensor's shape in the second shape pass of each dynamic input dim (by symbol): a dim that differs from
   * `shape` follows that input dim. Symbols whose second pass failed are absent.
   */
  readonly shapeAt: ReadonlyMap<string, readonly number[]>;
  /**
   * The shape depends on values computed at run time (the boxes a detector's NMS keeps): `shape` is that of one
   * run on synthetic inputs, and a model interface leaves every dim of it open.
   */
  readonly dataDependent: boolean;
}

/**
 * A dim of the model's inputs that the model leaves open: the batch, or a height, width or length. Analysis runs
 * the shape pass once more with only this dim changed, to learn which dims of every tensor follow it.
 */
export interface DynamicDim {
  /** The model's name for it (its dim_param), or one impera gives an unnamed dim. */
  readonly symbol: string;
  /** The inputs and axes that carry it. */
  readonly at: readonly { readonly input: string; readonly axis: number }[];
  /** Its size in the analysis. */
  readonly size: number;
  /** Its size in the second pass; undefined when the model does not run at another size (parts keep it fixed). */
  readonly probe: number | undefined;
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
  /** Every dynamic input dim, the batch first; exported parts keep those with a `probe` dynamic. */
  readonly dynamicDims: readonly DynamicDim[];
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

/** A tensor's batch axis: the first dim that is one batch per sample (dim 0 when the analysis does not say). */
export const batchAxis = (g: Graph, name: string): number => Math.max(0, g.tensors.get(name)?.batchScale?.indexOf(1) ?? 0);

/**
 * Whether the model runs batches of any size: it has a batch and runs at another size (else its batch is fixed, as
 * exported: [1, 25, 96], and samples go through it one by one).
 */
export const takesAnyBatch = (g: Graph): boolean => g.batch !== undefined && g.dynamicDims.some((d) => d.symbol === g.batch!.symbol && d.probe !== undefined);

export const bytesOf = (t: TensorInfo): number => tensorBytes(t.dtype, numel(t.shape));

/** The dynamic dims that dim `axis` of `t` follows, among `dims` (a dim follows one when it changed in its pass). */
export function followedDims(t: TensorFacts, axis: number, dims: readonly DynamicDim[]): DynamicDim[] {
  return dims.filter((d) => {
    const other = t.shapeAt.get(d.symbol);
    return other !== undefined && other[axis] !== t.shape[axis];
  });
}

/**
 * The name of a dim that follows `dims`: their symbols' product times a constant (`batch`, `4*batch`, `H/4`,
 * `H*W`) when the dim is proportional to each of them in its pass, else `<tensor>_dim<axis>`.
 */
function dimName(t: TensorFacts, name: string, axis: number, dims: readonly DynamicDim[]): string {
  const d = t.shape[axis]!;
  const proportional = dims.every((s) => t.shapeAt.get(s.symbol)![axis]! * s.size === d * s.probe!);
  const product = dims.reduce((p, s) => p * s.size, 1);
  const symbols = dims.map((s) => s.symbol).join('*');
  if (proportional && d % product === 0) return d === product ? symbols : `${d / product}*${symbols}`;
  if (proportional && product % d === 0) return `${symbols}/${product / d}`;
  return `${name}_dim${axis}`;
}

/**
 * The tensor's shape for a model interface: a dim that follows dynamic input dims gets a symbolic name (the batch
 * symbol, `k*<batch>`, `<H>/4`, ...), other dims stay numbers; every dim of a data-dependent tensor is
 * `<tensor>_dim<axis>`. `fixed` lists symbols to keep at their analysed size (a part that cannot follow them).
 */
export function symbolicShape(g: Graph, name: string, fixed: ReadonlySet<string> = new Set()): (number | string)[] {
  const t = tensor(g, name);
  const open = g.dynamicDims.filter((d) => d.probe !== undefined && !fixed.has(d.symbol));
  return t.shape.map((d, i) => {
    if (t.dataDependent) return `${name}_dim${i}`;
    const follows = followedDims(t, i, open);
    return follows.length ? dimName(t, name, i, follows) : d;
  });
}
