/**
 * The model specialised to what the analysis knows: inputs given a value (`--input-value sr=16000`) become
 * constants, and an `If` whose condition is then a known constant (from those values, other constants or the
 * analysed shapes) is replaced by the nodes of the branch it takes. Models that put their whole network inside one
 * `If` on a sample rate (Silero VAD) can then be cut; the analysed, cut and exported model is this specialised one.
 */
import { ImperaError } from '../errors.js';
import { DataType, dtypeName, isFloatType, numel } from '../onnx/dtype.js';
import { onnx, type GraphProto, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { makeTensorProto, typedArrayFrom } from '../onnx/tensor.js';
import { declaredShape } from './input-shapes.js';
import type { PassResult } from './infer.js';
import { SHAPE_ONLY } from './infer.js';
import type { GraphStructure } from './structure.js';

/** Inputs bound to values: each becomes an initializer of the input's type and shape (`shapes` fills dynamic dims). */
export function bindInputValues(proto: ModelProto, values: Readonly<Record<string, readonly number[]>>, shapes: Readonly<Record<string, readonly number[]>> = {}): ModelProto {
  const names = Object.keys(values);
  if (names.length === 0) return proto;
  const g = proto.graph!;
  const initializers = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !initializers.has(v.name));
  const bound = names.map((name) => {
    const v = inputs.find((i) => i.name === name);
    if (!v) throw new ImperaError('BAD_ARGUMENT', `--input-value names '${name}', which is not an input of the model (inputs: ${inputs.map((i) => i.name).join(', ')})`);
    const dtype = (v.type?.tensorType?.elemType ?? 0) as DataType;
    const dims = shapes[name] ?? declaredShape(v);
    if (!dims || dims.some((d) => typeof d !== 'number')) throw new ImperaError('BAD_ARGUMENT', `input '${name}' has dynamic dims, so its value's shape is unknown`, `give its shape too: --input-shape ${name}=d1,d2,...`);
    const given = values[name]!;
    const count = numel(dims as number[]);
    if (given.length !== count) throw new ImperaError('BAD_ARGUMENT', `input '${name}' is [${dims.join(', ')}] (${count} value${count > 1 ? 's' : ''}), --input-value gives ${given.length}`);
    if ([DataType.FLOAT16, DataType.BFLOAT16, DataType.STRING].includes(dtype)) throw new ImperaError('BAD_ARGUMENT', `input '${name}' is ${dtypeName(dtype)}; --input-value takes numeric inputs of 32 or more bits, bool and 8/16-bit integers`);
    if (!isFloatType(dtype) && given.some((x) => !Number.isInteger(x))) throw new ImperaError('BAD_ARGUMENT', `input '${name}' is ${dtypeName(dtype)}; --input-value gives ${given.join(',')}, which are not all integers`);
    return makeTensorProto(name, dtype, dims as number[], typedArrayFrom(dtype, [...given]));
  });
  // before IR 4 every initializer must also be listed as an input (then it is an input with a default)
  const keepInputs = Number(proto.irVersion ?? 0) < 4;
  const graph = { ...g, initializer: [...(g.initializer ?? []), ...bound], input: keepInputs ? g.input : (g.input ?? []).filter((v) => !(v.name! in values)) };
  return onnx.ModelProto.create({ ...proto, graph: graph as onnx.IGraphProto });
}

/** Most elements an input that selects a branch holds (a sample rate, a few flags); anything larger is data. */
const CONTROL_ELEMENTS = 16;

/** Whether an input is declared with fixed dims and at most CONTROL_ELEMENTS elements. */
function isSmallInput(v: GraphStructure['inputs'][number]): boolean {
  const dims = declaredShape(v);
  return !!dims && dims.every((d): d is number => typeof d === 'number') && numel(dims) <= CONTROL_ELEMENTS;
}

/**
 * Small graph inputs whose values decide an `If` (its condition depends on them through the graph, not through
 * their shapes): data is asked for their values, which the analysis then binds. An If on the data itself (a
 * scripted PyTorch model's `if y.mean() > 0.1` on its image) is no such input's: it stays in the model.
 */
export function controlInputs(s: GraphStructure): string[] {
  const inputs = new Set(s.inputs.filter(isSmallInput).map((v) => v.name!));
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = s.nodes.filter((n) => n.opType === 'If' && n.domain === '').map((n) => n.inputs[0]!);
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (inputs.has(v)) found.add(v);
    const p = s.values.get(v)?.producer ?? -1;
    if (p >= 0 && !SHAPE_ONLY.has(s.nodes[p]!.opType)) stack.push(...s.nodes[p]!.reads);
  }
  return [...found];
}

