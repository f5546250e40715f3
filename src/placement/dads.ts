/**
 * DADS (Hu et al., INFOCOM 2019; METHODS.md §8): for a DAG model, the edge/cloud partition of least latency
 * (edge compute + upload + cloud compute) is a minimum s-t cut. The source s stands for the edge device, the sink t
 * for the cloud; a node on the source side runs on the edge.
 *  - node v: s -> v with its cloud time (cut when v runs in the cloud), v -> t with its edge time (cut on the edge);
 *  - data tensor x produced by p: p -> x with x's transfer time, x -> r infinite for each reader r. Some reader in
 *    the cloud drags x to the sink side, so the transfer is paid once however many cloud nodes read x (the
 *    auxiliary vertex of DADS); a graph input is produced by s itself, which pins it to the edge;
 *  - r -> p infinite for each reader r of p's output: an edge node never waits for a cloud node (no data flows
 *    cloud -> edge), so the edge side is always a valid head.
 * Results are returned to the device at no cost, as in DADS and in the enumerated cuts (whose head hands out the
 * graph outputs it produces). The same cost model prices the enumerated cuts (`bestEnumeratedCut`), so the two
 * answers are comparable: the min cut is never worse, and can be better when the best partition needs a wider cut
 * than enumerated, or keeps on the edge nodes that only feed graph outputs there.
 */
import type { Cut } from '../cuts/cuts.js';
import { ImperaError } from '../errors.js';
import { isDataTensor, runtimeNodes, tensor, type Graph } from '../graph/graph.js';
import { minCut, type Arc } from './maxflow.js';

/** Additive costs, in ms, as DADS assumes: each node's time on either side, each tensor's time to send up. */
export interface EdgeCloudCosts {
  edgeMs(node: number): number;
  cloudMs(node: number): number;
  /** Time to send one data tensor from the edge to the cloud. */
  transferMs(tensor: string): number;
}

export interface EdgeCloudSplit {
  /** 'edge': everything runs on the device; 'cloud': the inputs are sent and everything runs in the cloud. */
  placement: 'edge' | 'cloud' | 'split';
  /** Runtime nodes on the edge, in topological order. */
  edgeNodes: number[];
  /** Tensors sent up (graph inputs first, then by producer), each once. */
  tensors: string[];
  latencyMs: number;
  edgeMs: number;
  transferMs: number;
  cloudMs: number;
}

export interface DadsResult extends EdgeCloudSplit {
  /** The maximum flow, equal to latencyMs up to round-off: the certificate that no partition is faster. */
  flowMs: number;
  /** Size of the flow network. */
  vertices: number;
  arcs: number;
}

/** A data tensor with its producer (-1 for a graph input) and its runtime readers. */
interface DataTensor {
  name: string;
  producer: number;
  readers: number[];
}

/** The graph's runtime nodes and data tensors with every cost evaluated once and checked. */
interface Priced {
  order: number[];
  data: DataTensor[];
  edgeMs: Float64Array;
  cloudMs: Float64Array;
  transferMs: Map<string, number>;
  names: (node: number) => string;
}

function checkedCost(value: number, what: string): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new ImperaError('BAD_ARGUMENT', `${what} costs ${value} ms: costs must be finite numbers >= 0`, 'check the device profiles and the link model');
  return value;
}

function price(g: Graph, costs: EdgeCloudCosts): Priced {
  const order = runtimeNodes(g);
  const runtime = new Set(order);
  const names = (n: number) => `node '${g.nodes[n]!.name || `#${n}`}'`;
  const candidates = [...new Set([...g.inputs.map((v) => v.name!), ...order.flatMap((n) => g.nodes[n]!.outputs)])];
  const data = candidates
    .filter((name) => isDataTensor(g, name))
    .map((name) => {
      const t = tensor(g, name);
      return { name, producer: runtime.has(t.producer) ? t.producer : -1, readers: t.consumers.filter((c) => runtime.has(c)) };
    })
    .filter((t) => t.readers.length > 0);
  const edgeMs = new Float64Array(g.nodes.length);
  const cloudMs = new Float64Array(g.nodes.length);
  for (const n of order) {
    edgeMs[n] = checkedCost(costs.edgeMs(n), `on the edge, ${names(n)}`);
    cloudMs[n] = checkedCost(costs.cloudMs(n), `in the cloud, ${names(n)}`);
  }
  const transferMs = new Map(data.map((t) => [t.name, checkedCost(costs.transferMs(t.name), `sending tensor '${t.name}'`)]));
  return { order, data, edgeMs, cloudMs, transferMs, names };
}

