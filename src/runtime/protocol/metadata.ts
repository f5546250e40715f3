/** Protocol metadata of an ONNX model: its inputs and outputs with the protocol's data types; symbolic dims are -1. */
import { ImperaError } from '../../errors.js';
import { declaredShape } from '../../graph/input-shapes.js';
import { numel } from '../../onnx/dtype.js';
import type { ModelProto, ValueInfoProto } from '../../onnx/proto.js';
import { MAX_TENSOR_BYTES } from '../../onnx/tensor.js';
import { datatypeOf, elementBytes } from './datatypes.js';
import type { ModelMetadata, TensorMetadata } from './messages.js';

/** The platform name the protocol gives ONNX models run by ONNX Runtime (inference_rest.md, "Platforms"). */
export const ONNX_PLATFORM = 'onnx_onnxv1';

function tensorMetadata(v: ValueInfoProto, where: string): TensorMetadata {
  const elem = v.type?.tensorType?.elemType;
  const datatype = elem === undefined || elem === null ? undefined : datatypeOf(elem);
  if (!datatype) throw new ImperaError('BAD_REPOSITORY', `${where} '${v.name}' is not a tensor of a type the inference protocol carries`, 'serve models with numeric tensor inputs and outputs');
  const shape = declaredShape(v);
  if (!shape) throw new ImperaError('BAD_REPOSITORY', `${where} '${v.name}' has no declared shape`, 'export the model with input and output shapes');
  return { name: v.name!, datatype, shape: shape.map((d) => (typeof d === 'number' ? d : -1)) };
}

/** Bytes of one sample of an input (variable dims at 1): the server allocates this much to warm a model up. */
const sampleBytes = (t: TensorMetadata): number => elementBytes(t.datatype) * numel(t.shape.map((d) => (d === -1 ? 1 : d)));

/** Protocol metadata of an ONNX model: its graph inputs (initializers excluded) and outputs. */
export function modelMetadata(proto: ModelProto, name: string, version: string): ModelMetadata {
  const g = proto.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name)).map((v) => tensorMetadata(v, `model '${name}': input`));
  const huge = inputs.find((t) => sampleBytes(t) > MAX_TENSOR_BYTES);
  if (huge) throw new ImperaError('BAD_REPOSITORY', `model '${name}': input '${huge.name}' declares shape [${huge.shape.join(', ')}], ${sampleBytes(huge)} bytes per sample, more than a tensor can hold in memory (${MAX_TENSOR_BYTES})`, 'export the model with its real input shape');
  const bytesInput = inputs.find((t) => t.datatype === 'BYTES');
  if (bytesInput) throw new ImperaError('BAD_REPOSITORY', `model '${name}': input '${bytesInput.name}' is a string tensor, which impera does not serve`);
  return { name, versions: [version], platform: ONNX_PLATFORM, inputs, outputs: (g.output ?? []).map((v) => tensorMetadata(v, `model '${name}': output`)) };
}

