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
import { channelLayout } from '../graph/layout.js';
import { outputProducer, PIXEL_CLASS_PRODUCERS } from '../graph/producers.js';
import type { GraphNode } from '../graph/structure.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType, isFloatType } from '../onnx/dtype.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { Emitter } from '../onnx/emitter.js';
import { raiseNodes, upgradeBlocker, withOpset } from '../onnx/opset-upgrade.js';
import { getGradient } from './registry.js';
import type { GradContext, GradRule, ShapeFacts } from './rule.js';

/**
 * What is differentiated (docs/saliency/OBJECTIVES.md): the target logit (default), cross-entropy, the squared L2
 * norm of (part of) an output, the fidelity loss against the model's own decision, or a caller-given output gradient.
 */
export type Objective = 'target-logit' | 'cross-entropy' | 'l2' | 'fidelity' | 'seed';
export const OBJECTIVES: readonly Objective[] = ['target-logit', 'cross-entropy', 'l2', 'fidelity', 'seed'];

/** The part of an output the l2 objective covers, along the axes of its channel layout (graph/layout.ts). */
export interface OutputSelection {
  /** One index of the channel axis (C of [N, C, H, W] and of [N, T, C]). */
  channel?: number;
  /** Half-open [start, end) per position axis: [[y0, y1], [x0, x1]] for [N, C, H, W], [[t0, t1]] for [N, T, C]. */
  region?: readonly (readonly [number, number])[];
}

export interface BackwardSpec {
  /** Tensors to differentiate with respect to (inputs, intermediates, initializers). */
  wrt: readonly string[];
  /** The model outputs the objective is on (default: the first); several only with objective seed. */
  outputs?: readonly string[];
  /**
   * Every objective but cross-entropy sums per-sample objectives over the batch, so a sample's gradient does not
   * depend on the rest of its batch.
   * target-logit: logit[target]; cross-entropy: mean cross-entropy against the targets over the batch;
   * l2: ||y||^2 over the `select`ed part; fidelity: the output's own task loss against the model's decision
   * (classes [N, K]: cross-entropy against the argmax; sequences [N, T, K]: per-step cross-entropy against the
   * greedy decode, mean over steps; maps [N, C, H, W] of probabilities: binary cross-entropy against the map
   * thresholded at `threshold`, mean over elements) — a Softmax output is read as probabilities, anything else
   * as logits; seed: the gradient of each output is fed as an input (`outputGradInputs`).
   * cross-entropy, l2 and fidelity output their value too (`lossOutput`).
   */
  objective?: Objective;
  /** Where target-logit and cross-entropy take targets: the `impera::targets` input (int64 [N]) or each sample's predicted class. */
  targets?: 'input' | 'predicted';
  /** l2 only: a channel and/or region of the output (default: all of it). */
  select?: OutputSelection;
  /** fidelity on maps: the threshold that makes the model's own map binary (default 0.5). */
  threshold?: number;
  /** Forward tensors to output as well (e.g. activations for Grad-CAM). */
  keep?: readonly string[];
}

export interface BackwardModel {
  proto: ModelProto;
  /** Its default-domain opset: the model's, or raised to what a rule needs (see backwardOpset). */
  opset: number;
  /** Output name of the gradient of each wrt tensor. */
  gradients: Map<string, string>;
  /** Input names added to the model's own: the targets; per output, its fed gradient (objective seed). */
  targetsInput?: string;
  outputGradInputs?: Map<string, string>;
  /** Output names: the classes used (predicted, or fidelity's pseudo-labels on [N, K]), the objective's value. */
  targetsOutput?: string;
  lossOutput?: string;
  /** Wrt tensors the objective does not depend on (their gradient is zero). */
  unreachable: string[];
}

export const TARGETS_INPUT = 'impera::targets';
/** The objective's value (cross-entropy, l2, fidelity). */
export const LOSS_OUTPUT = 'impera::loss';
/** The fed gradient of a single output; with several outputs, `impera::output_grad::<output>`. */
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

