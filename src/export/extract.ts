/**
 * Exporting a part (head, tail, or stage) as a standalone ONNX model: its nodes, only the initializers and
 * constants they need, the cut tensors as named inputs/outputs, opset and IR version preserved.
 *
 * Shape computations cross no cut (they are constants for given input shapes), but a part may need one whose
 * source tensor lives in another part (ViT's Reshape targets hold the batch size read by Shape() in the head; a
 * text recognizer's hold the width of its feature map). The part then rebuilds that Shape() from its own inputs:
 * each dim of the source from an input dim that moved in proportion to it in every shape pass of the analysis
 * (graph/analyze.ts), so exported parts keep the model's dynamic dims (batch, height, width, length). A dynamic
 * dim a part cannot follow this way is kept at its analysed size ("pinned"), and the part says so.
 */
import { ImperaError } from '../errors.js';
import { followedDims, symbolicShape, tensor, type DynamicDim, type Graph, type TensorFacts } from '../graph/graph.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';
import { Emitter } from '../onnx/emitter.js';
import { onnx, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { makeTensorProto, typedArrayFrom } from '../onnx/tensor.js';

export interface PartSpec {
  name: string;
  /** Runtime nodes of the part. */
  nodes: ReadonlySet<number>;
  inputs: readonly string[];
  outputs: readonly string[];
}

export interface ExportedPart {
  name: string;
  proto: ModelProto;
  inputs: string[];
  outputs: string[];
  /** The batch dim stays symbolic; false when the part only runs at the analysed batch size. */
  dynamicBatch: boolean;
  /** Symbols of the model's dynamic input dims (graph.dynamicDims) the part keeps dynamic, the batch included. */
  dynamicDims: string[];
}

const SHAPE_ONLY = new Set(['Shape', 'Size', 'EyeLike']);

/** A dynamic dim the part cannot follow: no input of the part moves with it where a shape computation needs it. */
class CannotFollow extends Error {
  constructor(readonly symbol: string) {
    super(`cannot follow ${symbol}`);
  }
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Collects the nodes and initializers a part needs, rebuilding Shape()/Size() of tensors it does not have. */
class PartBuilder {
  readonly nodes = new Set<number>();
  /** The nodes the part adds (rebuilt shape computations). */
  readonly added: Emitter;
  readonly initializers = new Map<string, TensorProto>();
  private readonly available: Set<string>;
  /** 1-element int64 tensors already emitted, by `input:axis` (and `input` for its Shape). */
  private readonly emitted = new Map<string, string>();

  constructor(
    private readonly g: Graph,
    private readonly spec: PartSpec,
    /** The dynamic dims the part follows. */
    private readonly open: readonly DynamicDim[],
  ) {
    this.added = new Emitter(g.opsets.get('') ?? 1, 'impera');
    this.available = new Set([...spec.inputs, ...[...spec.nodes].flatMap((n) => g.nodes[n]!.outputs)]);
    for (const n of spec.nodes) this.addNode(n);
  }

  private addNode(i: number): void {
    if (this.nodes.has(i)) return;
    this.nodes.add(i);
    for (const r of this.g.nodes[i]!.reads) this.need(r);
  }

  /** Make tensor `name` available inside the part. */
  private need(name: string): void {
    if (this.available.has(name) || this.initializers.has(name)) return;
    const t = tensor(this.g, name);
    if (t.origin === 'initializer') {
      this.initializers.set(name, this.g.initializers.get(name)!);
      return;
    }
    if (!t.isStatic) {
      throw new Error(`part '${this.spec.name}' reads '${name}', which is neither its input nor computed inside it`);
    }
    const producer = this.g.nodes[t.producer]!;
    const source = producer.inputs[0] ?? '';
    if (SHAPE_ONLY.has(producer.opType) && !this.available.has(source) && !tensor(this.g, source).isStatic) {
      this.available.add(name);
      this.rebuildShapeOf(producer.proto, tensor(this.g, source), name, t);
      return;
    }
    this.addNode(t.producer);
  }

  private materialise(name: string, t: TensorFacts): void {
    if (!t.value) throw new ImperaError('INVALID_CUT', `part '${this.spec.name}' needs the value of '${name}', which impera could not compute`);
    this.initializers.set(name, makeTensorProto(name, t.dtype, t.value.dims, typedArrayFrom(t.dtype, t.value.data)));
  }

  private constant(values: readonly number[], shape: readonly number[] = [values.length]): string {
    return this.added.constantNode(DataType.INT64, shape, values);
  }

  /** A dim's size in the analysis, then in the second pass of each dynamic dim the part follows. */
  private trace(t: TensorFacts, axis: number): number[] {
    return [t.shape[axis]!, ...this.open.map((d) => t.shapeAt.get(d.symbol)![axis]!)];
  }

  /**
   * A 1-element int64 tensor holding dim `axis` of `source`, read from the input dim of the part that moved in
   * proportion to it in every pass (the same dim if there is one, else times p/q).
   */
  private dimOf(source: TensorFacts, axis: number): string {
    const want = this.trace(source, axis);
    const candidates = this.spec.inputs.flatMap((input) =>
      tensor(this.g, input).shape.flatMap((_, a) => {
        const have = this.trace(tensor(this.g, input), a);
        if (!(have[0]! > 0) || !want.every((w, k) => w * have[0]! === have[k]! * want[0]!)) return [];
        const c = gcd(want[0]!, have[0]!);
        return [{ input, axis: a, p: want[0]! / c, q: have[0]! / c }];
      }),
    );
    const rank = (r: { p: number; q: number }) => (r.p === r.q ? 0 : r.q === 1 ? 1 : 2);
    const best = candidates.sort((a, b) => rank(a) - rank(b))[0];
    if (!best) throw new CannotFollow(followedDims(source, axis, this.open)[0]!.symbol);
    const key = `${best.input}:${best.axis}`;
    let dim = this.emitted.get(key);
    if (!dim) {
      let shape = this.emitted.get(best.input);
      if (!shape) this.emitted.set(best.input, (shape = this.added.op('Shape', [best.input])));
      this.emitted.set(key, (dim = this.added.op('Gather', [shape, this.constant([best.axis])], { axis: 0 })));
    }
    if (best.p !== 1) dim = this.added.op('Mul', [dim, this.constant([best.p])]);
    if (best.q !== 1) dim = this.added.op('Div', [dim, this.constant([best.q])]);
    return dim;
  }

  /** Emit nodes computing Shape(source) / Size(source) from the part's own inputs; a constant when no dim moves. */
  private rebuildShapeOf(node: NodeProto, source: TensorFacts, out: string, t: TensorFacts): void {
    const moves = source.shape.map((_, i) => followedDims(source, i, this.open).length > 0);
    if (!moves.some(Boolean)) return this.materialise(out, t);
    if (node.opType === 'EyeLike') throw new CannotFollow(followedDims(source, moves.indexOf(true), this.open)[0]!.symbol);
    if (node.opType === 'Size') {
      const fixed = source.shape.reduce((p, d, i) => (moves[i] ? p : p * d), 1);
      const size = source.shape.reduce((p, _, i) => (moves[i] ? this.added.op('Mul', [p, this.dimOf(source, i)]) : p), this.constant([fixed]));
      this.added.op('Reshape', [size, this.constant([], [0])], {}, { output: out });
      return;
    }
    const rank = source.shape.length;
    const clamp = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
    const attr = (n: string) => node.attribute?.find((a) => a.name === n)?.i;
    const [start, end] = [clamp(Number(attr('start') ?? 0)), clamp(Number(attr('end') ?? rank))];
    const pieces: string[] = [];
    let run: number[] = [];
    const flush = () => {
      if (run.length) pieces.push(this.constant(run));
      run = [];
    };
    for (let i = start; i < end; i++) {
      if (!moves[i]) {
        run.push(source.shape[i]!);
        continue;
      }
      flush();
      pieces.push(this.dimOf(source, i));
    }
    flush();
    if (pieces.length === 0) pieces.push(this.constant([]));
    this.added.op('Concat', pieces, { axis: 0 }, { output: out });
  }
}

/**
 * The node with the output shapes its subgraphs declare (an If's branches) left out: their dim names are the
 * exporter's ('batch'), and ONNX Runtime binds them to a part's own dims of that name, which a part run on stacked
 * samples (several codecs at once) does not share. The types stay; the shapes are optional.
 */
function withoutSubgraphShapes(n: onnx.NodeProto): onnx.NodeProto {
  const graphs = (n.attribute ?? []).filter((a) => a.g || a.graphs?.length);
  if (!graphs.length) return n;
  const open = (g: onnx.IGraphProto): onnx.GraphProto =>
    onnx.GraphProto.create({ ...g, node: (g.node ?? []).map((x) => withoutSubgraphShapes(onnx.NodeProto.create(x))), output: (g.output ?? []).map((o) => onnx.ValueInfoProto.create({ ...o, type: { tensorType: { elemType: o.type?.tensorType?.elemType ?? 0 } } })) });
  const attribute = (n.attribute ?? []).map((a) => (a.g || a.graphs?.length ? onnx.AttributeProto.create({ ...a, ...(a.g ? { g: open(a.g) } : {}), ...(a.graphs?.length ? { graphs: a.graphs.map(open) } : {}) }) : a));
  return onnx.NodeProto.create({ ...n, attribute });
}

function build(g: Graph, spec: PartSpec, open: readonly DynamicDim[]): ExportedPart {
  const part = new PartBuilder(g, spec, open);
  const original = g.proto;
  const nodes = [...part.added.nodes, ...g.order.filter((i) => part.nodes.has(i)).map((i) => withoutSubgraphShapes(g.nodes[i]!.proto as onnx.NodeProto))];
  const fixed = new Set(g.dynamicDims.filter((d) => !open.includes(d)).map((d) => d.symbol));
  const io = (n: string) => valueInfo(n, tensor(g, n).dtype, symbolicShape(g, n, fixed));
  const proto = onnx.ModelProto.create({
    ...original,
    producerName: 'impera',
    producerVersion: '0.1.0',
    docString: `${spec.name} of ${original.graph?.name || 'model'} exported by impera`,
    metadataProps: [...(original.metadataProps ?? []), { key: 'impera.part', value: spec.name }, { key: 'impera.producer', value: `${original.producerName ?? ''} ${original.producerVersion ?? ''}`.trim() }],
    graph: {
      name: `${original.graph?.name || 'model'}_${spec.name}`,
      node: nodes,
      initializer: [...part.initializers.values()],
      input: spec.inputs.map(io),
      output: spec.outputs.map(io),
    },
  });
  const dynamicDims = open.map((d) => d.symbol);
  return { name: spec.name, proto, inputs: [...spec.inputs], outputs: [...spec.outputs], dynamicBatch: !!g.batch && dynamicDims.includes(g.batch.symbol), dynamicDims };
}

/**
 * A standalone model for one part; keeps every dynamic dim of the model dynamic that the part can follow, except
 * those in `fixed`. The batch stays dynamic only where every interface dim is k x batch or fixed.
 */
export function extractPart(g: Graph, spec: PartSpec, fixed: ReadonlySet<string> = new Set()): ExportedPart {
  const pinned = new Set(fixed);
  if (g.batch && ![...spec.inputs, ...spec.outputs].every((n) => tensor(g, n).batchScale?.every((k) => k >= 0))) pinned.add(g.batch.symbol);
  for (;;) {
    try {
      return build(g, spec, g.dynamicDims.filter((d) => d.probe !== undefined && !pinned.has(d.symbol)));
    } catch (e) {
      if (!(e instanceof CannotFollow)) throw e;
      pinned.add(e.symbol);
    }
  }
}
