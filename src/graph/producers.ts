/**
 * What made a graph output, for choosing the metric that fits it: class or token logits come from a projection
 * (MatMul or Gemm, with a bias Add) or a softmax; an embedding or a hidden state from a normalisation or a pooling.
 * Ops that only move values (Reshape, Transpose, Squeeze, ...) are looked through.
 */
import type { Graph } from './graph.js';

/** What per-pixel class scores [N, C >= 2, H, W] come out of: a convolution or projection (often resized to the input), or a softmax. */
export const PIXEL_CLASS_PRODUCERS: ReadonlySet<string> = new Set(['Conv', 'ConvTranspose', 'linear', 'Resize', 'Upsample', 'Softmax', 'LogSoftmax']);

const MOVES = new Set(['Identity', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Cast', 'Dropout']);
const PROJECTIONS = new Set(['MatMul', 'Gemm', 'Conv']);
const NORMS = new Set(['LayerNormalization', 'LpNormalization', 'InstanceNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization']);
/** Ops that end a norm or a standard deviation: what a normalisation divides by. */
const ROOTS = new Set(['Sqrt', 'ReduceL2', 'Pow']);

function producerOf(g: Graph, name: string): number {
  const t = g.tensors.get(name);
  return t && !t.isStatic ? t.producer : -1;
}

/** The node's inputs that carry data (not constants). */
const dataInputs = (g: Graph, node: number): string[] => g.nodes[node]!.reads.filter((r) => producerOf(g, r) >= 0 || g.inputs.some((i) => i.name === r));

/** Whether `name` is computed (within a few ops) by a square root, L2 reduction or power: a norm or a standard deviation. */
function isRoot(g: Graph, name: string, depth = 4): boolean {
  const p = producerOf(g, name);
  if (p < 0 || depth === 0) return false;
  const op = g.nodes[p]!.opType;
  if (ROOTS.has(op)) return true;
  return ['Add', 'Max', 'Clip', 'Expand', ...MOVES].includes(op) && dataInputs(g, p).some((r) => isRoot(g, r, depth - 1));
}

/** `{ producer }` for an OutputInfo (nothing where no op made the output), and `variableLength` where its shape depends on the values. */
export function producerInfo(g: Graph, name: string): { producer?: string; variableLength?: boolean } {
  const producer = outputProducer(g, name);
  return { ...(producer === undefined ? {} : { producer }), ...(g.tensors.get(name)?.dataDependent ? { variableLength: true } : {}) };
}

/**
 * The op that made an output, as one word: an op type, or a pattern of several ops — 'linear' (a MatMul, Gemm or
 * Conv then a bias Add), 'normalized' (LayerNormalization, LpNormalization, or a division by a norm or standard
 * deviation, as exporters decompose layer norm and L2 normalisation, with its scale and shift) — or undefined for a
 * graph input or a constant.
 */
export function outputProducer(g: Graph, name: string, depth = 6): string | undefined {
  let p = producerOf(g, name);
  while (p >= 0 && MOVES.has(g.nodes[p]!.opType)) p = producerOf(g, dataInputs(g, p)[0] ?? '');
  if (p < 0) return undefined;
  const node = g.nodes[p]!;
  if (NORMS.has(node.opType)) return 'normalized';
  if (node.opType === 'Div' && node.reads[1] && isRoot(g, node.reads[1])) return 'normalized';
  if ((node.opType === 'Add' || node.opType === 'Mul') && depth > 0) {
    const inner = dataInputs(g, p).map((r) => outputProducer(g, r, depth - 1));
    if (inner.includes('normalized')) return 'normalized';
    if (node.opType === 'Add' && inner.some((o) => o !== undefined && PROJECTIONS.has(o)) && dataInputs(g, p).length === 1) return 'linear';
  }
  return node.opType;
}
