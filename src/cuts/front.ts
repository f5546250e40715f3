/**
 * The cuts worth considering: the Pareto front of (bytes on the wire, head compute in FLOPs), both minimised, and
 * the tensors no cut on that front contains, so that a wide enumeration can skip them instead of listing thousands.
 */
import { runtimeNodes, tensor, type Graph } from '../graph/graph.js';
import type { RawCut } from './enumerate.js';

/** What a cut costs on the two axes of the front. */
export interface FrontPoint {
  /** Bytes crossing at the tensors' own type. */
  bytes: number;
  /** FLOPs the head runs. */
  headFlops: number;
}

/** A raw cut's point, summed directly (cheaper than describing the cut, which the front's members alone need). */
export function frontPoint(g: Graph, cut: RawCut): FrontPoint {
  let headFlops = 0;
  for (const i of cut.head) headFlops += g.costs[i]?.flops ?? 0;
  return { bytes: cut.tensors.reduce((s, t) => s + tensor(g, t).bytes, 0), headFlops };
}

/** Positions of the points that no other point dominates (<= on both axes, < on one), in input order; ties all stay. */
export function paretoFront(points: readonly FrontPoint[]): number[] {
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.bytes - points[b]!.bytes || points[a]!.headFlops - points[b]!.headFlops);
  const kept: number[] = [];
  let bestBefore = Infinity; // least compute among points with strictly fewer bytes
  for (let start = 0; start < order.length; ) {
    const bytes = points[order[start]!]!.bytes;
    let end = start;
    while (end < order.length && points[order[end]!]!.bytes === bytes) end++;
    const least = points[order[start]!]!.headFlops; // sorted: the group's least compute comes first
    if (least < bestBefore) for (let k = start; k < end && points[order[k]!]!.headFlops === least; k++) kept.push(order[k]!);
    bestBefore = Math.min(bestBefore, least);
    start = end;
  }
  return kept.sort((a, b) => a - b);
}

/**
 * Tensors no cut on the front contains. Let t, read by one node r only, be made by a node n from data tensors made
 * in the graph. In any cut with t, r is in the tail, so n can move to the tail too:
 * - if each of n's inputs is also read by r or a node after r, they cross already, and dropping t leaves a
 *   narrower cut with fewer bytes and less head compute (e.g. the gate of a hard-swish or squeeze-excitation);
 * - if n has one input u, read by n alone, u replaces t: the same width, head FLOPs less by n's, bytes changed
 *   by bytes(u) - bytes(t) (a chain step that does not shrink the tensor).
 * When that is no worse on both axes and better on one, the cut with t is strictly dominated, and so is every cut
 * made of such tensors (each step shrinks the head, so replacing ends at a cut without them): skipping them leaves
 * the front unchanged.
 */
export function dominatedTensors(g: Graph): Set<string> {
  const run = new Set(runtimeNodes(g));
  const readers = (name: string) => [...new Set(tensor(g, name).consumers.filter((c) => run.has(c)))];
  const graphOutputs = new Set(g.outputs.map((o) => o.name!));
  const out = new Set<string>();
  for (const n of run) {
    const node = g.nodes[n]!;
    const made = node.outputs.filter((o) => o && g.tensors.has(o) && (graphOutputs.has(o) || readers(o).length > 0));
    const inputs = [...new Set(node.reads.filter((r) => g.tensors.has(r) && !tensor(g, r).isStatic))];
    if (made.length !== 1 || inputs.length === 0 || inputs.some((u) => !run.has(tensor(g, u).producer))) continue;
    const t = made[0]!;
    const [r, ...more] = readers(t);
    if (r === undefined || more.length) continue;
    const [bt, flops] = [tensor(g, t).bytes, g.costs[n]?.flops ?? 0];
    const after = descendants(g, run, r);
    if ((bt > 0 || flops > 0) && inputs.every((u) => readers(u).some((m) => m !== n && after.has(m)))) out.add(t);
    else if (inputs.length === 1 && readers(inputs[0]!).length === 1) {
      const bu = tensor(g, inputs[0]!).bytes;
      if (bu < bt || (bu === bt && flops > 0)) out.add(t);
    }
  }
  return out;
}

/** Runtime node r and every runtime node that reads what it makes, directly or not. */
function descendants(g: Graph, run: ReadonlySet<number>, r: number): Set<number> {
  const seen = new Set([r]);
  const stack = [r];
  while (stack.length) {
    for (const o of g.nodes[stack.pop()!]!.outputs) {
      for (const c of g.tensors.get(o)?.consumers ?? []) {
        if (run.has(c) && !seen.has(c)) {
          seen.add(c);
          stack.push(c);
        }
      }
    }
  }
  return seen;
}
