/**
 * One shape-inference pass: walks the nodes in topological order and asks each op's rule for its outputs'
 * types and shapes, folding small constant computations (Shape -> Gather -> Concat -> Reshape chains) so that
 * shapes that depend on them are known. Nodes with no rule, or whose rule lacks a value, are left unresolved
 * for an ONNX Runtime probe (see analyze.ts).
 */
import { ImperaError } from '../errors.js';
import { DataType, numel } from '../onnx/dtype.js';
import { readTensor, toNumbers } from '../onnx/tensor.js';
import type { TensorProto } from '../onnx/proto.js';
import { RANDOM_OPS } from '../ops/constant.js';
import { getOpRule } from '../ops/registry.js';
import { NeedsValueError, type ConstValue, type NodeCost, type OpContext, type TensorInfo } from '../ops/types.js';
import type { GraphNode, GraphStructure } from './structure.js';

/** Largest tensor whose value is folded; shape computations are far smaller. */
export const FOLD_LIMIT = 4096;

/** Ops whose outputs depend only on their inputs' shapes, so they are constant once shapes are fixed. */
export const SHAPE_ONLY = new Set(['Shape', 'Size', 'EyeLike']);

/**
 * Ops whose output shapes depend on the values they read (a detector's NonZero and NonMaxSuppression, a Loop's trip
 * count): the probe's shapes hold for its one run, so Shape() of such a tensor is no constant. An `If` is one where
 * a branch reads such a tensor (its reads include its branches'), not otherwise: a scripted model's `if y.mean() > t`
 * on its data keeps its shapes.
 */
export const DATA_DEPENDENT_SHAPE = new Set(['NonZero', 'NonMaxSuppression', 'Unique', 'Compress', 'Loop']);

export interface Probed {
  info: TensorInfo;
  value?: ConstValue;
}

export interface PassResult {
  infos: Map<string, TensorInfo>;
  values: Map<string, ConstValue>;
  isStatic: Set<string>;
  /** Per node: its cost, or undefined when unknown; static nodes cost nothing at run time. */
  costs: (NodeCost | undefined)[];
  /** Nodes whose outputs could not be inferred, with the reason. */
  unresolved: { node: GraphNode; reason: string }[];
  /** Nodes whose outputs came from the probe (no rule here, so no cost either). */
  probedNodes: GraphNode[];
  /** Tensors whose shape depends on values computed at run time (DATA_DEPENDENT_SHAPE and what follows them): known for one run only. */
  dataDependent: Set<string>;
}

