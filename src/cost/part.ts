/**
 * Cost of a part of a graph (a head, a tail, a stage, or the whole model): arithmetic, parameter storage, and
 * the peak activation memory of running its nodes in topological order.
 */
import { isDataTensor, runtimeNodes, type Graph } from '../graph/graph.js';
import { numel } from '../onnx/dtype.js';

export interface PartCost {
  /** Nodes run per inference. */
  nodes: number;
  macs: number;
  flops: number;
  /** Nodes whose op the cost model does not know (their work is missing from macs/flops). */
  unknownCostNodes: number;
  /** Elements of the weights and constants the part reads (each once). */
  params: number;
  /** Their bytes: what the device must store. */
  paramBytes: number;
  /**
   * Peak bytes of live activations when the nodes run in topological order: the part's inputs, plus each node's
   * inputs and outputs while it runs, freed after their last reader in the part. What the device needs in RAM
   * besides the weights.
   */
  peakActivationBytes: number;
  /** Bytes of the tensors the part receives and sends. */
  inputBytes: number;
  outputBytes: number;
}

/** Per-graph tables partCost needs, built once: many cuts are costed against the same graph. */
interface CostIndex {
  order: number[];
  bytes: number[];
  elements: number[];
  producer: number[];
  /** Runtime readers per tensor id. */
  readers: number[][];
  isOutput: boolean[];
  /** Per node index: data tensors read (ids, each once), stored parameters read, data tensors written. */
  reads: number[][];
  params: number[][];
  writes: number[][];
}

const indexes = new WeakMap<Graph, CostIndex>();

function costIndex(g: Graph): CostIndex {
  const cached = indexes.get(g);
  if (cached) return cached;
  const id = new Map<string, number>();
  const names = [...g.tensors.keys()];
  names.forEach((n, i) => id.set(n, i));
  const facts = names.map((n) => g.tensors.get(n)!);
  const order = runtimeNodes(g);
  const runtime = new Set(order);
  const roots = new Map<string, string[]>();
  const storedRoots = (name: string): string[] => {
    const known = roots.get(name);
    if (known) return known;
    const t = g.tensors.get(name)!;
    const p = t.producer >= 0 ? g.nodes[t.producer]! : undefined;
    const found =
      t.origin === 'initializer' ? [name]
      : !p ? []
      : p.opType === 'Constant' ? [name]
      : [...new Set(p.reads.flatMap((r) => (g.tensors.get(r)?.isStatic ? storedRoots(r) : [])))];
    roots.set(name, found);
    return found;
  };
  const index: CostIndex = {
    order,
    bytes: facts.map((t) => t.bytes),
    elements: facts.map((t) => numel(t.shape)),
    producer: facts.map((t) => t.producer),
    readers: facts.map((t) => t.consumers.filter((c) => runtime.has(c))),
    isOutput: names.map((n) => g.outputs.some((o) => o.name === n)),
    reads: g.nodes.map((n) => n.reads.filter((r) => !g.tensors.get(r)?.isStatic).map((r) => id.get(r)!)),
    params: g.nodes.map((n) => [...new Set(n.reads.filter((r) => g.tensors.get(r)?.isStatic).flatMap(storedRoots))].map((r) => id.get(r)!)),
    writes: g.nodes.map((n) => n.outputs.filter((o) => isDataTensor(g, o)).map((o) => id.get(o)!)),
  };
  indexes.set(g, index);
  return index;
}

/** Cost of the runtime nodes in `part` (node indices). What it hands on is what nodes outside it or the graph output read. */
export function partCost(g: Graph, part: ReadonlySet<number>): PartCost {
  const ix = costIndex(g);
  const order = ix.order.filter((i) => part.has(i));
  const leaves = (t: number) => ix.isOutput[t]! || ix.readers[t]!.some((r) => !part.has(r));
  const producedHere = (t: number) => part.has(ix.producer[t]!);

  let macs = 0;
  let flops = 0;
  let unknown = 0;
  const params = new Set<number>();
  const remaining = new Map<number, number>();
  const inputs = new Set<number>();
  for (const i of order) {
    const c = g.costs[i];
    if (c) {
      macs += c.macs;
      flops += c.flops;
    } else unknown++;
    for (const p of ix.params[i]!) params.add(p);
    for (const t of ix.reads[i]!) {
      remaining.set(t, (remaining.get(t) ?? 0) + 1);
      if (!producedHere(t)) inputs.add(t);
    }
  }
  const sum = (ids: Iterable<number>, of: number[]) => [...ids].reduce((s, t) => s + of[t]!, 0);
  let live = sum(inputs, ix.bytes);
  let peak = live;
  let outputBytes = 0;
  for (const i of order) {
    for (const t of ix.writes[i]!) live += ix.bytes[t]!;
    peak = Math.max(peak, live);
    for (const t of ix.reads[i]!) {
      const left = remaining.get(t)! - 1;
      remaining.set(t, left);
      if (left === 0 && !(producedHere(t) && leaves(t))) live -= ix.bytes[t]!;
    }
    for (const t of ix.writes[i]!) {
      if (leaves(t)) outputBytes += ix.bytes[t]!;
      else if (!remaining.has(t)) live -= ix.bytes[t]!; // produced but never read (e.g. an unused mask)
    }
  }
  return {
    nodes: order.length,
    macs,
    flops,
    unknownCostNodes: unknown,
    params: sum(params, ix.elements),
    paramBytes: sum(params, ix.bytes),
    peakActivationBytes: peak,
    inputBytes: sum(inputs, ix.bytes),
    outputBytes,
  };
}

/** Cost of the whole model. */
export function modelCost(g: Graph): PartCost {
  return partCost(g, new Set(runtimeNodes(g)));
}

export interface NodeCostRecord {
  index: number;
  name: string;
  opType: string;
  outputs: { name: string; shape: number[] }[];
  macs: number;
  flops: number;
  /** The op has a cost rule (macs/flops are meaningful). */
  known: boolean;
  paramBytes: number;
  /** Bytes of the activations the node reads and writes (what a memory-bound kernel moves). */
  inputBytes: number;
  outputBytes: number;
}

/** Per-node cost of every node run per inference, in topological order. */
export function nodeCosts(g: Graph): NodeCostRecord[] {
  const ix = costIndex(g);
  return ix.order.map((i) => {
    const n = g.nodes[i]!;
    const c = g.costs[i];
    return {
      index: i,
      name: n.name,
      opType: n.opType,
      outputs: n.outputs.filter((o) => g.tensors.has(o)).map((o) => ({ name: o, shape: [...g.tensors.get(o)!.shape] })),
      macs: c?.macs ?? 0,
      flops: c?.flops ?? 0,
      known: c !== undefined,
      paramBytes: ix.params[i]!.reduce((s, t) => s + ix.bytes[t]!, 0),
      inputBytes: ix.reads[i]!.reduce((s, t) => s + ix.bytes[t]!, 0),
      outputBytes: ix.writes[i]!.reduce((s, t) => s + ix.bytes[t]!, 0),
    };
  });
}
