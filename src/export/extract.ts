/**
 * Exporting a part (head, tail, or stage) as a standalone ONNX model: its nodes, only the initializers and
 * constants they need, the cut tensors as named inputs/outputs, opset and IR version preserved.
 *
 * Shape computations cross no cut (they are constants for a given input shape), but a tail may need one whose
 * source tensor lives in the head (ViT's Reshape targets hold the batch size read by Shape() in the head). The
 * part then rebuilds that Shape() from one of its own inputs' batch dim, so exported parts keep a dynamic batch.
 * Where that is impossible the part is exported for the analysed batch ("pinned") and says so.
 */
import { ImperaError } from '../errors.js';
import { symbolicShape, tensor, type Graph, type TensorFacts } from '../graph/graph.js';
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
}

const SHAPE_ONLY = new Set(['Shape', 'Size', 'EyeLike']);

class CannotKeepBatch extends Error {}

/** Collects the nodes and initializers a part needs, rebuilding Shape()/Size() of tensors it does not have. */
class PartBuilder {
  readonly nodes = new Set<number>();
  /** The nodes the part adds (rebuilt shape computations). */
  readonly added: Emitter;
  readonly initializers = new Map<string, TensorProto>();
  private readonly available: Set<string>;
  private batchVector: string | undefined;

  constructor(
    private readonly g: Graph,
    private readonly spec: PartSpec,
    private readonly dynamic: boolean,
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
      if (this.dynamic) this.rebuildShapeOf(producer.proto, tensor(this.g, source), name);
      else this.materialise(name, t);
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

  /** A 1-element int64 tensor holding the batch size, read from an input of the part. */
  private batch(): string {
    if (this.batchVector) return this.batchVector;
    for (const input of this.spec.inputs) {
      const scale = tensor(this.g, input).batchScale ?? [];
      const axis = scale.findIndex((k) => k > 0);
      if (axis < 0) continue;
      const shape = this.added.op('Shape', [input], {}, { output: 'impera/anchor_shape' });
      let b = this.added.op('Gather', [shape, this.constant([axis])], { axis: 0 }, { output: 'impera/batch_times_k' });
      if (scale[axis] !== 1) b = this.added.op('Div', [b, this.constant([scale[axis]!])], {}, { output: 'impera/batch' });
      this.batchVector = b;
      return b;
    }
    throw new CannotKeepBatch();
  }

  /** Emit nodes computing Shape(source) / Size(source) from the part's own batch. */
  private rebuildShapeOf(node: NodeProto, source: TensorFacts, out: string): void {
    const scale = source.batchScale ?? source.shape.map(() => 0);
    if (scale.some((k) => k < 0) || node.opType === 'EyeLike') throw new CannotKeepBatch();
    if (node.opType === 'Size') {
      const fixed = source.shape.reduce((p, d, i) => p * (scale[i]! > 0 ? scale[i]! : d), 1);
      const batchDims = scale.filter((k) => k > 0).length;
      if (batchDims > 1) throw new CannotKeepBatch();
      const vec = batchDims ? this.added.op('Mul', [this.batch(), this.constant([fixed])], {}, { output: `${out}/vec` }) : this.constant([fixed]);
      this.added.op('Reshape', [vec, this.constant([], [0])], {}, { output: out });
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
      if (scale[i] === 0) {
        run.push(source.shape[i]!);
        continue;
      }
      flush();
      pieces.push(scale[i] === 1 ? this.batch() : this.added.op('Mul', [this.batch(), this.constant([scale[i]!])], {}, { output: `${out}/dim${i}` }));
    }
    flush();
    if (pieces.length === 0) pieces.push(this.constant([]));
    this.added.op('Concat', pieces, { axis: 0 }, { output: out });
  }
}

function build(g: Graph, spec: PartSpec, dynamic: boolean): ExportedPart {
  const part = new PartBuilder(g, spec, dynamic);
  const original = g.proto;
  const nodes = [...part.added.nodes, ...g.order.filter((i) => part.nodes.has(i)).map((i) => g.nodes[i]!.proto as onnx.NodeProto)];
  const io = (n: string) => valueInfo(n, tensor(g, n).dtype, dynamic ? symbolicShape(g, n) : [...tensor(g, n).shape]);
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
  return { name: spec.name, proto, inputs: [...spec.inputs], outputs: [...spec.outputs], dynamicBatch: dynamic };
}

/** A standalone model for one part; keeps the batch dynamic whenever the graph allows it. */
export function extractPart(g: Graph, spec: PartSpec): ExportedPart {
  const canBeDynamic = !!g.batch && [...spec.inputs, ...spec.outputs].every((n) => tensor(g, n).batchScale?.every((k) => k >= 0));
  if (canBeDynamic) {
    try {
      return build(g, spec, true);
    } catch (e) {
      if (!(e instanceof CannotKeepBatch)) throw e;
    }
  }
  return build(g, spec, false);
}
