/**
 * Cuts as users see them: the tensors with their shapes and bytes (as stored and at common wire types), and the
 * cost of the head and the tail, numbered one way for every command (see findCuts). Also resolving a cut a user
 * names (by index or tensor names) and partitioning the graph into k consecutive stages along several cuts, or into
 * the node stretches between them.
 */
import { ImperaError } from '../errors.js';
import { runtimeNodes, tensor, type Graph } from '../graph/graph.js';
import { dtypeName, numel, WIRE_BITS, WIRE_DTYPES, type WireDType } from '../onnx/dtype.js';
import { partCost, type PartCost } from '../cost/part.js';
import { cutFromTensors, enumerateCuts, type RawCut } from './enumerate.js';
import { dominatedTensors, frontPoint, paretoFront } from './front.js';

export interface CutTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

export interface Cut extends RawCut {
  /** Position in the ordered list of cuts; how users name a cut on the command line. */
  index: number;
  /** The tensors joined by '+': the other way to name the cut. */
  id: string;
  detail: CutTensor[];
  /** Bytes crossing at the tensors' own type. */
  bytes: number;
  /** Bytes crossing if the tensors are sent as float32, float16 or int8 (elements x width, no header). */
  wireBytes: Record<WireDType, number>;
  headCost: PartCost;
  tailCost: PartCost;
}

export function describeCut(g: Graph, raw: RawCut, index: number): Cut {
  const detail = raw.tensors.map((name) => {
    const t = tensor(g, name);
    return { name, dtype: dtypeName(t.dtype), shape: [...t.shape], bytes: t.bytes };
  });
  const elements = detail.reduce((s, t) => s + numel(t.shape), 0);
  const tail = new Set(runtimeNodes(g).filter((i) => !raw.head.has(i)));
  return {
    ...raw,
    index,
    id: raw.tensors.join('+'),
    detail,
    bytes: detail.reduce((s, t) => s + t.bytes, 0),
    wireBytes: Object.fromEntries(WIRE_DTYPES.map((d) => [d, Math.ceil((elements * WIRE_BITS[d]) / 8)])) as Record<WireDType, number>,
    headCost: partCost(g, raw.head),
    tailCost: partCost(g, tail),
  };
}

/** The width cut indices count at: every command and the library number cuts as positions among cuts of up to 2 tensors. */
export const DEFAULT_WIDTH = 2;

export interface CutListOptions {
  /** Largest number of tensors in a cut (default DEFAULT_WIDTH). */
  maxWidth?: number;
  /** Keep only the cuts on the front of (bytes on the wire, head FLOPs), both minimised. */
  pareto?: boolean;
}

const cutKey = (tensors: readonly string[]): string => [...tensors].sort().join('+');

/**
 * Every cut of up to `maxWidth` tensors, ordered by depth, with sizes and costs. One numbering everywhere: a cut's
 * index is its position among the cuts of up to DEFAULT_WIDTH tensors, whatever the width or filter asked (a
 * narrower or Pareto list keeps the indices); wider cuts have index -1 and are named by their tensors.
 */
export function findCuts(g: Graph, options: CutListOptions = {}): Cut[] {
  const width = Math.max(1, options.maxWidth ?? DEFAULT_WIDTH);
  const numbered = enumerateCuts(g, { maxWidth: DEFAULT_WIDTH });
  const indexOf = new Map(numbered.map((c, i) => [cutKey(c.tensors), i]));
  let raw: RawCut[];
  if (width <= DEFAULT_WIDTH) raw = numbered.filter((c) => c.tensors.length <= width);
  else if (options.pareto) {
    const dominated = dominatedTensors(g);
    raw = enumerateCuts(g, { maxWidth: width, allow: (t) => !dominated.has(t) });
  } else raw = enumerateCuts(g, { maxWidth: width });
  if (options.pareto) {
    const front = paretoFront(raw.map((c) => frontPoint(g, c)));
    raw = front.map((i) => raw[i]!);
  }
  return raw.map((c) => describeCut(g, c, indexOf.get(cutKey(c.tensors)) ?? -1));
}

/** The single-tensor cuts, with their indices (so '#39' means the same everywhere). */
export function singleTensorCuts(g: Graph): Cut[] {
  return findCuts(g, { maxWidth: 1 });
}

/** How a cut is named: its index, its tensors joined by '+' (or an index as text), or the list of its tensors. */
export type CutSpec = string | number | { tensors: readonly string[] };

/**
 * The cut a user names. An index means the same cut as in `impera inspect` (looked up in `cuts`, else among all
 * numbered cuts); tensor sets not in the list (wider than enumerated) are accepted when they separate the graph.
 */
