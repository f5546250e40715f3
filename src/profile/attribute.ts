/**
 * Mapping ONNX Runtime's kernel times back to the model's ONNX nodes.
 *
 * ORT runs an optimised graph: Conv+Relu/Clip (and, in the NCHWc layout, a following residual Add) become one
 * kernel, Gelu subgraphs become BiasGelu, layout conversions (ReorderInput/ReorderOutput) are inserted, no-op
 * nodes disappear. Its trace names the optimised graph's nodes, so:
 *  1. each kernel is matched to the ONNX node it is named after: ORT keeps the node's name, or prefixes
 *     "fused ", or appends "/<Rule>Fusion/", or names an NCHWc kernel after its output tensor plus "_nchwc" (the
 *     output of a fused Relu: the match walks up to the node of the kernel's op type, the Conv); failing names,
 *     a kernel that writes a tensor of the model is matched to that tensor's producer;
 *  2. a kernel with no such name (inserted by ORT) joins the group of its neighbour in the optimised graph: a
 *     ReorderInput the kernel it feeds, a ReorderOutput the kernel it drains, others a consumer first, else a
 *     producer;
 *  3. an ONNX node no kernel is named after was fused or removed: it joins a neighbouring group along data flow,
 *     first the group of the node whose output only it reads (a Relu, or a residual Add and Relu, fused after a
 *     Conv), then the group that alone reads all its outputs (an op folded into its consumer);
 *  4. a group's time goes to the node its kernels were matched to (the anchor); the other members are marked
 *     as fused into it with 0 ms. `shareFusedTime` then gives each member its own standalone time out of the
 *     anchor's: a fused Clip still costs about that much (MobileNetV2's first Conv runs 0.096 ms alone and
 *     0.132 ms with its Clip fused; the Clip alone takes 0.036 ms: a one-off measurement, not a bench), and it is
 *     what a part that cuts the member off its anchor pays.
 */
import { isDataTensor, runtimeNodes, type Graph } from '../graph/graph.js';
import type { KernelTime } from './trace.js';

/** A node of ORT's optimised graph (as saved with `optimizedModelPath`). */
export interface OptimizedNode {
  name: string;
  opType: string;
  domain: string;
  inputs: readonly string[];
  outputs: readonly string[];
}

export interface NodeTime {
  /** Index of the ONNX node in the graph. */
  index: number;
  name: string;
  opType: string;
  /** Time per inference inside the full model's run. */
  ms: number;
  /** Set when the node runs inside another node's kernel (its `ms` is then 0). */
  fusedInto?: string;
  /** The ORT kernels whose time this node carries. */
  kernels: string[];
}

export interface Attribution {
  /** Every runtime node of the graph, in topological order. */
  nodes: NodeTime[];
  /** Kernels that could not be tied to any ONNX node, and their time. */
  unmatched: KernelTime[];
  /**
   * Tensors ORT keeps in its blocked NCHWc layout (or never writes, inside a fused NCHWc kernel) in the full
   * model: a part that ends or starts at one pays a layout conversion the full model does not have.
   */
  blocked: string[];
}

const NCHWC_DOMAIN = 'com.microsoft.nchwc';

const NAME_RULES: ((name: string) => string)[] = [(n) => n.replace(/^fused /, ''), (n) => n.replace(/_nchwc$/, ''), (n) => n.replace(/\/\w*Fusion\/$/, '')];

/** Layout conversions ORT inserts, and the neighbour they belong to: the kernel they feed, or the one they drain. */
const LAYOUT_OPS = new Map<string, 'consumer' | 'producer'>([
  ['ReorderInput', 'consumer'],
  ['ReorderOutput', 'producer'],
]);

/** ORT's fused kernels carry the base op's type with a prefix (FusedConv, FusedGemm, FusedMatMul). */
const baseOp = (opType: string) => opType.replace(/^Fused/, '');

/** Data-flow lookups on the runtime part of the graph. */
class Flow {
  readonly order: number[];
  readonly runtime: Set<number>;
  readonly position: Map<number, number>;
  private readonly byName: Map<string, number>;
  private readonly graphOutputs: Set<string>;

  constructor(readonly g: Graph) {
    this.order = runtimeNodes(g);
    this.runtime = new Set(this.order);
    this.position = new Map(this.order.map((n, i) => [n, i]));
    this.byName = new Map(this.order.map((n) => [g.nodes[n]!.name, n]));
    this.graphOutputs = new Set(g.outputs.map((o) => o.name!));
  }

