/**
 * Building ONNX models in code: a model's inputs and outputs around the one node writer (emitter.ts). Tests
 * build tiny models with it, and so do the profiler's probes and the PCA fit.
 */
import { DataType, dtypeOf } from './dtype.js';
import { Emitter } from './emitter.js';
import { onnx } from './proto.js';

export type Dim = number | string;

export function valueInfo(name: string, dtype: DataType | string, shape?: readonly Dim[]): onnx.ValueInfoProto {
  const dims = shape?.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: dtypeOf(dtype), ...(dims ? { shape: { dim: dims } } : {}) } },
  });
}

export class ModelBuilder extends Emitter {
  private readonly inputs: onnx.ValueInfoProto[] = [];
  private readonly outputs: onnx.ValueInfoProto[] = [];

  constructor(private readonly options: { opset?: number; irVersion?: number; name?: string } = {}) {
    super(options.opset ?? 17, '');
  }

  input(name: string, dtype: DataType | string, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  output(name: string, dtype: DataType | string = DataType.FLOAT, shape?: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  build(): onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: this.options.irVersion ?? 8,
      producerName: 'impera',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: this.options.name ?? 'model',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }
}
