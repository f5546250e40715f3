/**
 * Raising a model's default-domain opset so that nodes impera adds can use an op the model's opset lacks (a
 * scatter-add needs opset 9, 11 or 16). Allowed only when every node of the model, subgraphs included, means
 * the same at the new opset: the table lists, per op, the opsets at which a node written for an older one changes
 * meaning or stops being valid (an attribute became an input, a default changed, the op was removed). Changes
 * that only add types, optional attributes with the old behaviour as default, or negative axes keep the meaning.
 * A few changes have a mechanical equivalent and are rewritten instead (as the ONNX version converter's adapters
 * do): Upsample's scales attribute becomes an input (opset 9), BatchNormalization drops spatial=1 (9), Dropout
 * its ratio attribute (12; inference ignores it). Sources: the ONNX operator changelog (docs/Changelog.md).
 */
import { attrInt } from './attributes.js';
import { DataType } from './dtype.js';
import type { onnx } from './proto.js';
import { makeTensorProto } from './tensor.js';

const REDUCE_18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

/** Opsets at which a default-domain op's older nodes change meaning or become invalid. */
const BREAKING = new Map<string, readonly number[]>([
  ['Slice', [10]], // starts/ends/axes attributes -> inputs
  ['TopK', [10]], // k attribute -> input
  ['Upsample', [9, 10]], // scales attribute -> input, then removed
  ['Clip', [11]], // min/max attributes -> inputs
  ['Pad', [11]], // pads/value attributes -> inputs
  ['Resize', [11]], // roi input and coordinate transformation modes
  ['Scatter', [11]], // removed (ScatterElements)
  ['Squeeze', [13]], // axes attribute -> input
  ['Unsqueeze', [13]],
  ['ReduceSum', [13]],
  ['Split', [13, 18]], // split attribute -> input, then num_outputs required for equal splits
  ['Softmax', [13]], // coerced to 2-D from `axis` on -> normalised along `axis` only
  ['LogSoftmax', [13]],
  ['Hardmax', [13]],
  ['Scan', [9]], // batch axis removed
  ['RoiAlign', [16]], // default coordinate_transformation_mode
  ['GridSample', [20]], // mode names
  ['DFT', [20]], // axis attribute -> input
  ['GroupNormalization', [21]], // scale and bias per group -> per channel
  ...REDUCE_18.map((op) => [op, [18]] as const),
]);

/** Softmax-like ops keep their meaning at 13 when they normalise over the last axis only. */
const LAST_AXIS = new Set(['Softmax', 'LogSoftmax', 'Hardmax']);

/** Attributes removed at an opset: a node still carrying one is rejected there. */
const REMOVED_ATTRIBUTE = new Map<string, readonly [attribute: string, since: number][]>([
  ['BatchNormalization', [['spatial', 9]]],
  ['Dropout', [['ratio', 12]]], // -> an input; inference ignores it either way
]);

/** A node rewritten for a later opset with the same meaning, and the initializer it now reads, if any. */
interface Adapted {
  node: onnx.INodeProto;
  initializer?: onnx.ITensorProto;
}

const crosses = (since: number, from: number, to: number) => since > from && since <= to;
const withoutAttribute = (node: onnx.INodeProto, name: string): onnx.INodeProto => ({ ...node, attribute: (node.attribute ?? []).filter((a) => a.name !== name) });

/** The node rewritten from opset `from` to `to` where a rewrite keeps its meaning; undefined when none is needed or none exists. */
function adapt(node: onnx.INodeProto, from: number, to: number): Adapted | undefined {
  const has = (name: string) => node.attribute?.find((a) => a.name === name);
  switch (node.opType) {
    case 'Upsample': {
      const scales = has('scales');
      if (!crosses(9, from, to) || to >= 10 || !scales) return undefined;
      const name = `${node.output?.[0] ?? node.name}::scales`;
      return { node: { ...withoutAttribute(node, 'scales'), input: [node.input![0]!, name] }, initializer: makeTensorProto(name, DataType.FLOAT, [scales.floats!.length], Float32Array.from(scales.floats!)) };
    }
    case 'BatchNormalization':
      return crosses(9, from, to) && has('spatial') && attrInt(node as onnx.NodeProto, 'spatial', 1) === 1 ? { node: withoutAttribute(node, 'spatial') } : undefined;
    case 'Dropout':
      return crosses(12, from, to) && has('ratio') ? { node: withoutAttribute(node, 'ratio') } : undefined;
    default:
      return undefined;
  }
}

/** The graph's top-level nodes raised from opset `from` to `to` (same order), and the initializers rewrites add. */
export function raiseNodes(graph: onnx.IGraphProto, from: number, to: number): { nodes: onnx.INodeProto[]; initializers: onnx.ITensorProto[] } {
  const adapted = (graph.node ?? []).map((n) => (!n.domain || n.domain === 'ai.onnx' ? adapt(n, from, to) : undefined) ?? { node: n });
  return { nodes: adapted.map((a) => a.node), initializers: adapted.flatMap((a) => (a.initializer ? [a.initializer] : [])) };
}

/**
 * Why a graph's default-domain nodes would not keep their meaning from opset `from` to `to` (after the rewrites
 * `raiseNodes` makes at the top level), or undefined when they all do. `rankOf` gives a tensor's rank where known
 * (Softmax over the last axis keeps its meaning at 13).
 */
export function upgradeBlocker(graph: onnx.IGraphProto, from: number, to: number, rankOf: (tensor: string) => number | undefined, topLevel = true): string | undefined {
  for (const node of graph.node ?? []) {
    if (node.domain && node.domain !== 'ai.onnx') continue;
    if (topLevel && adapt(node, from, to)) continue;
    const op = node.opType ?? '';
    const breaks = (BREAKING.get(op) ?? []).find((v) => v > from && v <= to);
    const lastAxis = () => {
      const rank = rankOf(node.input?.[0] ?? '');
      const axis = attrInt(node as onnx.NodeProto, 'axis', 1);
      return rank !== undefined && (axis === -1 || axis === rank - 1);
    };
    if (breaks !== undefined && !(LAST_AXIS.has(op) && breaks === 13 && lastAxis())) return `${op} node '${node.name ?? ''}' changes meaning at opset ${breaks}`;
    for (const [attribute, since] of REMOVED_ATTRIBUTE.get(op) ?? []) {
      if (since > from && since <= to && node.attribute?.some((a) => a.name === attribute)) return `${op} node '${node.name ?? ''}' has attribute '${attribute}', removed at opset ${since}`;
    }
    for (const a of node.attribute ?? []) {
      for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
        const why = upgradeBlocker(sub, from, to, rankOf, false);
        if (why) return why;
      }
    }
  }
  return undefined;
}

/** The model with its default-domain opset set to `version` (other domains kept). */
export function withOpset(model: onnx.IModelProto, version: number): onnx.IModelProto {
  const others = (model.opsetImport ?? []).filter((o) => o.domain && o.domain !== 'ai.onnx');
  return { ...model, opsetImport: [{ domain: '', version }, ...others] };
}
