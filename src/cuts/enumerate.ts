/**
 * Every place a graph can be cut. A cut is a set S of tensors; the head is everything S depends on, the tail
 * is the rest, and S is exactly what the tail needs from the head (the head's frontier). Constants never cross.
 *
 * Search: for each tensor b taken as the cut's latest member (in topological position), start from the head
 * anc(b) and repair the frontier until it equals S. A leaking tensor x (needed by the tail but not in S) is
 * either added to S or absorbed by adding a member whose ancestry contains x's readers; readers placed after b
 * cannot be absorbed, so such an x must join S. Each step adds a member, so the depth is at most the width.
 */
import { runtimeNodes, type Graph } from '../graph/graph.js';

export interface RawCut {
  /** Cut tensors, in topological order of their producers. */
  tensors: string[];
  /** Runtime nodes of the head. */
  head: Set<number>;
  /** Graph outputs the head produces itself (handed out by the head, not sent). */
  headOutputs: string[];
}

interface Index {
  /** Runtime node indices in topological order; pos maps node index -> position in it. */
  order: number[];
  pos: Map<number, number>;
  /** Data tensors (graph inputs and runtime-node outputs) with a runtime reader, by id. */
  names: string[];
  id: Map<string, number>;
  /** Producer position per tensor id (-1 for graph inputs). */
  prodPos: number[];
  /** Runtime readers (positions) per tensor id. */
  readers: number[][];
  /** Per runtime node position: ids of the data tensors it reads. */
  reads: number[][];
  /** Per tensor id: bitset over positions of the producer and all its ancestors. */
  anc: Uint32Array[];
  words: number;
  outputs: Set<string>;
}

function buildIndex(g: Graph): Index {
  const order = runtimeNodes(g);
  const pos = new Map(order.map((n, p) => [n, p]));
  const names: string[] = [];
  const id = new Map<string, number>();
  const prodPos: number[] = [];
  const readers: number[][] = [];
  const addTensor = (name: string, producer: number) => {
    if (id.has(name)) return;
    const t = g.tensors.get(name);
    if (!t || t.isStatic) return;
    const rs = t.consumers.filter((c) => pos.has(c)).map((c) => pos.get(c)!);
    id.set(name, names.length);
    names.push(name);
    prodPos.push(producer);
    readers.push(rs);
  };
  for (const v of g.inputs) addTensor(v.name!, -1);
  order.forEach((n, p) => g.nodes[n]!.outputs.forEach((o) => o && addTensor(o, p)));
  const reads = order.map((n) => g.nodes[n]!.reads.filter((r) => id.has(r)).map((r) => id.get(r)!));
  const words = (order.length + 31) >>> 5;
  const nodeAnc: Uint32Array[] = [];
  order.forEach((_, p) => {
    const bits = new Uint32Array(words);
    bits[p >>> 5]! |= 1 << (p & 31);
    for (const t of reads[p]!) {
      const q = prodPos[t]!;
      if (q >= 0) orInto(bits, nodeAnc[q]!);
    }
    nodeAnc.push(bits);
  });
  const anc = names.map((_, t) => (prodPos[t]! >= 0 ? nodeAnc[prodPos[t]!]! : new Uint32Array(words)));
  return { order, pos, names, id, prodPos, readers, reads, anc, words, outputs: new Set(g.outputs.map((o) => o.name!)) };
}

function orInto(a: Uint32Array, b: Uint32Array): void {
  for (let i = 0; i < a.length; i++) a[i]! |= b[i]!;
}
const has = (bits: Uint32Array, p: number) => ((bits[p >>> 5]! >>> (p & 31)) & 1) === 1;

/** Tensors read by runtime nodes outside the head that come from it (or are graph inputs). */
function frontier(ix: Index, head: Uint32Array): number[] {
  const out = new Set<number>();
  for (let p = 0; p < ix.order.length; p++) {
    if (has(head, p)) continue;
    for (const t of ix.reads[p]!) {
      const q = ix.prodPos[t]!;
      if (q < 0 || has(head, q)) out.add(t);
    }
  }
  return [...out];
}

const popcount = (bits: Uint32Array): number => {
  let n = 0;
  for (let w of bits) {
    while (w) {
      w &= w - 1;
      n++;
    }
  }
  return n;
};

export interface EnumerateOptions {
  /** Largest number of tensors in a cut (default 2: branch + skip inside residual blocks). */
  maxWidth?: number;
  /** Tensors that may cross (default all); cuts with any other tensor are skipped without being searched. */
  allow?: (tensor: string) => boolean;
}

