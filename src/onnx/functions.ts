/**
 * Model-local functions (ModelProto.functions) inlined into the graph at load, so that every command sees plain
 * ops: PyTorch's dynamo exporter writes a model as calls to onnxscript functions (`pkg.onnxscript.torch_lib`, ...)
 * and the TorchScript exporter does with `export_modules_as_functions`; a call left as one node would be opaque to
 * cuts, saliency, gradients, codecs and exported parts. Each call is replaced by its function's body: formal inputs
 * and outputs renamed to the call's, every other name made unique under the call's name (`Block_0/Conv_20`),
 * attribute references (`ref_attr_name`) resolved against the call's attributes or the function's defaults
 * (dropped when neither has one, as the spec says), calls inside bodies and subgraphs inlined the same way, and
 * the functions' opset imports merged into the model's. Where a function imports the default domain at another
 * version than the model, both are raised to the later one when `opset-upgrade.ts` says every node keeps its
 * meaning; otherwise, and for differing versions of other domains, the model is refused. A function's value_info
 * is not carried over (shapes are inferred again).
 */
import { ImperaError } from '../errors.js';
import { makeAttribute } from './attributes.js';
import { raiseNodes, upgradeBlocker } from './opset-upgrade.js';
import { onnx, type AttributeProto, type GraphProto, type ModelProto, type NodeProto } from './proto.js';

type FunctionProto = onnx.IFunctionProto;

const canonical = (domain: string | null | undefined): string => (!domain || domain === 'ai.onnx' ? '' : domain);
const functionKey = (domain: string | null | undefined, name: string | null | undefined, overload: string | null | undefined) => `${canonical(domain)}\u0000${name ?? ''}\u0000${overload ?? ''}`;
const subgraphs = (a: AttributeProto): GraphProto[] => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
const mapSubgraphs = (a: AttributeProto, graph: (g: GraphProto) => GraphProto): AttributeProto => ({ ...a, ...(a.g ? { g: graph(a.g) } : {}), graphs: (a.graphs ?? []).map(graph) });

/** Every name a graph and its subgraphs define or use: values and node names. */
function namesOf(g: GraphProto, into: Set<string>): Set<string> {
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) into.add(v.name ?? '');
  for (const t of g.initializer ?? []) into.add(t.name ?? '');
  for (const n of g.node ?? []) {
    for (const x of [n.name ?? '', ...(n.input ?? []), ...(n.output ?? [])]) into.add(x);
    for (const a of n.attribute ?? []) for (const sub of subgraphs(a)) namesOf(sub, into);
  }
  return into;
}

/** Names not yet used anywhere in the model: `base`, else `base_1`, `base_2`, ... */
class FreshNames {
  constructor(private readonly used: Set<string>) {}

  take(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }
}

/** The default-domain version each function body is written for, and the version the inlined model uses. */
interface Versions {
  readonly model: number;
  readonly byFunction: ReadonlyMap<string, number>;
}

class Inliner {
  private readonly functions: ReadonlyMap<string, FunctionProto>;

  constructor(
    functions: readonly FunctionProto[],
    private readonly fresh: FreshNames,
    private readonly versions: Versions,
  ) {
    this.functions = new Map(functions.map((f) => [functionKey(f.domain, f.name, f.overload), f]));
  }

  /** The nodes with every call to a local function replaced by its body, subgraphs included. */
  nodes(nodes: readonly NodeProto[], calling: readonly string[] = []): NodeProto[] {
    return nodes.flatMap((n, index) => {
      const key = functionKey(n.domain, n.opType, n.overload);
      const fn = this.functions.get(key);
      if (!fn) return [this.inSubgraphs(n, calling)];
      if (calling.includes(key)) throw new ImperaError('INVALID_MODEL', `model-local function '${fn.domain}::${fn.name}' calls itself (through ${calling.length} calls)`, 'export the model again; ONNX functions may not be recursive');
      return this.nodes(this.body(n, fn, n.name || `${n.opType}_${index}`), [...calling, key]);
    });
  }