export function resolveCut(g: Graph, cuts: readonly Cut[], spec: CutSpec): Cut {
  const text = typeof spec === 'object' ? spec.tensors.join('+') : String(spec).trim();
  if (typeof spec !== 'object' && /^#?\d+$/.test(text)) return cutByIndex(g, cuts, Number(text.replace('#', '')));
  const names = typeof spec === 'object' ? spec.tensors.map((n) => n.trim()) : text.split('+').map((n) => n.trim());
  const listed = cuts.find((c) => cutKey(c.tensors) === cutKey(names));
  if (listed) return listed;
  const numbered = enumerateCuts(g, { maxWidth: DEFAULT_WIDTH });
  const index = numbered.findIndex((c) => cutKey(c.tensors) === cutKey(names));
  if (index >= 0) return describeCut(g, numbered[index]!, index);
  for (const n of names) {
    const t = g.tensors.get(n);
    if (!t) throw new ImperaError('UNKNOWN_CUT', `'${n}' is not a tensor of the model`, 'name a cut by its index or tensor name from `impera inspect`');
    if (t.isStatic) throw new ImperaError('INVALID_CUT', `'${n}' is a constant: constants never cross a cut`, 'pick a tensor computed from the input');
  }
  const { cut, frontier, valid } = cutFromTensors(g, names);
  if (!valid) {
    const missing = frontier.filter((f) => !names.includes(f));
    const why =
      cut.head.size === 0 ? 'its head would be empty'
      : missing.length ? `the tail also needs ${missing.slice(0, 3).map((m) => `'${m}'`).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''} from the head`
      : 'some of these tensors are not needed by the rest of the graph';
    throw new ImperaError('INVALID_CUT', `'${text}' does not separate the graph: ${why}`, missing.length ? `cut at '${[...names, ...missing].join('+')}' instead` : 'pick a cut from `impera inspect`');
  }
  return describeCut(g, cut, -1);
}

function cutByIndex(g: Graph, cuts: readonly Cut[], index: number): Cut {
  const listed = cuts.find((c) => c.index === index);
  if (listed) return listed;
  const numbered = enumerateCuts(g, { maxWidth: DEFAULT_WIDTH });
  const cut = numbered[index];
  if (!cut) {
    throw new ImperaError('UNKNOWN_CUT', `there is no cut #${index}: the model has ${numbered.length} cuts (0-${numbered.length - 1}) of up to ${DEFAULT_WIDTH} tensors`, 'run `impera inspect` to list them; name a wider cut by its tensors joined by \'+\' (see `impera inspect --width N --pareto`)');
  }
  return describeCut(g, cut, index);
}

export interface Stage {
  index: number;
  /** Runtime nodes run by this stage. */
  nodes: Set<number>;
  /** Tensors the stage receives: graph inputs for the first, the previous cut's tensors after. */
  inputs: string[];
  /** Tensors it sends on (its cut's tensors; graph outputs produced here). */
  outputs: string[];
  cost: PartCost;
}

/** Split the graph into cuts.length + 1 consecutive stages; each cut must lie strictly after the previous one. */
export function partition(g: Graph, cuts: readonly RawCut[]): Stage[] {
  cuts.forEach((c, i) => {
    if (i === 0) return;
    const prev = cuts[i - 1]!;
    const nested = [...prev.head].every((n) => c.head.has(n)) && c.head.size > prev.head.size;
    if (!nested) throw new ImperaError('INVALID_CUT', `cut '${c.tensors.join('+')}' does not lie after cut '${prev.tensors.join('+')}'`, 'list cuts in increasing depth, each after the previous');
  });
  const all = runtimeNodes(g);
  const graphOutputs = g.outputs.map((o) => o.name!);
  const bounds = [...cuts.map((c) => c.head), new Set(all)];
  return bounds.map((head, i) => {
    const before = i === 0 ? new Set<number>() : bounds[i - 1]!;
    const nodes = new Set(all.filter((n) => head.has(n) && !before.has(n)));
    const reads = new Set([...nodes].flatMap((n) => g.nodes[n]!.reads));
    const inputs = i === 0 ? g.inputs.map((v) => v.name!).filter((n) => reads.has(n) || cuts[0]?.tensors.includes(n)) : [...cuts[i - 1]!.tensors];
    const produced = graphOutputs.filter((o) => nodes.has(g.tensors.get(o)!.producer));
    const outputs = i < cuts.length ? [...cuts[i]!.tensors, ...produced.filter((o) => !cuts[i]!.tensors.includes(o))] : produced;
    return { index: i, nodes, inputs, outputs, cost: partCost(g, nodes) };
  });
}

/** The node stretches between consecutive boundaries (heads are nested), the last ending at the outputs. */
export function stretches(g: Graph, boundaries: readonly Cut[]): number[][] {
  const all = runtimeNodes(g);
  const seen = new Set<number>();
  return [...boundaries.map((c) => c.head), new Set(all)].map((head) => {
    const layer = all.filter((i) => head.has(i) && !seen.has(i));
    for (const i of layer) seen.add(i);
    return layer;
  });
}

/** A cut as plain data (for JSON output and files). */
export interface CutRecord {
  index: number;
  id: string;
  tensors: CutTensor[];
  bytes: number;
  wireBytes: Record<WireDType, number>;
  head: PartCost & { graphOutputs: string[] };
  tail: PartCost;
}

export function cutRecord(c: Cut): CutRecord {
  return { index: c.index, id: c.id, tensors: c.detail, bytes: c.bytes, wireBytes: c.wireBytes, head: { ...c.headCost, graphOutputs: c.headOutputs }, tail: c.tailCost };
}
