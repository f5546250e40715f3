/**
 * Reverse-mode differentiation of an ONNX graph into ONNX: one model that runs the forward pass and the backward
 * pass together in ONNX Runtime and outputs the objective's gradient with respect to any tensors — the input,
 * intermediate tensors (all cut tensors at once), initializers.
 *
 * Only nodes on a path from a differentiated tensor to the objective are differentiated; shape computations,
 * integer and boolean tensors carry no gradient. Every node on the path must have a rule: a missing one is an
 * error naming the op and the node, raised before anything is built.
 */
import { ImperaError } from '../errors.js';
import { symbolicShape, tensor, type Graph } from '../graph/graph.js';
import type { GraphNode } from '../graph/structure.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType, isFloatType } from '../onnx/dtype.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { Emitter } from '../onnx/emitter.js';
import { upgradeBlocker, withOpset } from '../onnx/opset-upgrade.js';
import { getGradient } from './registry.js';
import type { GradContext, GradRule, ShapeFacts } from './rule.js';

/** What is differentiated: the target logit (default), cross-entropy, or a caller-given output gradient. */
export type Objective = 'target-logit' | 'cross-entropy' | 'seed';

export interface BackwardSpec {
  /** Tensors to differentiate with respect to (inputs, intermediates, initializers). */
  wrt: readonly string[];
  /** The model output the objective is on (default: the first). */
  output?: string;
  /**
   * target-logit: sum over the batch of logit[target_i]; cross-entropy: mean cross-entropy against the targets
   * (the loss is an output too); seed: the gradient of the output is fed as input `impera::output_grad`.
   */
  objective?: Objective;
  /** Where targets come from: the `impera::targets` input (int64 [N]) or each sample's predicted class. */
  targets?: 'input' | 'predicted';
  /** Forward tensors to output as well (e.g. activations for Grad-CAM). */
  keep?: readonly string[];
}

export interface BackwardModel {
  proto: ModelProto;
  /** Its default-domain opset: the model's, or raised to what a rule needs (see backwardOpset). */
  opset: number;
  /** Output name of the gradient of each wrt tensor. */
  gradients: Map<string, string>;
  /** Input names added to the model's own. */
  targetsInput?: string;
  outputGradInput?: string;
  /** Output names: the targets used (when predicted), the loss (cross-entropy). */
  targetsOutput?: string;
  lossOutput?: string;
  /** Wrt tensors the objective does not depend on (their gradient is zero). */
  unreachable: string[];
}

export const TARGETS_INPUT = 'impera::targets';
/** The mean cross-entropy output of a backward graph built with objective 'cross-entropy'. */
export const LOSS_OUTPUT = 'impera::loss';
export const OUTPUT_GRAD_INPUT = 'impera::output_grad';
export const gradientName = (t: string) => `${t}::grad`;

/** Ops whose outputs never carry a gradient, whatever their type (they depend on shapes only). */
const SHAPE_ONLY = new Set(['Shape', 'Size', 'EyeLike']);

/** Tensors that depend differentiably on a wrt tensor. */
function differentiable(g: Graph, wrt: ReadonlySet<string>): Set<string> {
  const live = new Set(wrt);
  for (const i of g.order) {
    const n = g.nodes[i]!;
    if (SHAPE_ONLY.has(n.opType) || !n.inputs.some((x) => live.has(x))) continue;
    for (const o of n.outputs) if (o && g.tensors.has(o) && isFloatType(tensor(g, o).dtype)) live.add(o);
  }
  return live;
}

/** Nodes that lie between a differentiable input and the objective output, in topological order. */
function nodesOnPath(g: Graph, live: ReadonlySet<string>, output: string): GraphNode[] {
  const feeds = new Set<string>([output]);
  const path: GraphNode[] = [];
  for (const i of [...g.order].reverse()) {
    const n = g.nodes[i]!;
    // a wrt tensor's own producer is not differentiated unless gradient must flow on through it
    if (!n.outputs.some((o) => feeds.has(o) && live.has(o)) || !n.inputs.some((x) => live.has(x))) continue;
    path.push(n);
    for (const x of n.inputs) if (live.has(x)) feeds.add(x);
  }
  return path.reverse();
}