/** All cuts of up to `maxWidth` tensors, deduplicated, ordered by depth (head size, then position). */
export function enumerateCuts(g: Graph, options: EnumerateOptions = {}): RawCut[] {
  const width = Math.max(1, options.maxWidth ?? 2);
  const ix = buildIndex(g);
  // members are only ever added, so a search that would take a disallowed tensor can stop there
  const allowed = ix.names.map((n) => options.allow?.(n) ?? true);
  const found = new Map<string, { members: number[]; head: Uint32Array }>();
  // the head is always the union of the members' ancestries, so a state is its member set (and latest member);
  // many orders of adding the same members reach it, and searching it again finds nothing new
  const searched = new Set<string>();

  /** Search from `members`, whose head is `base`, grown by the ancestry of `absorb` (checked as a state first: cheaper). */
  const search = (members: number[], base: Uint32Array, latest: number, absorb = -1): void => {
    const state = `${latest}:${[...members].sort((a, b) => a - b).join(',')}`;
    if (searched.has(state)) return;
    searched.add(state);
    const head = absorb >= 0 ? union(base, ix.anc[absorb]!) : base;
    const f = frontier(ix, head);
    // a member whose readers were all absorbed no longer crosses, and a growing head never makes it cross again
    if (!members.every((m) => f.includes(m))) return;
    const inS = new Set(members);
    const leaks = f.filter((t) => !inS.has(t)).sort((a, b) => ix.prodPos[a]! - ix.prodPos[b]!);
    const bPos = ix.prodPos[latest]!;
    const forced = leaks.filter((t) => ix.readers[t]!.some((r) => r > bPos && !has(head, r)));
    if (forced.length) {
      if (members.length + forced.length <= width && forced.every((t) => allowed[t])) search([...members, ...forced], head, latest);
      return;
    }
    if (leaks.length === 0) {
      const key = [...members].sort((a, b) => a - b).join(',');
      if (!found.has(key)) found.set(key, { members, head });
      if (members.length < width) {
        for (const a of candidates(ix, head, bPos, (t) => allowed[t]!)) search([...members, a], head, latest, a);
      }
      return;
    }
    if (members.length >= width) return;
    const x = leaks[0]!;
    if (allowed[x]) search([...members, x], head, latest);
    const outside = ix.readers[x]!.filter((r) => !has(head, r));
    for (const a of candidates(ix, head, bPos, (t) => allowed[t]! && outside.some((r) => has(ix.anc[t]!, r)))) search([...members, a], head, latest, a);
  };

  ix.names.forEach((_, b) => {
    const p = ix.prodPos[b]!;
    if (p < 0 || !ix.readers[b]!.length || !allowed[b]) return; // graph inputs give an empty head; unread outputs never cross
    search([b], ix.anc[b]!, b);
  });

  const all = ix.order.length;
  const cuts: (RawCut & { size: number; last: number })[] = [];
  for (const { members, head } of found.values()) {
    const size = popcount(head);
    if (size === 0 || size === all) continue;
    const sorted = [...members].sort((a, b) => ix.prodPos[a]! - ix.prodPos[b]!);
    const headNodes = new Set(ix.order.filter((_, p) => has(head, p)));
    const headOutputs = [...ix.outputs].filter((o) => headNodes.has(g.tensors.get(o)!.producer));
    cuts.push({ tensors: sorted.map((t) => ix.names[t]!), head: headNodes, headOutputs, size, last: ix.prodPos[sorted[sorted.length - 1]!]! });
  }
  cuts.sort((a, b) => a.size - b.size || a.last - b.last || a.tensors.length - b.tensors.length || a.tensors.join().localeCompare(b.tensors.join()));
  return cuts.map(({ tensors, head, headOutputs }) => ({ tensors, head, headOutputs }));
}

/** Data tensors produced outside the head before position `before` that pass `ok`. */
function candidates(ix: Index, head: Uint32Array, before: number, ok: (t: number) => boolean): number[] {
  const out: number[] = [];
  ix.names.forEach((_, t) => {
    const p = ix.prodPos[t]!;
    if (p >= 0 && p < before && !has(head, p) && ix.readers[t]!.length && ok(t)) out.push(t);
  });
  return out;
}

function union(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = a.slice();
  orInto(out, b);
  return out;
}

/** The head a given set of tensors defines, and whether they are exactly its frontier. */
export function cutFromTensors(g: Graph, tensors: readonly string[]): { cut: RawCut; frontier: string[]; valid: boolean } {
  const ix = buildIndex(g);
  const head = new Uint32Array(ix.words);
  for (const t of tensors) {
    const i = ix.id.get(t);
    if (i !== undefined) orInto(head, ix.anc[i]!);
  }
  const f = frontier(ix, head).map((t) => ix.names[t]!);
  const headNodes = new Set(ix.order.filter((_, p) => has(head, p)));
  const want = new Set(tensors);
  const valid = f.length === want.size && f.every((t) => want.has(t)) && headNodes.size > 0 && headNodes.size < ix.order.length;
  const order = (name: string) => ix.prodPos[ix.id.get(name) ?? -1] ?? -1;
  const headOutputs = [...ix.outputs].filter((o) => headNodes.has(g.tensors.get(o)!.producer));
  return { cut: { tensors: [...tensors].sort((a, b) => order(a) - order(b)), head: headNodes, headOutputs }, frontier: f, valid };
}
