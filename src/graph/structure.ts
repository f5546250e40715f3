/**
 * The structure of an ONNX graph: nodes, the values they read and write, producers and consumers, and a
 * topological order. Shapes are added by `analyze.ts`; this file knows nothing about them.
 */
import { ImperaError } from '../errors.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto.js';

export interface GraphNode {
  /** Position in the model's node list. */
  readonly index: number;
  /** The node's name, or `<OpType>_<index>` when the model leaves it unnamed. */
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** Explicit inputs, '' for an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Every value the node reads: explicit inputs plus outer-scope values its subgraphs (If/Loop/Scan) use. */
  readonly reads: readonly string[];
  readonly proto: NodeProto;
}

export type ValueOrigin = 'input' | 'initializer' | 'node';

export interface ValueLinks {
  readonly name: string;
  readonly origin: ValueOrigin;
  /** Producing node index, -1 for graph inputs and initializers. */
  readonly producer: number;
  /** Indices of the nodes reading the value, each once, in node order. */
  readonly consumers: number[];
}

export interface GraphStructure {
  readonly proto: ModelProto;
  readonly nodes: readonly GraphNode[];
  readonly values: ReadonlyMap<string, ValueLinks>;
  /** Graph inputs that are not initializers (what a caller feeds). */
  readonly inputs: readonly ValueInfoProto[];
  readonly outputs: readonly ValueInfoProto[];
  readonly initializers: ReadonlyMap<string, TensorProto>;
  /** Node indices in a topological order (the model's own order where it is already topological). */
  readonly order: readonly number[];
  /** Opset version per domain ('' is the default ONNX domain). */
  readonly opsets: ReadonlyMap<string, number>;
  /** Nodes that contribute to some graph output (after analysis: at run time, see liveNodes). */
  readonly live: readonly boolean[];
}

/** Names a subgraph reads from enclosing scopes (used but not defined inside it). */
function outerScopeReads(g: GraphProto): string[] {
  const defined = new Set<string>([...(g.input ?? []).map((v) => v.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
  const reads: string[] = [];
  for (const n of g.node ?? []) {
    for (const i of [...(n.input ?? []), ...nestedReads(n)]) if (i && !defined.has(i)) reads.push(i);
    for (const o of n.output ?? []) defined.add(o);
  }
  return reads;
}

function nestedReads(n: NodeProto): string[] {
  return (n.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])].flatMap(outerScopeReads));
}

export function buildStructure(proto: ModelProto): GraphStructure {
  const g = proto.graph!;
  const initializers = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const values = new Map<string, { name: string; origin: ValueOrigin; producer: number; consumers: number[] }>();
  const inputs = (g.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  for (const v of inputs) values.set(v.name!, { name: v.name!, origin: 'input', producer: -1, consumers: [] });
  for (const name of initializers.keys()) values.set(name, { name, origin: 'initializer', producer: -1, consumers: [] });

  const nodes: GraphNode[] = (g.node ?? []).map((p, index) => {
    const inputsOf = [...(p.input ?? [])];
    const reads = [...new Set([...inputsOf.filter((i) => i !== ''), ...nestedReads(p)])];
    return { index, name: p.name || `${p.opType}_${index}`, opType: p.opType ?? '', domain: p.domain ?? '', inputs: inputsOf, outputs: [...(p.output ?? [])], reads, proto: p };
  });
  for (const n of nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      if (values.has(o)) throw new ImperaError('INVALID_MODEL', `tensor '${o}' is produced twice (by node '${n.name}' and earlier)`, 'an ONNX graph must assign each tensor once');
      values.set(o, { name: o, origin: 'node', producer: n.index, consumers: [] });
    }
  }
  for (const n of nodes) {
    for (const r of n.reads) {
      const v = values.get(r);
      if (!v) throw new ImperaError('INVALID_MODEL', `node '${n.name}' (${n.opType}) reads tensor '${r}', which no node, input or initializer provides`);
      v.consumers.push(n.index);
    }
  }
  for (const o of g.output ?? []) {
    if (!values.has(o.name ?? '')) throw new ImperaError('INVALID_MODEL', `graph output '${o.name}' is not produced by any node`);
  }
  const opsets = new Map((proto.opsetImport ?? []).map((o) => [o.domain === 'ai.onnx' ? '' : (o.domain ?? ''), Number(o.version ?? 0)]));
  const order = topologicalOrder(nodes, values);
  return { proto, nodes, values, inputs, outputs: g.output ?? [], initializers, order, opsets, live: liveNodes(nodes, values, g.output ?? []) };
}

/** Kahn's algorithm, always taking the lowest original index first so a sorted model keeps its order. */
function topologicalOrder(nodes: readonly GraphNode[], values: ReadonlyMap<string, ValueLinks>): number[] {
  const pending = nodes.map((n) => n.reads.filter((r) => values.get(r)!.producer >= 0).length);
  const ready = new MinHeap();
  pending.forEach((p, i) => p === 0 && ready.push(i));
  const order: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(i);
    for (const o of nodes[i]!.outputs) {
      for (const c of values.get(o)?.consumers ?? []) if (--pending[c]! === 0) ready.push(c);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.find((_, i) => pending[i]! > 0)!;
    throw new ImperaError('INVALID_MODEL', `the graph has a cycle through node '${stuck.name}' (${stuck.opType})`);
  }
  return order;
}

/**
 * Nodes that contribute to some graph output. A `folded` node's value is known before any inference, so what it
 * reads is not needed at run time: a node whose outputs only feed folded ones (a tensor only measured by Shape, as
 * exporters leave in attention layers) is live in the file but unused per inference.
 */
export function liveNodes(nodes: readonly GraphNode[], values: ReadonlyMap<string, ValueLinks>, outputs: readonly ValueInfoProto[], folded: (node: number) => boolean = () => false): boolean[] {
  const live = nodes.map(() => false);
  const stack = outputs.map((o) => values.get(o.name!)!.producer).filter((p) => p >= 0);
  while (stack.length) {
    const i = stack.pop()!;
    if (live[i]) continue;
    live[i] = true;
    if (folded(i)) continue;
    for (const r of nodes[i]!.reads) {
      const p = values.get(r)!.producer;
      if (p >= 0 && !live[p]) stack.push(p);
    }
  }
  return live;
}

class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