  private inSubgraphs(n: NodeProto, calling: readonly string[]): NodeProto {
    if (!(n.attribute ?? []).some((a) => subgraphs(a).length)) return n;
    const graph = (g: GraphProto): GraphProto => ({ ...g, node: this.nodes(g.node ?? [], calling) });
    return { ...n, attribute: (n.attribute ?? []).map((a) => mapSubgraphs(a, graph)) };
  }

  /** The body of `fn` as called by `call`: names bound and made unique, attribute references resolved. */
  private body(call: NodeProto, fn: FunctionProto, prefix: string): NodeProto[] {
    const names = new Map<string, string>([['', '']]);
    (fn.input ?? []).forEach((formal, i) => names.set(formal, call.input?.[i] ?? ''));
    const passThrough: NodeProto[] = [];
    (fn.output ?? []).forEach((formal, i) => {
      const actual = call.output?.[i] || this.fresh.take(`${prefix}/${formal}`);
      // an output that is one of the inputs is no node's output in the body: an Identity writes it
      if (names.has(formal)) passThrough.push({ opType: 'Identity', name: this.fresh.take(`${prefix}/${formal}_identity`), input: [names.get(formal)!], output: [actual], attribute: [] });
      else names.set(formal, actual);
    });
    const rename = (name: string): string => names.get(name) ?? names.set(name, this.fresh.take(`${prefix}/${name}`)).get(name)!;
    const bound = new Map((call.attribute ?? []).map((a) => [a.name ?? '', a]));
    const defaults = new Map((fn.attributeProto ?? []).map((a) => [a.name ?? '', a]));
    const attribute = (a: AttributeProto): AttributeProto[] => {
      if (a.refAttrName) {
        const value = bound.get(a.refAttrName) ?? defaults.get(a.refAttrName);
        if (!value) return [];
        // the field left out, not emptied: a present ref_attr_name, even '', marks a reference
        const resolved: AttributeProto = { ...value, name: a.name };
        delete resolved.refAttrName;
        return [resolved];
      }
      return [subgraphs(a).length ? mapSubgraphs(a, graph) : a];
    };
    const node = (n: NodeProto): NodeProto => ({ ...n, name: this.fresh.take(`${prefix}/${n.name || n.opType}`), input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename), attribute: (n.attribute ?? []).flatMap(attribute) });
    const valueInfo = (v: onnx.IValueInfoProto) => ({ ...v, name: rename(v.name ?? '') });
    function graph(g: GraphProto): GraphProto {
      return { ...g, input: (g.input ?? []).map(valueInfo), output: (g.output ?? []).map(valueInfo), valueInfo: (g.valueInfo ?? []).map(valueInfo), initializer: (g.initializer ?? []).map((t) => ({ ...t, name: rename(t.name ?? '') })), node: (g.node ?? []).map(node) };
    }
    const from = this.versions.byFunction.get(functionKey(fn.domain, fn.name, fn.overload)) ?? this.versions.model;
    const nodes = from < this.versions.model ? raisedBody(fn, from, this.versions.model) : (fn.node ?? []);
    return [...nodes.map(node), ...passThrough];
  }
}

/** A function body raised to a later opset; what the rewrites read as initializers becomes Constant nodes (a body has no initializers). */
function raisedBody(fn: FunctionProto, from: number, to: number): NodeProto[] {
  const { nodes, initializers } = raiseNodes({ node: fn.node ?? [] }, from, to);
  return [...initializers.map((t) => ({ opType: 'Constant', name: `${t.name}_constant`, output: [t.name ?? ''], attribute: [makeAttribute('value', t)] })), ...nodes];
}

const versionOf = (imports: readonly onnx.IOperatorSetIdProto[] | null | undefined, domain: string): number | undefined => imports?.find((o) => canonical(o.domain) === domain)?.version ?? undefined;

