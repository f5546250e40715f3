/**
 * The Open Inference Protocol's tensor data types (inference_rest.md, "Tensor Data Types"): their sizes, the ONNX
 * element types they stand for (Triton's model-configuration table: FP32 = ONNX FLOAT, BYTES = STRING, ...), and
 * the typed arrays that hold their elements. FP16 elements are held as raw 16-bit patterns, as impera's tensors do.
 */
import { DataType } from '../../onnx/dtype.js';
import type { TypedArray } from '../../onnx/tensor.js';

export const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;
export type Datatype = (typeof DATATYPES)[number];
/** Every data type but BYTES: fixed-size elements held in a typed array. */
export type NumericDatatype = Exclude<Datatype, 'BYTES'>;

type Ctor = { new (length: number): TypedArray; new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; BYTES_PER_ELEMENT: number };

const NUMERIC: Record<NumericDatatype, { onnx: DataType; ctor: Ctor }> = {
  BOOL: { onnx: DataType.BOOL, ctor: Uint8Array as unknown as Ctor },
  UINT8: { onnx: DataType.UINT8, ctor: Uint8Array as unknown as Ctor },
  UINT16: { onnx: DataType.UINT16, ctor: Uint16Array as unknown as Ctor },
  UINT32: { onnx: DataType.UINT32, ctor: Uint32Array as unknown as Ctor },
  UINT64: { onnx: DataType.UINT64, ctor: BigUint64Array as unknown as Ctor },
  INT8: { onnx: DataType.INT8, ctor: Int8Array as unknown as Ctor },
  INT16: { onnx: DataType.INT16, ctor: Int16Array as unknown as Ctor },
  INT32: { onnx: DataType.INT32, ctor: Int32Array as unknown as Ctor },
  INT64: { onnx: DataType.INT64, ctor: BigInt64Array as unknown as Ctor },
  FP16: { onnx: DataType.FLOAT16, ctor: Uint16Array as unknown as Ctor },
  FP32: { onnx: DataType.FLOAT, ctor: Float32Array as unknown as Ctor },
  FP64: { onnx: DataType.DOUBLE, ctor: Float64Array as unknown as Ctor },
};

export const isDatatype = (s: unknown): s is Datatype => typeof s === 'string' && (DATATYPES as readonly string[]).includes(s);

/** Bytes per element (BYTES: variable, 0 here). */
export const elementBytes = (d: Datatype): number => (d === 'BYTES' ? 0 : NUMERIC[d].ctor.BYTES_PER_ELEMENT);

export const onnxType = (d: Datatype): DataType => (d === 'BYTES' ? DataType.STRING : NUMERIC[d].onnx);

/** The protocol's name for an ONNX element type, or undefined when the protocol has none (bfloat16, float8, ...). */
export function datatypeOf(dt: DataType): Datatype | undefined {
  if (dt === DataType.STRING) return 'BYTES';
  return (Object.keys(NUMERIC) as NumericDatatype[]).find((d) => NUMERIC[d].onnx === dt);
}

/** A zeroed typed array of `count` elements. */
export const allocate = (d: NumericDatatype, count: number): TypedArray => new NUMERIC[d].ctor(count);

/** `count` elements read from little-endian bytes (copied, so the result is aligned and owns its buffer). */
export function fromBytes(d: NumericDatatype, bytes: Uint8Array, count: number): TypedArray {
  const out = allocate(d, count);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(0, out.byteLength));
  return out;
}

/** The little-endian bytes of a typed array (a view, no copy). */
export const asBytes = (data: TypedArray): Uint8Array => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