/** Per live top-level `If` whose condition every pass knows and agrees on: whether it takes its then branch. */
export function knownBranches(s: GraphStructure, passes: readonly PassResult[]): Map<number, boolean> {
  const taken = new Map<number, boolean>();
  for (const n of s.nodes) {
    if (n.opType !== 'If' || n.domain !== '' || !s.live[n.index]) continue;
    const conds = passes.map((p) => p.values.get(n.inputs[0]!)?.data[0]);
    if (conds.every((c) => c !== undefined) && new Set(conds.map((c) => c !== 0)).size === 1) taken.set(n.index, conds[0] !== 0);
  }
  return taken;
}

/** Every value and node name in a graph and its subgraphs. */
function namesIn(g: GraphProto, into = new Set<string>()): Set<string> {
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) into.add(v.name ?? '');
  for (const t of g.initializer ?? []) into.add(t.name ?? '');
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) into.add(o);
    if (n.name) into.add(n.name);
    for (const a of n.attribute ?? []) for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) namesIn(sub, into);
  }
  return into;
}

const renamed = (names: readonly string[] | null | undefined, map: ReadonlyMap<string, string>): string[] => (names ?? []).map((x) => map.get(x) ?? x);

/** A node with value names renamed, in its subgraphs too (ONNX forbids shadowing, so a name means one value). */
function renameNode(n: NodeProto, map: ReadonlyMap<string, string>, name = n.name): NodeProto {
  const attribute = (n.attribute ?? []).map((a) => (a.g || a.graphs?.length ? onnx.AttributeProto.create({ ...a, ...(a.g ? { g: renameGraph(a.g, map) } : {}), ...(a.graphs?.length ? { graphs: a.graphs.map((x) => renameGraph(x, map)) } : {}) }) : a));
  return onnx.NodeProto.create({ ...n, name, input: renamed(n.input, map), output: renamed(n.output, map), attribute });
}

function renameGraph(g: GraphProto, map: ReadonlyMap<string, string>): GraphProto {
  const v = (x: onnx.IValueInfoProto) => onnx.ValueInfoProto.create({ ...x, name: map.get(x.name ?? '') ?? x.name });
  return onnx.GraphProto.create({ ...g, node: (g.node ?? []).map((n) => renameNode(n, map)), output: (g.output ?? []).map(v), valueInfo: (g.valueInfo ?? []).map(v) });
}

/**
 * The model with each `If` of `taken` (node index -> then?) replaced by its branch's nodes: values the branch
 * computes as its outputs are renamed to the If's outputs (an Identity where a branch output is an outer value or a
 * constant), branch initializers join the graph's, and names that would clash with the rest of the model get a suffix.
 */
export function inlineBranches(proto: ModelProto, taken: ReadonlyMap<number, boolean>): ModelProto {
  const g = proto.graph!;
  const outside = onnx.GraphProto.create({ ...g, node: (g.node ?? []).map((n, i) => (taken.has(i) ? onnx.NodeProto.create({ ...n, attribute: [] }) : n)) });
  const used = namesIn(outside);
  const fresh = (base: string): string => {
    let k = 1;
    while (used.has(`${base}_${k}`)) k++;
    used.add(`${base}_${k}`);
    return `${base}_${k}`;
  };
  const claim = (name: string): string => (used.has(name) ? fresh(name) : (used.add(name), name));
  const node: NodeProto[] = [];
  const initializer = [...(g.initializer ?? [])];
  const valueInfo = [...(g.valueInfo ?? [])];
  (g.node ?? []).forEach((n, i) => {
    const then = taken.get(i);
    if (then === undefined) return node.push(n);
    const branch = (n.attribute ?? []).find((a) => a.name === (then ? 'then_branch' : 'else_branch'))!.g!;
    const computed = new Set((branch.node ?? []).flatMap((b) => b.output ?? []));
    const outs = (branch.output ?? []).map((o) => o.name!);
    const map = new Map<string, string>();
    outs.forEach((b, k) => {
      if (computed.has(b) && outs.indexOf(b) === k && n.output![k]) map.set(b, n.output![k]!);
    });
    for (const d of [...computed, ...(branch.initializer ?? []).map((t) => t.name!)]) if (!map.has(d)) map.set(d, claim(d));
    initializer.push(...(branch.initializer ?? []).map((t) => onnx.TensorProto.create({ ...t, name: map.get(t.name!) })));
    valueInfo.push(...renameGraph(onnx.GraphProto.create({ valueInfo: branch.valueInfo ?? [] }), map).valueInfo!);
    for (const b of branch.node ?? []) node.push(renameNode(b, map, b.name ? claim(b.name) : b.name));
    outs.forEach((b, k) => {
      const o = n.output![k];
      if (o && map.get(b) !== o) node.push(onnx.NodeProto.create({ opType: 'Identity', name: fresh(`${n.name || 'If'}_out`), input: [map.get(b) ?? b], output: [o] }));
    });
  });
  return onnx.ModelProto.create({ ...proto, graph: { ...g, node, initializer, valueInfo } as onnx.IGraphProto });
}