  private isData = (t: string) => isDataTensor(this.g, t);
  node = (name: string) => this.byName.get(name) ?? -1;
  /** Runtime producer of a tensor, -1 for inputs, constants and unknown names. */
  producer = (t: string) => {
    const p = this.g.tensors.get(t)?.producer ?? -1;
    return this.runtime.has(p) ? p : -1;
  };
  readers = (t: string) => this.g.tensors.get(t)!.consumers.filter((c) => this.runtime.has(c));
  inputs = (n: number) => this.g.nodes[n]!.reads.filter(this.isData);
  outputs = (n: number) => this.g.nodes[n]!.outputs.filter(this.isData);
  isGraphOutput = (t: string) => this.graphOutputs.has(t);
}

/**
 * The ONNX node a kernel is named after, or -1. A kernel named after a tensor (NCHWc) is named after its
 * epilogue's output: walk up the chain that only feeds it to the node of the kernel's own op type.
 */
function matchByName(f: Flow, kernel: OptimizedNode): number {
  const names = NAME_RULES.reduce((acc, rule) => [...acc, rule(acc[acc.length - 1]!)], [kernel.name]);
  const named = names.map(f.node).find((n) => n >= 0) ?? names.map(f.producer).find((n) => n >= 0) ?? -1;
  if (named < 0) return -1;
  for (let n = named; n >= 0; ) {
    if (f.g.nodes[n]!.opType === baseOp(kernel.opType)) return n;
    const feeding = f.inputs(n).filter((t) => f.readers(t).length === 1).map(f.producer).filter((p) => p >= 0);
    n = feeding.length === 1 ? feeding[0]! : -1;
  }
  return named;
}

/** One pass of `step` over the unresolved items (in order, so chains resolve in one pass); true if any changed. */
function sweep<T>(items: readonly T[], resolved: (x: T) => boolean, step: (x: T) => boolean): boolean {
  let changed = false;
  for (const x of items) if (!resolved(x) && step(x)) changed = true;
  return changed;
}

/** Group (an ONNX node index) of every kernel of the optimised graph, -1 where none was found. */
function kernelGroups(f: Flow, optimized: readonly OptimizedNode[]): Map<string, number> {
  const group = new Map<string, number>();
  for (const o of optimized) {
    const named = LAYOUT_OPS.has(o.opType) ? -1 : matchByName(f, o);
    // A kernel that writes a tensor of the model computes it (BiasGelu writes the Gelu's output); a layout
    // conversion only hands it on.
    group.set(o.name, named >= 0 || LAYOUT_OPS.has(o.opType) ? named : (o.outputs.map(f.producer).find((p) => p >= 0) ?? -1));
  }
  const producers = new Map<string, OptimizedNode>(optimized.flatMap((o) => o.outputs.map((t) => [t, o] as const)));
  const consumers = new Map<string, OptimizedNode[]>();
  for (const o of optimized) for (const t of o.inputs) consumers.set(t, [...(consumers.get(t) ?? []), o]);
  const known = (o: OptimizedNode | undefined) => (o ? (group.get(o.name) ?? -1) : -1);
  const isResolved = (o: OptimizedNode) => group.get(o.name)! >= 0;
  const assign = (o: OptimizedNode, to: number | undefined) => to !== undefined && !!group.set(o.name, to);
  const viaConsumer = (o: OptimizedNode) => LAYOUT_OPS.get(o.opType) !== 'producer' && assign(o, o.outputs.flatMap((t) => consumers.get(t) ?? []).map(known).find((x) => x >= 0));
  const viaProducer = (o: OptimizedNode) => LAYOUT_OPS.get(o.opType) !== 'consumer' && assign(o, o.inputs.map((t) => known(producers.get(t))).filter((x) => x >= 0).pop());
  while (sweep(optimized, isResolved, viaConsumer) || sweep(optimized, isResolved, viaProducer));
  return group;
}