/** Nodes that lie between a differentiable input and the objective's outputs, in topological order. */
function nodesOnPath(g: Graph, live: ReadonlySet<string>, outputs: readonly string[]): GraphNode[] {
  const feeds = new Set<string>(outputs);
  const path: GraphNode[] = [];
  for (const i of [...g.order].reverse()) {
    const n = g.nodes[i]!;
    // a wrt tensor's own producer is not differentiated unless gradient must flow on through it
    if (!n.outputs.some((o) => feeds.has(o) && live.has(o)) || !n.inputs.some((x) => live.has(x))) continue;
    path.push(n);
    const constant = getGradient(n.domain, n.opType)?.constantInputs ?? [];
    n.inputs.forEach((x, k) => {
      if (live.has(x) && !constant.includes(k)) feeds.add(x);
    });
  }
  return path.reverse();
}

export function buildBackwardGraph(g: Graph, spec: BackwardSpec): BackwardModel {
  const outputs = spec.outputs ?? [g.outputs[0]!.name!];
  const objective = spec.objective ?? 'target-logit';
  for (const t of [...spec.wrt, ...(spec.keep ?? [])]) {
    if (!g.tensors.has(t)) throw new ImperaError('BAD_ARGUMENT', `'${t}' is not a tensor of the model`, 'name inputs, intermediate tensors or initializers as `impera inspect` lists them');
  }
  const names = g.outputs.map((o) => o.name!);
  for (const o of outputs) if (!names.includes(o)) throw new ImperaError('BAD_ARGUMENT', `'${o}' is not an output of the model`, `its outputs: ${names.join(', ')}`);
  for (const t of spec.wrt) if (!isFloatType(tensor(g, t).dtype)) throw new ImperaError('BAD_ARGUMENT', `'${t}' is not a float tensor: it has no gradient`);
  checkObjective(g, objective, outputs, spec);

  const live = differentiable(g, new Set(spec.wrt));
  const path = nodesOnPath(g, live, outputs);
  const opset = backwardOpset(g, path);
  const ruleOf = checkRules(g, path, live, opset);

  const emit = new Emitter(opset, 'grad');
  const aux = auxiliaryOutputs(path, ruleOf);
  const partials = new Map<string, string[]>();
  const gradientOf = new Map<string, string>(); // each gradient tensor emitted -> the forward tensor it is the gradient of
  const addPartial = (t: string, grad: string) => {
    gradientOf.set(grad, t);
    (partials.get(t) ?? partials.set(t, []).get(t)!).push(grad);
  };
  const summed = (t: string) => {
    const grad = emit.sum(partials.get(t)!);
    gradientOf.set(grad, t);
    return grad;
  };
  const seed = objectiveSeed(g, emit, outputs, objective, spec);
  for (const [o, grad] of seed.grads) addPartial(o, grad);

  const shapeFacts = (name: string): ShapeFacts => tensor(g, name);
  for (const node of [...path].reverse()) {
    const nodeOutputs = aux.get(node.index) ?? node.outputs;
    const dys = node.outputs.map((o) => (partials.has(o) ? summed(o) : undefined));
    if (dys.every((d) => d === undefined)) continue;
    const ctx: GradContext = {
      node,
      opset,
      emit,
      x: (i) => node.inputs[i]!,
      y: (i) => nodeOutputs[i]!,
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
  const results: onnx.IValueInfoProto[] = g.outputs.map((o) => valueInfo(o.name!, tensor(g, o.name!).dtype));
  const renamed = new Map<string, string>();
  for (const t of spec.wrt) {
    const parts = partials.get(t);
    if (!parts) unreachable.push(t);
    const name = gradientName(t);
    const grad = parts ? summed(t) : emit.zerosLike(t);
    // name the gradient tensor itself (no copy); a copy only when it is already named or not ours (the seed)
    if (!renamed.has(grad) && emit.rename(grad, name)) renamed.set(grad, name);
    else emit.op('Identity', [renamed.get(grad) ?? grad], {}, { output: name });
    gradients.set(t, name);
    results.push(valueInfo(name, tensor(g, t).dtype, symbolicShape(g, t)));
  }
  for (const k of spec.keep ?? []) if (!results.some((o) => o.name === k)) results.push(valueInfo(k, tensor(g, k).dtype));
  if (seed.targetsOutput) results.push(valueInfo(seed.targetsOutput, DataType.INT64));
  if (seed.lossOutput) results.push(valueInfo(seed.lossOutput, DataType.FLOAT));

  // Each gradient has its tensor's shape. Declared, these let ONNX Runtime prove that a mask and the gradient it
  // multiplies have the same shape (its own inference loses the batch dim through Shape + Expand), which its NCHWc
  // layout pass needs to keep the element-wise ops of the backward in the blocked layout, without reorders.
  const produced = new Set(emit.nodes.flatMap((n) => n.output));
  const declared = new Set(results.map((r) => r.name));
  const gradientShapes = [...gradientOf].filter(([grad]) => produced.has(grad) && !declared.has(grad)).map(([grad, t]) => valueInfo(grad, tensor(g, t).dtype, symbolicShape(g, t)));
  const forward = g.proto.graph!;
  const raised = raiseNodes(forward, g.opsets.get('') ?? 1, opset);
  const nodes = raised.nodes.map((n, i) => (aux.has(i) ? onnx.NodeProto.create({ ...n, output: aux.get(i)! }) : n));
  const inputs = [...(forward.input ?? []), ...seed.inputs];
  const proto = onnx.ModelProto.create({
    ...withOpset(g.proto, opset),
    graph: { ...forward, node: [...nodes, ...emit.nodes], initializer: [...(forward.initializer ?? []), ...raised.initializers, ...emit.initializers], input: inputs, output: results, valueInfo: gradientShapes },
  });
  return {
    proto,
    opset,
    gradients,
    unreachable,
    ...(seed.targetsInput ? { targetsInput: seed.targetsInput } : {}),
    ...(seed.outputGradInputs ? { outputGradInputs: seed.outputGradInputs } : {}),
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
  /** Per objective output: the objective's gradient with respect to it. */
  grads: Map<string, string>;
  inputs: onnx.IValueInfoProto[];
  targetsInput?: string;
  outputGradInputs?: Map<string, string>;
  targetsOutput?: string;
  lossOutput?: string;
}

/** What each objective needs of its outputs, checked before anything is built: one line naming what fits. */
function checkObjective(g: Graph, objective: Objective, outputs: readonly string[], spec: BackwardSpec): void {
  const bad = (what: string, hint?: string) => {
    throw new ImperaError('BAD_ARGUMENT', what, hint);
  };
  if (!OBJECTIVES.includes(objective)) bad(`unknown objective '${objective}'`, `choose one of ${OBJECTIVES.join(', ')}`);
  if (objective !== 'seed' && outputs.length !== 1) bad(`objective '${objective}' is on one output; ${outputs.length} given`, 'name one output, or feed the gradient of several with objective seed');
  if (spec.select && objective !== 'l2') bad(`a channel or region selects part of the output for objective l2, not '${objective}'`);
  if (spec.threshold !== undefined && objective !== 'fidelity') bad(`a threshold applies to objective fidelity, not '${objective}'`);
  const output = outputs[0]!;
  const shape = tensor(g, output).shape;
  if (tensor(g, output).dataDependent && ['target-logit', 'cross-entropy', 'fidelity'].includes(objective)) {
    bad(`objective '${objective}' reads classes, sequences or a map per sample, and '${output}' [${shape}] has a data-dependent length (as a detector's boxes after NMS)`, 'use objective l2 (the squared norm of what it kept: --objective l2 --output NAME), or feed the output gradient (seed)');
  }
  if ((objective === 'target-logit' || objective === 'cross-entropy') && shape.length !== 2) {
    bad(`objective '${objective}' needs an output of shape [batch, classes]; '${output}' is [${shape}]`, 'use objective l2 or fidelity, or feed the output gradient (seed)');
  }
  if (objective === 'fidelity' && ![2, 3, 4].includes(shape.length)) {
    bad(`objective fidelity needs classes [N, K], sequence logits [N, T, K] or a map [N, C, H, W]; '${output}' is [${shape}]`, 'use objective l2, or feed the output gradient (seed)');
  }
  if (spec.select) checkSelection(output, shape, spec.select);
}

function checkSelection(output: string, shape: readonly number[], select: OutputSelection): void {
  const layout = channelLayout(shape);
  if (!layout) throw new ImperaError('BAD_ARGUMENT', `a channel or region needs an output of shape [N, C, H, W], [N, T, C] or [N, C]; '${output}' is [${shape}]`, 'use objective l2 on the whole output');
  const { channel, region } = select;
  if (channel !== undefined && !(Number.isInteger(channel) && channel >= 0 && channel < layout.channels)) {
    throw new ImperaError('BAD_ARGUMENT', `channel ${channel} is out of range: '${output}' has ${layout.channels} channels (0-${layout.channels - 1})`);
  }
  if (!region) return;
  const axes = layout.positionAxes;
  const form = axes.length === 2 ? 'y0:y1,x0:x1' : axes.length === 1 ? 't0:t1' : '';
  if (region.length !== axes.length) {
    throw new ImperaError('BAD_ARGUMENT', `'${output}' [${shape}] has ${axes.length} position axes; the region gives ${region.length} ranges`, axes.length ? `give ${form}` : 'give a channel only');
  }
  region.forEach(([a, b], k) => {
    const size = shape[axes[k]!]!;
    if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a < b && b <= size)) {
      throw new ImperaError('BAD_ARGUMENT', `region range ${a}:${b} does not fit axis ${axes[k]} of '${output}' (size ${size})`, `give ${form} with 0 <= start < end <= size`);
    }
  });
}

/** The gradient of the objective with respect to its outputs, and the inputs/outputs it adds. */
function objectiveSeed(g: Graph, e: Emitter, outputs: readonly string[], objective: Objective, spec: BackwardSpec): Seed {
  if (objective === 'seed') {
    const names = new Map(outputs.map((o) => [o, outputs.length === 1 ? OUTPUT_GRAD_INPUT : `${OUTPUT_GRAD_INPUT}::${o}`]));
    return { grads: names, outputGradInputs: names, inputs: outputs.map((o) => valueInfo(names.get(o)!, tensor(g, o).dtype, symbolicShape(g, o))) };
  }
  const output = outputs[0]!;
  const one = (s: Omit<Seed, 'grads'> & { grad: string }): Seed => {
    const { grad, ...rest } = s;
    return { ...rest, grads: new Map([[output, grad]]) };
  };
  if (objective === 'l2') return one(l2Seed(g, e, output, spec.select ?? {}));
  if (objective === 'fidelity') return one(fidelitySeed(g, e, output, spec.threshold ?? 0.5));
  const classes = tensor(g, output).shape[1]!;
  const batchDim = symbolicShape(g, output)[0]!;
  const fromInput = (spec.targets ?? 'input') === 'input';
  const labels = fromInput ? TARGETS_INPUT : e.op('ArgMax', [output], { axis: 1, keepdims: 0 });
  const oneHot = e.oneHot(labels, classes);
  const base = {
    grad: oneHot,
    inputs: fromInput ? [valueInfo(TARGETS_INPUT, DataType.INT64, [batchDim])] : [],
    ...(fromInput ? { targetsInput: TARGETS_INPUT } : { targetsOutput: 'impera::targets_used' }),
  };
  if (!fromInput) e.op('Identity', [labels], {}, { output: 'impera::targets_used' });
  if (objective === 'target-logit') return one(base);
  // mean cross-entropy: d/dlogits = (softmax - onehot) / N
  const n = e.op('Cast', [e.slice(e.shapeOf(output), [0], [1], [0])], { to: DataType.FLOAT });
  const grad = e.op('Div', [e.sub(e.op('Softmax', [output], { axis: 1 }), oneHot), n]);
  const picked = e.reduceSum(e.mul(e.op('LogSoftmax', [output], { axis: 1 }), oneHot), [1], false);
  const loss = e.op('ReduceMean', [e.neg(picked)], { keepdims: 0 }, { output: LOSS_OUTPUT }); // no axes: over the batch
  return one({ ...base, grad, lossOutput: loss });
}

/** Sum of every element (a scalar), named as the objective's value. */
const lossOf = (e: Emitter, x: string): string => e.op('ReduceSum', [x], { keepdims: 0 }, { output: LOSS_OUTPUT });

/**
 * ||m * y||^2 summed over the batch, m the 0/1 mask of the selection: gradient 2 m y. The mask is the product of a
 * channel mask and a region mask, each shaped to broadcast ([1, C, 1, 1], [1, 1, H, W]), so it stays small.
 */
function l2Seed(g: Graph, e: Emitter, output: string, select: OutputSelection): { grad: string; inputs: []; lossOutput: string } {
  const shape = tensor(g, output).shape;
  const layout = channelLayout(shape);
  const masks: string[] = [];
  if (select.channel !== undefined) {
    const dims = shape.map((d, i) => (i === layout!.channelAxis ? d : 1));
    masks.push(e.constant(DataType.FLOAT, dims, Array.from({ length: layout!.channels }, (_, c) => (c === select.channel ? 1 : 0))));
  }
  if (select.region) masks.push(regionMask(e, shape, layout!.positionAxes, select.region));
  const picked = masks.reduce((y, m) => e.mul(y, m), output);
  return { grad: e.mul(picked, e.scalar(2)), inputs: [], lossOutput: lossOf(e, e.mul(picked, picked)) };
}

/** A 0/1 mask over the position axes (1 elsewhere) that is 1 inside the half-open ranges. */
function regionMask(e: Emitter, shape: readonly number[], axes: readonly number[], region: OutputSelection['region'] & object): string {
  const dims = shape.map((d, i) => (axes.includes(i) ? d : 1));
  const values = new Array<number>(dims.reduce((a, b) => a * b, 1)).fill(0);
  const sizes = axes.map((a) => shape[a]!);
  values.forEach((_, flat) => {
    let rest = flat;
    const inside = [...sizes].reverse().every((size, r) => {
      const k = sizes.length - 1 - r;
      const at = rest % size;
      rest = Math.floor(rest / size);
      return at >= region[k]![0] && at < region[k]![1];
    });
    values[flat] = inside ? 1 : 0;
  });
  return e.constant(DataType.FLOAT, dims, values);
}

/** Probabilities are clamped to [EPS, 1 - EPS] before a log or a division, as frameworks' BCE does. */
const EPS = 1e-7;

/** Ops that keep their input's values (so a Sigmoid's probabilities stay probabilities through them). */
const VALUE_KEEPING = new Set(['Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Transpose', 'ReduceMean', 'ReduceMax', 'ReduceMin']);

/** `t` holds a Sigmoid's output, through ops that keep values. */
function fromSigmoid(g: Graph, t: string): boolean {
  const producer = g.nodes[tensor(g, t).producer];
  if (!producer) return false;
  return producer.opType === 'Sigmoid' || (VALUE_KEEPING.has(producer.opType) && fromSigmoid(g, producer.inputs[0]!));
}

/**
 * The output's task loss against the model's own decision, summed over the batch of per-sample means: a non-zero
 * gradient without labels. Classes and sequences: cross-entropy over the last axis against its argmax
 * (pseudo-labels; the greedy decode of a sequence); class scores per pixel [N, C >= 2, H, W] (a segmenter's logits
 * or softmax, as graph/producers.ts tells them): cross-entropy over the channels against each pixel's argmax, mean
 * over pixels; other maps, and one Sigmoid score per sample: binary cross-entropy against the thresholded map or score.
 */
function fidelitySeed(g: Graph, e: Emitter, output: string, threshold: number): { grad: string; inputs: []; lossOutput: string; targetsOutput?: string } {
  const shape = tensor(g, output).shape;
  const perSample = shape.slice(1).reduce((a, b) => a * b, 1);
  const clamp = (p: string) => e.op('Max', [e.op('Min', [p, e.scalar(1 - EPS)]), e.scalar(EPS)]);
  if (shape.length === 4 && shape[1]! >= 2 && PIXEL_CLASS_PRODUCERS.has(outputProducer(g, output) ?? '')) return classMapSeed(g, e, output, clamp);
  // one score per sample from a Sigmoid (a VAD's speech probability) is a binary decision like a map's pixel:
  // cross-entropy over one class would be 0 whatever the model does
  if (shape.length === 4 || (shape[shape.length - 1] === 1 && fromSigmoid(g, output))) {
    const target = e.op('Cast', [e.op('Greater', [output, e.scalar(threshold)])], { to: DataType.FLOAT });
    const p = clamp(output);
    const q = e.sub(e.scalar(1), p);
    // d/dp of -(t log p + (1 - t) log(1 - p)) = (p - t) / (p (1 - p)); through a Sigmoid this is (p - t) on its logits
    const grad = e.op('Div', [e.sub(output, target), e.mul(e.mul(p, q), e.scalar(perSample))]);
    const ll = e.add(e.mul(target, e.op('Log', [p])), e.mul(e.sub(e.scalar(1), target), e.op('Log', [q])));
    return { grad, inputs: [], lossOutput: lossOf(e, e.op('Div', [e.neg(ll), e.scalar(perSample)])) };
  }
  const axis = shape.length - 1;
  const positions = perSample / shape[axis]!;
  const labels = e.op('ArgMax', [output], { axis, keepdims: 0 });
  // one-hot over the last axis as labels == [0..K) (Emitter.oneHot is for [N] labels; Equal exists in every opset)
  const ids = e.constant(DataType.INT64, [...shape.slice(0, -1).map(() => 1), shape[axis]!], [...Array(shape[axis]!).keys()]);
  const oneHot = e.op('Cast', [e.op('Equal', [e.unsqueeze(labels, [axis]), ids])], { to: DataType.FLOAT });
  const scale = e.scalar(positions);
  const probabilities = g.nodes[tensor(g, output).producer]?.opType === 'Softmax';
  // probabilities p: d/dp of -log p[t] = -onehot / p; logits z: d/dz = softmax(z) - onehot
  const grad = probabilities ? e.op('Div', [e.neg(oneHot), e.mul(clamp(output), scale)]) : e.op('Div', [e.sub(e.op('Softmax', [output], { axis }), oneHot), scale]);
  const logp = probabilities ? e.op('Log', [clamp(output)]) : e.op('LogSoftmax', [output], { axis });
  const lossOutput = lossOf(e, e.op('Div', [e.neg(e.mul(logp, oneHot)), scale]));
  if (shape.length === 3) return { grad, inputs: [], lossOutput };
  e.op('Identity', [labels], {}, { output: 'impera::targets_used' });
  return { grad, inputs: [], lossOutput, targetsOutput: 'impera::targets_used' };
}

/**
 * Per-pixel cross-entropy of [N, C, H, W] class scores against each pixel's argmax class, mean over pixels. The
 * softmax over axis 1 is written out (max, exp, sum): Softmax before opset 13 flattens every axis from `axis` on.
 */
function classMapSeed(g: Graph, e: Emitter, output: string, clamp: (p: string) => string): { grad: string; inputs: []; lossOutput: string } {
  const [, channels, height, width] = tensor(g, output).shape as [number, number, number, number];
  const scale = e.scalar(height * width);
  const oneHot = e.op('Cast', [e.op('Equal', [e.op('ArgMax', [output], { axis: 1, keepdims: 1 }), e.constant(DataType.INT64, [1, channels, 1, 1], [...Array(channels).keys()])])], { to: DataType.FLOAT });
  const probabilities = outputProducer(g, output) === 'Softmax';
  let grad: string;
  let logp: string;
  if (probabilities) {
    // d/dp of -log p[t] = -onehot / p
    grad = e.op('Div', [e.neg(oneHot), e.mul(clamp(output), scale)]);
    logp = e.op('Log', [clamp(output)]);
  } else {
    // logits z: d/dz = softmax(z) - onehot
    const shifted = e.sub(output, e.reduce('ReduceMax', output, [1], true));
    const exp = e.op('Exp', [shifted]);
    const sum = e.reduceSum(exp, [1], true);
    grad = e.op('Div', [e.sub(e.op('Div', [exp, sum]), oneHot), scale]);
    logp = e.sub(shifted, e.op('Log', [sum]));
  }
  return { grad, inputs: [], lossOutput: lossOf(e, e.op('Div', [e.neg(e.mul(logp, oneHot)), scale])) };
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