function evaluate(p: Priced, edge: ReadonlySet<number>): EdgeCloudSplit {
  const onEdge = (producer: number) => producer < 0 || edge.has(producer);
  for (const t of p.data) {
    const wrong = onEdge(t.producer) ? undefined : t.readers.find((r) => edge.has(r));
    if (wrong !== undefined) throw new ImperaError('INVALID_CUT', `${p.names(wrong)} on the edge reads '${t.name}', which is computed in the cloud`, 'data only flows from the edge to the cloud: put every ancestor of an edge node on the edge');
  }
  const tensors = p.data.filter((t) => onEdge(t.producer) && t.readers.some((r) => !edge.has(r))).map((t) => t.name);
  const edgeNodes = p.order.filter((n) => edge.has(n));
  const edgeMs = edgeNodes.reduce((s, n) => s + p.edgeMs[n]!, 0);
  const cloudMs = p.order.filter((n) => !edge.has(n)).reduce((s, n) => s + p.cloudMs[n]!, 0);
  const transferMs = tensors.reduce((s, t) => s + p.transferMs.get(t)!, 0);
  const placement = edgeNodes.length === p.order.length ? 'edge' : edgeNodes.length === 0 ? 'cloud' : 'split';
  return { placement, edgeNodes, tensors, latencyMs: edgeMs + transferMs + cloudMs, edgeMs, transferMs, cloudMs };
}

/** Latency of running `edgeNodes` (runtime node indices, closed under ancestors) on the edge and the rest in the cloud. */
export function splitLatency(g: Graph, costs: EdgeCloudCosts, edgeNodes: ReadonlySet<number>): EdgeCloudSplit {
  return evaluate(price(g, costs), edgeNodes);
}

/** The latency-optimal edge/cloud partition of `g` as a minimum s-t cut. */
export function dadsPartition(g: Graph, costs: EdgeCloudCosts): DadsResult {
  const p = price(g, costs);
  const [source, sink] = [0, 1];
  const vertex = new Map(p.order.map((n, i) => [n, 2 + i]));
  const tensorVertex = (i: number) => 2 + p.order.length + i;
  const arcs: Arc[] = p.order.flatMap((n) => [
    { from: source, to: vertex.get(n)!, capacity: p.cloudMs[n]! },
    { from: vertex.get(n)!, to: sink, capacity: p.edgeMs[n]! },
  ]);
  p.data.forEach((t, i) => {
    const from = t.producer < 0 ? source : vertex.get(t.producer)!;
    arcs.push({ from, to: tensorVertex(i), capacity: p.transferMs.get(t.name)! });
    for (const r of t.readers) {
      arcs.push({ from: tensorVertex(i), to: vertex.get(r)!, capacity: Infinity });
      if (t.producer >= 0) arcs.push({ from: vertex.get(r)!, to: from, capacity: Infinity });
    }
  });
  const vertices = 2 + p.order.length + p.data.length;
  const cut = minCut(vertices, arcs, source, sink);
  const edge = new Set(p.order.filter((n) => cut.sourceSide[vertex.get(n)!]));
  return { ...evaluate(p, edge), flowMs: cut.value, vertices, arcs: arcs.length };
}

/**
 * The best of the enumerated cuts (e.g. `findCuts(g, { maxWidth })`) under the same cost model, together with
 * running everything in the cloud (`cut` null, placement 'cloud') or on the edge (`cut` null, placement 'edge').
 * Ties go to the first candidate: cloud, then the cuts in their order, then edge.
 */
export function bestEnumeratedCut(g: Graph, costs: EdgeCloudCosts, cuts: readonly Cut[]): EdgeCloudSplit & { cut: Cut | null } {
  const p = price(g, costs);
  const candidates = [{ cut: null, head: new Set<number>() }, ...cuts.map((c) => ({ cut: c, head: c.head })), { cut: null, head: new Set(p.order) }];
  return candidates.map(({ cut, head }) => ({ ...evaluate(p, head), cut })).reduce((best, c) => (c.latencyMs < best.latencyMs ? c : best));
}

/** Transfer costs from tensor sizes: `bytesMs` of each tensor's bytes at its own type (e.g. a link model's mean). */
export function transferFromBytes(g: Graph, bytesMs: (bytes: number) => number): (name: string) => number {
  return (name) => bytesMs(tensor(g, name).bytes);
}