export function buildBackwardGraph(g: Graph, spec: BackwardSpec): BackwardModel {
  const output = spec.output ?? g.outputs[0]!.name!;
  const objective = spec.objective ?? 'target-logit';
  for (const t of [...spec.wrt, ...(spec.keep ?? [])]) {
    if (!g.tensors.has(t)) throw new ImperaError('BAD_ARGUMENT', `'${t}' is not a tensor of the model`, 'name inputs, intermediate tensors or initializers as `impera inspect` lists them');
  }
  if (!g.outputs.some((o) => o.name === output)) throw new ImperaError('BAD_ARGUMENT', `'${output}' is not an output of the model`);
  for (const t of spec.wrt) if (!isFloatType(tensor(g, t).dtype)) throw new ImperaError('BAD_ARGUMENT', `'${t}' is not a float tensor: it has no gradient`);
  const out = tensor(g, output);
  if (objective !== 'seed' && out.shape.length !== 2) {
    throw new ImperaError('BAD_ARGUMENT', `objective '${objective}' needs an output of shape [batch, classes]; '${output}' is [${out.shape}]`, 'use objective seed and feed the output gradient');
  }

  const live = differentiable(g, new Set(spec.wrt));
  const path = nodesOnPath(g, live, output);
  const opset = backwardOpset(g, path);
  const ruleOf = checkRules(g, path, live, opset);

  const emit = new Emitter(opset, 'grad');
  const aux = auxiliaryOutputs(path, ruleOf);
  const partials = new Map<string, string[]>();
  const addPartial = (t: string, grad: string) => (partials.get(t) ?? partials.set(t, []).get(t)!).push(grad);
  const seed = objectiveSeed(g, emit, output, objective, spec.targets ?? 'input');
  addPartial(output, seed.grad);

  const shapeFacts = (name: string): ShapeFacts => tensor(g, name);
  for (const node of [...path].reverse()) {
    const outputs = aux.get(node.index) ?? node.outputs;
    const dys = node.outputs.map((o) => (partials.has(o) ? emit.sum(partials.get(o)!) : undefined));
    if (dys.every((d) => d === undefined)) continue;
    const ctx: GradContext = {
      node,
      opset,
      emit,
      x: (i) => node.inputs[i]!,
      y: (i) => outputs[i]!,
      facts: (name) => tensor(g, name),
      dy: (k = 0) => dys[k],
      needs: (i) => live.has(node.inputs[i] ?? ''),
      sumTo: (grad, from, to) => sumTo(emit, grad, from, shapeFacts(to), to),
    };
    ruleOf.get(node.index)!.grad(ctx).forEach((grad, i) => {
      if (grad && live.has(node.inputs[i] ?? '')) addPartial(node.inputs[i]!, grad);
    });
  }

  const gradients = new Map<string, string>();
  const unreachable: string[] = [];
  const outputs: onnx.IValueInfoProto[] = g.outputs.map((o) => valueInfo(o.name!, tensor(g, o.name!).dtype));
  const renamed = new Map<string, string>();
  for (const t of spec.wrt) {
    const parts = partials.get(t);
    if (!parts) unreachable.push(t);
    const name = gradientName(t);
    const grad = parts ? emit.sum(parts) : emit.zerosLike(t);
    // name the gradient tensor itself (no copy); a copy only when it is already named or not ours (the seed)
    if (!renamed.has(grad) && emit.rename(grad, name)) renamed.set(grad, name);
    else emit.op('Identity', [renamed.get(grad) ?? grad], {}, { output: name });
    gradients.set(t, name);
    outputs.push(valueInfo(name, tensor(g, t).dtype));
  }
  for (const k of spec.keep ?? []) if (!outputs.some((o) => o.name === k)) outputs.push(valueInfo(k, tensor(g, k).dtype));
  if (seed.targetsOutput) outputs.push(valueInfo(seed.targetsOutput, DataType.INT64));
  if (seed.lossOutput) outputs.push(valueInfo(seed.lossOutput, DataType.FLOAT));

  const forward = g.proto.graph!;
  const nodes = (forward.node ?? []).map((n, i) => (aux.has(i) ? onnx.NodeProto.create({ ...n, output: aux.get(i)! }) : n));
  const inputs = [...(forward.input ?? []), ...seed.inputs];
  const proto = onnx.ModelProto.create({
    ...withOpset(g.proto, opset),
    graph: { ...forward, node: [...nodes, ...emit.nodes], initializer: [...(forward.initializer ?? []), ...emit.initializers], input: inputs, output: outputs, valueInfo: [] },
  });
  return {
    proto,
    opset,
    gradients,
    unreachable,
    ...(seed.targetsInput ? { targetsInput: seed.targetsInput } : {}),
    ...(seed.outputGradInput ? { outputGradInput: seed.outputGradInput } : {}),
    ...(seed.targetsOutput ? { targetsOutput: seed.targetsOutput } : {}),
    ...(seed.lossOutput ? { lossOutput: seed.lossOutput } : {}),
  };
}

/**
 * The opset of the backward model: the model's, unless a rule's backward ops need a later one (a scatter-add);
 * then that one, if every node of the model keeps its meaning there, else an error naming the node that does not.
 */
function backwardOpset(g: Graph, path: readonly GraphNode[]): number {
  const current = g.opsets.get('') ?? 1;
  let needed = current;
  let by: GraphNode | undefined;
  for (const node of path) {
    const want = getGradient(node.domain, node.opType)?.opsetNeeded?.({ node, facts: (n) => tensor(g, n), x: (i) => node.inputs[i]! }) ?? 0;
    if (want > needed) [needed, by] = [want, node];
  }
  if (!by) return current;
  const why = upgradeBlocker(g.proto.graph!, current, needed, (t) => g.tensors.get(t)?.shape.length);
  if (why) {
    throw new ImperaError('NO_GRADIENT', `the gradient of ${by.opType} node '${by.name}' needs opset ${needed}, but the model is opset ${current} and cannot be raised: ${why}`, `re-export the model at opset ${needed} or later, or differentiate with respect to tensors after that node`);
  }
  return needed;
}