/** Group of every runtime ONNX node: itself when a kernel is named after it, else a fusion partner's group. */
function nodeGroups(f: Flow, runsAt: ReadonlyMap<number, number>): Map<number, number> {
  const group = new Map<number, number>([...runsAt.keys()].map((n) => [n, n]));
  const isResolved = (n: number) => group.has(n);
  const assign = (n: number, to: number | undefined) => to !== undefined && !!group.set(n, group.get(to)!);
  // Of resolved nodes, the one whose group's kernel runs last in ORT's order: an Add reading two convolutions is
  // fused into the one ORT runs second.
  const latest = (ns: number[]) => ns.sort((a, b) => runsAt.get(group.get(a)!)! - runsAt.get(group.get(b)!)! || f.position.get(a)! - f.position.get(b)!).pop();
  // The latest producer whose output only n reads (an epilogue fused after it).
  const soleWriter = (n: number) => assign(n, latest(f.inputs(n).filter((t) => f.readers(t).length === 1).map(f.producer).filter(isResolved)));
  // The one group that reads everything n writes (a prologue fused before it).
  const soleReader = (n: number) => {
    const outs = f.outputs(n);
    if (outs.length === 0 || outs.some(f.isGraphOutput)) return false;
    const readers = outs.flatMap(f.readers);
    const groups = new Set(readers.map((r) => group.get(r)));
    return groups.size === 1 && !groups.has(undefined) && assign(n, readers[0]);
  };
  const anyNeighbour = (n: number) => assign(n, latest(f.inputs(n).map(f.producer).filter(isResolved)) ?? f.outputs(n).flatMap(f.readers).find(isResolved));
  while (sweep(f.order, isResolved, soleWriter) || sweep(f.order, isResolved, soleReader) || sweep(f.order, isResolved, anyNeighbour));
  return group;
}

/** Attribute kernel times to the ONNX nodes of `g`; `optimized` is ORT's optimised graph the kernels belong to. */
export function attributeKernels(g: Graph, optimized: readonly OptimizedNode[], kernels: readonly KernelTime[]): Attribution {
  const f = new Flow(g);
  const kGroup = kernelGroups(f, optimized);
  const runsAt = new Map<number, number>();
  optimized.forEach((o, i) => kGroup.get(o.name)! >= 0 && runsAt.set(kGroup.get(o.name)!, i));
  const nGroup = nodeGroups(f, runsAt);
  const ms = new Map<number, number>();
  const names = new Map<number, string[]>();
  const unmatched: KernelTime[] = [];
  for (const k of kernels) {
    const anchor = kGroup.get(k.name) ?? -1;
    if (anchor < 0) {
      unmatched.push(k);
      continue;
    }
    ms.set(anchor, (ms.get(anchor) ?? 0) + k.ms);
    names.set(anchor, [...(names.get(anchor) ?? []), k.name]);
  }
  const nodes = f.order.map((i): NodeTime => {
    const n = g.nodes[i]!;
    const anchor = nGroup.get(i);
    const fused = anchor !== undefined && anchor !== i;
    return { index: i, name: n.name, opType: n.opType, ms: fused ? 0 : (ms.get(i) ?? 0), ...(fused ? { fusedInto: g.nodes[anchor]!.name } : {}), kernels: names.get(i) ?? [] };
  });
  const materialized = new Set(optimized.flatMap((o) => [...o.inputs, ...o.outputs]));
  const nchwcGroups = new Set(optimized.filter((o) => o.domain === NCHWC_DOMAIN).map((o) => kGroup.get(o.name)));
  const blocked = f.order.flatMap(f.outputs).filter((t) => !materialized.has(t) && nchwcGroups.has(nGroup.get(f.producer(t))));
  return { nodes, unmatched, blocked };
}

/**
 * Move each fused node's standalone time (by node index) from its anchor to it; an anchor keeps at least half of
 * its kernel time.
 */
export function shareFusedTime(nodes: readonly NodeTime[], standaloneMs: ReadonlyMap<number, number>): NodeTime[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const members = new Map<string, NodeTime[]>();
  for (const n of nodes) if (n.fusedInto !== undefined) members.set(n.fusedInto, [...(members.get(n.fusedInto) ?? []), n]);
  const ms = new Map(nodes.map((n) => [n.index, n.ms]));
  for (const [anchorName, group] of members) {
    const anchor = byName.get(anchorName)!;
    const wanted = group.reduce((s, m) => s + (standaloneMs.get(m.index) ?? 0), 0);
    const scale = wanted > anchor.ms / 2 ? anchor.ms / 2 / wanted : 1;
    for (const m of group) ms.set(m.index, (standaloneMs.get(m.index) ?? 0) * scale);
    ms.set(anchor.index, anchor.ms - wanted * scale);
  }
  return nodes.map((n) => ({ ...n, ms: ms.get(n.index)! }));
}