/**
 * The opset imports of the inlined model: the model's and every function's, one version per domain. The default
 * domain takes the latest version any of them uses when each older body keeps its meaning there; another domain
 * imported at two versions is refused (impera knows no changelog for it).
 */
function mergedImports(model: ModelProto, source: string): { imports: { domain: string; version: number }[]; versions: Versions } {
  const modelDefault = versionOf(model.opsetImport, '') ?? 1;
  const functions = model.functions ?? [];
  const target = Math.max(modelDefault, ...functions.map((f) => versionOf(f.opsetImport, '') ?? modelDefault));
  const refuse = (what: string, why: string) => new ImperaError('INVALID_MODEL', `'${source}': ${what} ${why}, so its model-local functions cannot be inlined`, 'export the model with one opset version for every function');
  const blocked = (nodes: readonly NodeProto[], from: number) => (from < target ? upgradeBlocker({ node: [...nodes] }, from, target, () => undefined) : undefined);
  const mainWhy = blocked(model.graph?.node ?? [], modelDefault);
  if (mainWhy) throw refuse(`the model's graph (opset ${modelDefault}) cannot be raised to opset ${target}, the version its functions use:`, mainWhy);
  const byFunction = new Map<string, number>();
  for (const f of functions) {
    const from = versionOf(f.opsetImport, '') ?? target;
    const why = blocked(f.node ?? [], from);
    if (why) throw refuse(`function '${f.domain}::${f.name}' (opset ${from}) cannot be raised to opset ${target}:`, why);
    byFunction.set(functionKey(f.domain, f.name, f.overload), from);
  }
  const imports = new Map<string, number>([['', target]]);
  for (const o of [...(model.opsetImport ?? []), ...functions.flatMap((f) => f.opsetImport ?? [])]) {
    const domain = canonical(o.domain);
    if (domain === '') continue;
    const known = imports.get(domain);
    if (known !== undefined && known !== o.version) throw refuse(`domain '${domain}' is imported at opsets ${known} and ${o.version}`, 'by the model and its functions');
    imports.set(domain, Number(o.version ?? 1));
  }
  return { imports: [...imports].map(([domain, version]) => ({ domain, version })), versions: { model: target, byFunction } };
}

/** Domains some node of the graph or its subgraphs uses. */
function usedDomains(g: GraphProto, into: Set<string>): Set<string> {
  for (const n of g.node ?? []) {
    into.add(canonical(n.domain));
    for (const a of n.attribute ?? []) for (const sub of subgraphs(a)) usedDomains(sub, into);
  }
  return into;
}

/**
 * The model with its local functions inlined and `functions` emptied; the same object when it has none. Opset
 * imports of domains that only named functions are dropped; the default domain's is kept.
 */
export function inlineFunctions(model: ModelProto, source = 'model'): ModelProto {
  const functions = model.functions ?? [];
  if (functions.length === 0 || !model.graph) return model;
  const { imports, versions } = mergedImports(model, source);
  const fresh = new FreshNames(namesOf(model.graph, new Set()));
  const top = versions.model > (versionOf(model.opsetImport, '') ?? 1) ? raiseNodes(model.graph, versionOf(model.opsetImport, '') ?? 1, versions.model) : { nodes: model.graph.node ?? [], initializers: [] };
  const graph: GraphProto = { ...model.graph, node: new Inliner(functions, fresh, versions).nodes(top.nodes), initializer: [...(model.graph.initializer ?? []), ...top.initializers] };
  const functionDomains = new Set(functions.map((f) => canonical(f.domain)));
  const used = usedDomains(graph, new Set(['']));
  const opsetImport = imports.filter((o) => used.has(o.domain) || !functionDomains.has(o.domain));
  return onnx.ModelProto.create({ ...model, graph: graph as onnx.GraphProto, functions: [], opsetImport: opsetImport as onnx.OperatorSetIdProto[] });
}
