/** A model at a glance: interface, op histogram, parameters and whole-model cost. */
import { runtimeNodes, tensor, type Graph } from '../graph/graph.js';
import { dtypeName } from '../onnx/dtype.js';
import { modelCost, type PartCost } from './part.js';

export interface TensorSummary {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

export interface ModelSummary {
  source: string;
  fileBytes: number;
  producer: string;
  irVersion: number;
  opsets: Record<string, number>;
  batch: { symbol: string; size: number } | null;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  nodes: { total: number; runtime: number; constant: number; dead: number };
  /** Runtime nodes per op type, most frequent first. */
  ops: Record<string, number>;
  /** Parameters: elements and bytes of initializers and Constant outputs the model reads. */
  params: { count: number; bytes: number };
  cost: PartCost;
  warnings: string[];
}

const summarize = (g: Graph, name: string): TensorSummary => {
  const t = tensor(g, name);
  return { name, dtype: dtypeName(t.dtype), shape: [...t.shape], bytes: t.bytes };
};

export function modelSummary(g: Graph): ModelSummary {
  const runtime = runtimeNodes(g);
  const ops = new Map<string, number>();
  for (const i of runtime) ops.set(g.nodes[i]!.opType, (ops.get(g.nodes[i]!.opType) ?? 0) + 1);
  const cost = modelCost(g);
  return {
    source: g.model.source,
    fileBytes: g.model.fileBytes,
    producer: `${g.proto.producerName ?? ''} ${g.proto.producerVersion ?? ''}`.trim(),
    irVersion: Number(g.proto.irVersion ?? 0),
    opsets: Object.fromEntries([...g.opsets].map(([d, v]) => [d || 'ai.onnx', v])),
    batch: g.batch ?? null,
    inputs: g.inputs.map((v) => summarize(g, v.name!)),
    outputs: g.outputs.map((v) => summarize(g, v.name!)),
    nodes: { total: g.nodes.length, runtime: runtime.length, constant: g.isStaticNode.filter(Boolean).length, dead: g.live.filter((l, i) => !l && !g.isStaticNode[i]).length },
    ops: Object.fromEntries([...ops].sort((a, b) => b[1] - a[1])),
    params: { count: cost.params, bytes: cost.paramBytes },
    cost,
    warnings: [...g.warnings],
  };
}
