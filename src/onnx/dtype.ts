/** ONNX element types: names, sizes and the typed arrays that hold them. */
import { ImperaError } from '../errors.js';
import { onnx } from './proto.js';

export const DataType = onnx.TensorProto.DataType;
export type DataType = onnx.TensorProto.DataType;

interface DTypeInfo {
  name: string;
  bits: number;
}

const INFO: Record<number, DTypeInfo> = {
  [DataType.FLOAT]: { name: 'float32', bits: 32 },
  [DataType.UINT8]: { name: 'uint8', bits: 8 },
  [DataType.INT8]: { name: 'int8', bits: 8 },
  [DataType.UINT16]: { name: 'uint16', bits: 16 },
  [DataType.INT16]: { name: 'int16', bits: 16 },
  [DataType.INT32]: { name: 'int32', bits: 32 },
  [DataType.INT64]: { name: 'int64', bits: 64 },
  [DataType.STRING]: { name: 'string', bits: 0 },
  [DataType.BOOL]: { name: 'bool', bits: 8 },
  [DataType.FLOAT16]: { name: 'float16', bits: 16 },
  [DataType.DOUBLE]: { name: 'float64', bits: 64 },
  [DataType.UINT32]: { name: 'uint32', bits: 32 },
  [DataType.UINT64]: { name: 'uint64', bits: 64 },
  [DataType.COMPLEX64]: { name: 'complex64', bits: 64 },
  [DataType.COMPLEX128]: { name: 'complex128', bits: 128 },
  [DataType.BFLOAT16]: { name: 'bfloat16', bits: 16 },
  [DataType.FLOAT8E4M3FN]: { name: 'float8e4m3fn', bits: 8 },
  [DataType.FLOAT8E4M3FNUZ]: { name: 'float8e4m3fnuz', bits: 8 },
  [DataType.FLOAT8E5M2]: { name: 'float8e5m2', bits: 8 },
  [DataType.FLOAT8E5M2FNUZ]: { name: 'float8e5m2fnuz', bits: 8 },
  [DataType.UINT4]: { name: 'uint4', bits: 4 },
  [DataType.INT4]: { name: 'int4', bits: 4 },
  [DataType.FLOAT4E2M1]: { name: 'float4e2m1', bits: 4 },
  [DataType.FLOAT8E8M0]: { name: 'float8e8m0', bits: 8 },
};

export function dtypeName(dt: number): string {
  return INFO[dt]?.name ?? `dtype(${dt})`;
}

export function dtypeBits(dt: number): number {
  const info = INFO[dt];
  if (!info) throw new ImperaError('INVALID_MODEL', `unknown ONNX element type ${dt}`, 'check the model: it is corrupt or newer than impera');
  return info.bits;
}

export function dtypeFromName(name: string): DataType | undefined {
  for (const [k, v] of Object.entries(INFO)) if (v.name === name) return Number(k) as DataType;
  return undefined;
}

/** A data type given as an enum value or by name ('float32', 'int64', ...). */
export function dtypeOf(dtype: DataType | string): DataType {
  if (typeof dtype !== 'string') return dtype;
  const dt = dtypeFromName(dtype);
  if (dt === undefined) throw new Error(`unknown element type '${dtype}'`);
  return dt;
}

export const isFloatType = (dt: number): boolean =>
  dt === DataType.FLOAT || dt === DataType.FLOAT16 || dt === DataType.DOUBLE || dt === DataType.BFLOAT16;

/** Bytes of a dense tensor of `count` elements (sub-byte types packed, as ONNX stores them). */
export function tensorBytes(dt: number, count: number): number {
  return Math.ceil((dtypeBits(dt) * count) / 8);
}

/** Elements of a tensor of this shape (1 for a scalar). */
export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The element types a cut tensor is commonly sent as, for the bytes-on-the-wire columns. */
export const WIRE_DTYPES = ['float32', 'float16', 'int8'] as const;
export type WireDType = (typeof WIRE_DTYPES)[number];
export const WIRE_BITS: Record<WireDType, number> = { float32: 32, float16: 16, int8: 8 };
