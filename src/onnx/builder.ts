/**
 * Building ONNX models in code: tests build tiny models with it, and later stages (backward graphs, codecs,
 * exit branches) emit ONNX through it.
 */
import { makeAttribute, type AttrValue } from './attributes.js';
import { DataType, dtypeFromName } from './dtype.js';
import { onnx } from './proto.js';
import { makeTensorProto, typedArrayFrom, type TypedArray } from './tensor.js';

export type Dim = number | string;

export function dtypeOf(dtype: DataType | string): DataType {
  if (typeof dtype !== 'string') return dtype;
  const dt = dtypeFromName(dtype);
  if (dt === undefined) throw new Error(`unknown element type '${dtype}'`);
  return dt;
}

export function valueInfo(name: string, dtype: DataType | string, shape?: readonly Dim[]): onnx.ValueInfoProto {
  const dims = shape?.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: dtypeOf(dtype), ...(dims ? { shape: { dim: dims } } : {}) } },
  });
}

export interface NodeOptions {
  name?: string;
  domain?: string;
  /** Output names, or how many outputs to generate names for (default 1). */
  outputs?: string[] | number;
}

export class ModelBuilder {
  private readonly nodes: onnx.NodeProto[] = [];
  private readonly inits: onnx.TensorProto[] = [];
  private readonly inputs: onnx.ValueInfoProto[] = [];
  private readonly outputs: onnx.ValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly options: { opset?: number; irVersion?: number; name?: string } = {}) {}

  private fresh(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  input(name: string, dtype: DataType | string, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  initializer(name: string, dtype: DataType | string, dims: readonly number[], values: TypedArray | readonly number[]): string {
    const dt = dtypeOf(dtype);
    const data = ArrayBuffer.isView(values) ? values : typedArrayFrom(dt, values);
    this.inits.push(makeTensorProto(name, dt, dims, data));
    return name;
  }

  /** A Constant node holding the values; returns its output name. */
  constant(dtype: DataType | string, dims: readonly number[], values: readonly number[], name?: string): string {
    const out = name ?? this.fresh('const');
    const dt = dtypeOf(dtype);
    this.node('Constant', [], { value: makeTensorProto(out, dt, dims, typedArrayFrom(dt, values)) }, { outputs: [out] });
    return out;
  }

  /** Add a node; returns its output names. */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string[] {
    const name = opts.name ?? this.fresh(`${opType.toLowerCase()}_`);
    const outputs = Array.isArray(opts.outputs) ? opts.outputs : Array.from({ length: opts.outputs ?? 1 }, (_, i) => (i === 0 ? `${name}_out` : `${name}_out${i}`));
    this.nodes.push(
      onnx.NodeProto.create({
        name,
        opType,
        domain: opts.domain ?? '',
        input: [...inputs],
        output: outputs,
        attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
      }),
    );
    return outputs;
  }

  /** Add a single-output node; returns the output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, opts: Omit<NodeOptions, 'outputs'> & { output?: string } = {}): string {
    return this.node(opType, inputs, attrs, { ...opts, ...(opts.output ? { outputs: [opts.output] } : {}) })[0]!;
  }

  output(name: string, dtype: DataType | string = DataType.FLOAT, shape?: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  build(): onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: this.options.irVersion ?? 8,
      producerName: 'impera',
      opsetImport: [{ domain: '', version: this.options.opset ?? 17 }],
      graph: {
        name: this.options.name ?? 'model',
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }
}
