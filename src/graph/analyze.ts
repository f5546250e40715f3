/**
 * From a loaded model to an analysed Graph: concrete input shapes, a shape-inference pass (with the ONNX
 * Runtime probe for ops without a rule), node costs, and how every shape follows each dynamic input dim — found
 * by running the pass again with only that dim changed (the batch one larger, a height or length a few steps
 * larger), which is what lets exported parts keep those dims dynamic.
 */
import { ImperaError } from '../errors.js';
import type { OnnxModel } from '../onnx/io.js';
import type { TensorInfo } from '../ops/types.js';
import { bytesOf, type DynamicDim, type Graph, type TensorFacts } from './graph.js';
import { inferPass, type PassResult, type Probed } from './infer.js';
import { openDims, resolveInputShapes, type OpenDim } from './input-shapes.js';
import { probeShapes } from './probe.js';
import { buildStructure, type GraphStructure } from './structure.js';

export interface AnalyzeOptions {
  /** Whole shapes per input name; needed for dynamic dims other than the batch. */
  inputShapes?: Record<string, number[]>;
  /** Value of a symbolic batch dim (default 1). */
  batch?: number;
  /** Ask ONNX Runtime for the shapes of ops impera has no rule for (default true). */
  probe?: boolean;
}

export async function analyzeModel(model: OnnxModel, options: AnalyzeOptions = {}): Promise<Graph> {
  if (options.batch !== undefined && (!Number.isInteger(options.batch) || options.batch <= 0)) {
    throw new ImperaError('BAD_ARGUMENT', `batch must be a positive integer, got ${options.batch}`);
  }
  const s = buildStructure(model.proto);
  const resolved = resolveInputShapes(s.inputs, options.inputShapes, options.batch);
  const { infos: inputs, batch } = resolved;
  const probe = options.probe ?? true;
  const warnings: string[] = [];
  const pass = await passWithProbe(s, model, inputs, probe, warnings);

  const passes = new Map<string, PassResult>();
  const dynamicDims: DynamicDim[] = [];
  for (const open of openDims(s.inputs, resolved)) {
    const isBatch = open.symbol === batch?.symbol;
    const size = secondSize(open, isBatch);
    try {
      passes.set(open.symbol, await passWithProbe(s, model, resized(inputs, open, size), probe, []));
      dynamicDims.push({ ...open, probe: size });
    } catch {
      warnings.push(`the model does not run at ${isBatch ? `batch ${size}` : `${open.symbol} = ${size}`}: exported parts keep ${isBatch ? 'the batch' : 'it'} fixed at ${open.size}`);
      dynamicDims.push({ ...open, probe: undefined });
    }
  }
  const next = batch ? passes.get(batch.symbol) : undefined;

  const unknownCost = new Map<string, number>();
  pass.costs.forEach((c, i) => {
    if (!c && s.live[i]) unknownCost.set(s.nodes[i]!.opType, (unknownCost.get(s.nodes[i]!.opType) ?? 0) + 1);
  });
  if (unknownCost.size) {
    warnings.push(`the cost model does not know ${[...unknownCost].map(([op, n]) => `${op} (${n} node${n > 1 ? 's' : ''})`).join(', ')}: their FLOPs count as unknown`);
  }

  const tensors = new Map<string, TensorFacts>();
  for (const [name, links] of s.values) {
    const info = pass.infos.get(name);
    if (!info) continue;
    const other = next?.infos.get(name);
    tensors.set(name, {
      ...links,
      ...info,
      isStatic: pass.isStatic.has(name),
      value: pass.values.get(name),
      bytes: bytesOf(info),
      batchScale: next && batch ? batchScale(info, other, batch.size) : undefined,
      valueFollowsBatch: next ? JSON.stringify(pass.values.get(name)?.data) !== JSON.stringify(next.values.get(name)?.data) : false,
      shapeAt: new Map([...passes].flatMap(([symbol, p]) => (p.infos.has(name) ? [[symbol, p.infos.get(name)!.shape]] : []))),
    });
  }
  const isStaticNode = s.nodes.map((n) => n.outputs.every((o) => !o || pass.isStatic.has(o)));
  return { ...s, model, tensors, costs: pass.costs, isStaticNode, inputShapes: inputs, batch, dynamicDims, warnings };
}

/**
 * The size of an open dim's second pass: the batch one larger; another dim larger by its largest power-of-two
 * factor up to 32, so that sizes a strided model needs (multiples of 8, 32) stay multiples of them.
 */
function secondSize(dim: OpenDim, isBatch: boolean): number {
  if (isBatch) return dim.size + 1;
  return dim.size + Math.min(32, dim.size & -dim.size);
}

/** The input shapes with one open dim at another size. */
function resized(inputs: ReadonlyMap<string, TensorInfo>, dim: OpenDim, size: number): Map<string, TensorInfo> {
  const out = new Map(inputs);
  for (const { input, axis } of dim.at) {
    const info = out.get(input)!;
    out.set(input, { ...info, shape: info.shape.map((d, i) => (i === axis ? d + size - dim.size : d)) });
  }
  return out;
}

/** k per dim when dim = k x batch at both batch sizes, 0 when fixed, -1 otherwise. */
function batchScale(a: TensorInfo, b: TensorInfo | undefined, size: number): number[] {
  if (!b || b.shape.length !== a.shape.length) return a.shape.map(() => -1);
  return a.shape.map((d, i) => {
    const e = b.shape[i]!;
    if (d === e) return 0;
    return d % size === 0 && e === (d / size) * (size + 1) ? d / size : -1;
  });
}

async function passWithProbe(s: GraphStructure, model: OnnxModel, inputs: Map<string, TensorInfo>, probe: boolean, warnings: string[]): Promise<PassResult> {
  let pass = inferPass(s, model.dir, inputs);
  if (pass.unresolved.length === 0) return pass;
  const first = pass.unresolved[0]!;
  if (!probe) {
    throw new ImperaError('SHAPE_INFERENCE', `cannot infer the shape after node '${first.node.name}' (${first.node.opType}): ${first.reason}`, 'allow the ONNX Runtime probe');
  }
  const names = pass.unresolved.flatMap((u) => u.node.outputs.filter(Boolean));
  let probed: Map<string, Probed>;
  try {
    probed = await probeShapes(model.proto, model.dir, inputs, names);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ImperaError('SHAPE_INFERENCE', `cannot infer the shape after node '${first.node.name}' (${first.node.opType}): ${first.reason}, and ONNX Runtime could not run the model either (${why})`);
  }
  pass = inferPass(s, model.dir, inputs, probed);
  if (pass.unresolved.length) {
    const u = pass.unresolved[0]!;
    throw new ImperaError('SHAPE_INFERENCE', `cannot infer the shape after node '${u.node.name}' (${u.node.opType}): ${u.reason}`);
  }
  const ops = [...new Set(pass.probedNodes.map((n) => n.opType))];
  if (ops.length) warnings.push(`shapes after ${ops.join(', ')} come from an ONNX Runtime run (impera has no shape rule for ${ops.length > 1 ? 'them' : 'it'}); data-dependent shapes hold for that run only`);
  return pass;
}