/** Every node on the path has a rule that supports it; otherwise one error listing what is missing. */
function checkRules(g: Graph, path: readonly GraphNode[], live: ReadonlySet<string>, opset: number): Map<number, GradRule> {
  const rules = new Map<number, GradRule>();
  const problems: string[] = [];
  for (const node of path) {
    const rule = getGradient(node.domain, node.opType);
    const why = rule
      ? rule.unsupported?.({ node, opset, facts: (n) => tensor(g, n), needs: (i) => live.has(node.inputs[i] ?? ''), x: (i) => node.inputs[i]!, y: (i) => node.outputs[i]! })
      : `no gradient rule for op ${node.domain ? `${node.domain}.` : ''}${node.opType}`;
    if (why) problems.push(`${why} (node '${node.name}')`);
    else rules.set(node.index, rule!);
  }
  if (problems.length) {
    const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
    throw new ImperaError('NO_GRADIENT', `cannot differentiate the model: ${problems.slice(0, 3).join('; ')}${more}`, 'differentiate with respect to tensors after these nodes, or register a rule with registerGradient');
  }
  return rules;
}

/** Output lists for forward nodes whose rules need outputs the model does not ask for (MaxPool indices...). */
function auxiliaryOutputs(path: readonly GraphNode[], rules: ReadonlyMap<number, GradRule>): Map<number, string[]> {
  const aux = new Map<number, string[]>();
  for (const node of path) {
    const want = rules.get(node.index)!.auxOutputs?.(node) ?? 0;
    if (Array.from({ length: want }, (_, k) => node.outputs[k]).every(Boolean)) continue;
    aux.set(node.index, Array.from({ length: Math.max(want, node.outputs.length) }, (_, k) => node.outputs[k] || `${node.outputs[0]}::aux${k}`));
  }
  return aux;
}

interface Seed {
  grad: string;
  inputs: onnx.IValueInfoProto[];
  targetsInput?: string;
  outputGradInput?: string;
  targetsOutput?: string;
  lossOutput?: string;
}

/** The gradient of the objective with respect to the output, and the inputs/outputs it adds. */
function objectiveSeed(g: Graph, e: Emitter, output: string, objective: Objective, targets: 'input' | 'predicted'): Seed {
  const out = tensor(g, output);
  if (objective === 'seed') {
    return { grad: OUTPUT_GRAD_INPUT, outputGradInput: OUTPUT_GRAD_INPUT, inputs: [valueInfo(OUTPUT_GRAD_INPUT, out.dtype, symbolicShape(g, output))] };
  }
  const classes = out.shape[1]!;
  const batchDim = symbolicShape(g, output)[0]!;
  const fromInput = targets === 'input';
  const labels = fromInput ? TARGETS_INPUT : e.op('ArgMax', [output], { axis: 1, keepdims: 0 });
  const oneHot = e.oneHot(labels, classes);
  const base: Seed = {
    grad: oneHot,
    inputs: fromInput ? [valueInfo(TARGETS_INPUT, DataType.INT64, [batchDim])] : [],
    ...(fromInput ? { targetsInput: TARGETS_INPUT } : { targetsOutput: 'impera::targets_used' }),
  };
  if (!fromInput) e.op('Identity', [labels], {}, { output: 'impera::targets_used' });
  if (objective === 'target-logit') return base;
  // mean cross-entropy: d/dlogits = (softmax - onehot) / N
  const n = e.op('Cast', [e.slice(e.shapeOf(output), [0], [1], [0])], { to: DataType.FLOAT });
  const grad = e.op('Div', [e.sub(e.op('Softmax', [output], { axis: 1 }), oneHot), n]);
  const picked = e.reduceSum(e.mul(e.op('LogSoftmax', [output], { axis: 1 }), oneHot), [1], false);
  const loss = e.op('ReduceMean', [e.neg(picked)], { keepdims: 0 }, { output: LOSS_OUTPUT }); // no axes: over the batch
  return { ...base, grad, lossOutput: loss };
}

/**
 * Sum a gradient of shape `from` down to `to` (NumPy broadcasting in reverse). A dim of `to` that is 1 and fixed
 * was broadcast when the same dim of `from` is larger or follows the batch; leading extra dims are summed too.
 */
function sumTo(e: Emitter, grad: string, from: ShapeFacts, to: ShapeFacts, toName: string): string {
  const offset = from.shape.length - to.shape.length;
  const axes: number[] = [];
  from.shape.forEach((d, j) => {
    if (j < offset) return axes.push(j);
    const k = j - offset;
    const fromFollows = (from.batchScale?.[j] ?? 0) !== 0;
    const toFollows = (to.batchScale?.[k] ?? 0) !== 0;
    if (to.shape[k] === 1 && !toFollows && (d !== 1 || fromFollows)) axes.push(j);
  });
  if (axes.length === 0 && offset === 0) return grad;
  return e.reshapeLike(e.reduceSum(grad, axes, true), toName);
}