export function inferPass(g: GraphStructure, dir: string, inputs: ReadonlyMap<string, TensorInfo>, probed: ReadonlyMap<string, Probed> = new Map()): PassResult {
  const infos = new Map<string, TensorInfo>(inputs);
  const values = new Map<string, ConstValue>();
  const isStatic = new Set<string>();
  const costs: (NodeCost | undefined)[] = g.nodes.map(() => undefined);
  const unresolved: PassResult['unresolved'] = [];
  const probedNodes: GraphNode[] = [];
  const dataDependent = new Set<string>();
  const attrCache = new Map<TensorProto, ConstValue>();

  const readConst = (t: TensorProto): ConstValue => {
    let v = attrCache.get(t);
    if (!v) {
      const r = readTensor(t, dir);
      v = { dtype: r.dtype, dims: r.dims, data: toNumbers(r.data) };
      attrCache.set(t, v);
    }
    return v;
  };

  for (const [name, t] of g.initializers) {
    infos.set(name, { dtype: (t.dataType ?? 0) as DataType, shape: (t.dims ?? []).map(Number) });
    isStatic.add(name);
  }

  const valueOf = (name: string): ConstValue | undefined => {
    const v = values.get(name);
    if (v) return v;
    const init = g.initializers.get(name);
    if (init && numel((init.dims ?? []).map(Number)) <= FOLD_LIMIT && init.dataType !== DataType.STRING) {
      const c = readConst(init);
      values.set(name, c);
      return c;
    }
    return undefined;
  };

  for (const i of g.order) {
    const node = g.nodes[i]!;
    const ins = node.inputs.map((n) => (n === '' ? undefined : infos.get(n)));
    const missing = node.inputs.find((n, k) => n !== '' && ins[k] === undefined);
    const readsDataDependent = node.reads.some((r) => dataDependent.has(r));
    const shapeOnly = SHAPE_ONLY.has(node.opType);
    const nodeStatic = !RANDOM_OPS.has(node.opType) && (shapeOnly ? !readsDataDependent : node.reads.every((r) => isStatic.has(r)));
    // a probed op with a rule was probed because its rule needed a value computed at run time (a Reshape to a computed shape)
    let needsRunTimeValue = false;
    const fromProbe = node.outputs.every((o) => !o || probed.has(o));
    const rule = getOpRule(node.domain, node.opType);
    if (missing !== undefined && !fromProbe) {
      unresolved.push({ node, reason: `input '${missing}' is unknown` });
      continue;
    }
    const ctx: OpContext = {
      node,
      opset: g.opsets.get(node.domain) ?? 1,
      inputs: ins,
      input(k) {
        const v = ins[k];
        if (!v) throw new ImperaError('SHAPE_INFERENCE', `node '${node.name}' (${node.opType}) needs input ${k}, which is missing`);
        return v;
      },
      value: (k) => (node.inputs[k] ? valueOf(node.inputs[k]!) : undefined),
      requireValue(k, what) {
        const v = this.value(k);
        if (!v) throw new NeedsValueError(`${what} (input '${node.inputs[k]}') is computed at run time`);
        return v.data;
      },
      attributeTensor: readConst,
    };
    let outs: TensorInfo[];
    if (rule && !fromProbe) {
      try {
        outs = rule.infer(ctx);
      } catch (e) {
        if (!(e instanceof NeedsValueError)) throw e;
        unresolved.push({ node, reason: e.message });
        continue;
      }
      costs[i] = nodeStatic ? { macs: 0, flops: 0 } : rule.cost?.(ctx, outs);
    } else if (fromProbe) {
      outs = node.outputs.map((o) => probed.get(o)!.info);
      needsRunTimeValue = !!rule && !nodeStatic && needsValue(() => rule.infer(ctx));
      node.outputs.forEach((o) => {
        const v = probed.get(o)?.value;
        if (v && nodeStatic) values.set(o, v);
      });
      if (rule) costs[i] = nodeStatic ? { macs: 0, flops: 0 } : rule.cost?.(ctx, outs);
      else probedNodes.push(node);
    } else {
      unresolved.push({ node, reason: `impera has no shape rule for ${node.domain ? node.domain + '.' : ''}${node.opType}` });
      continue;
    }
    node.outputs.forEach((o, k) => {
      if (!o || !outs[k]) return;
      infos.set(o, outs[k]!);
      if (nodeStatic) isStatic.add(o);
      else if (!shapeOnly && (readsDataDependent || needsRunTimeValue || (node.domain === '' && DATA_DEPENDENT_SHAPE.has(node.opType)))) dataDependent.add(o);
    });
    if (nodeStatic && rule?.evaluate && !fromProbe && outs.every((o) => numel(o.shape) <= FOLD_LIMIT)) {
      try {
        rule.evaluate(ctx).forEach((v, k) => node.outputs[k] && values.set(node.outputs[k]!, v));
      } catch (e) {
        if (!(e instanceof NeedsValueError)) throw e;
      }
    }
  }
  return { infos, values, isStatic, costs, unresolved, probedNodes, dataDependent };
}

/** Whether a shape rule stops for a value it is not given (any other failure: it does not). */
function needsValue(infer: () => unknown): boolean {
  try {
    infer();
    return false;
  } catch (e) {
    return e instanceof NeedsValueError;
  }
}
