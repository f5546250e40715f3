/** Tensor payloads: reading TensorProtos (inline, typed fields or external files) as typed arrays, and making them. */
import { closeSync, openSync, readSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ImperaError } from '../errors.js';
import { DataType, dtypeName, numel, tensorBytes } from './dtype.js';
import { onnx, type TensorProto } from './proto.js';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A dense tensor in memory. Float16/bfloat16 are held as their raw 16-bit patterns. */
export interface Tensor {
  dtype: DataType;
  dims: number[];
  data: TypedArray;
}

type ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; BYTES_PER_ELEMENT: number } & {
  new (length: number): TypedArray;
};

const CTORS: Partial<Record<number, ArrayCtor>> = {
  [DataType.FLOAT]: Float32Array as unknown as ArrayCtor,
  [DataType.DOUBLE]: Float64Array as unknown as ArrayCtor,
  [DataType.INT8]: Int8Array as unknown as ArrayCtor,
  [DataType.UINT8]: Uint8Array as unknown as ArrayCtor,
  [DataType.BOOL]: Uint8Array as unknown as ArrayCtor,
  [DataType.INT16]: Int16Array as unknown as ArrayCtor,
  [DataType.UINT16]: Uint16Array as unknown as ArrayCtor,
  [DataType.FLOAT16]: Uint16Array as unknown as ArrayCtor,
  [DataType.BFLOAT16]: Uint16Array as unknown as ArrayCtor,
  [DataType.INT32]: Int32Array as unknown as ArrayCtor,
  [DataType.UINT32]: Uint32Array as unknown as ArrayCtor,
  [DataType.INT64]: BigInt64Array as unknown as ArrayCtor,
  [DataType.UINT64]: BigUint64Array as unknown as ArrayCtor,
};

function ctorFor(dt: number, what: string): ArrayCtor {
  const ctor = CTORS[dt];
  if (!ctor) throw new ImperaError('INVALID_MODEL', `tensor '${what}' has element type ${dtypeName(dt)}, which impera cannot read as numbers`);
  return ctor;
}

export const isExternal = (t: TensorProto): boolean => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;

/** Where an external tensor's bytes live, per the ONNX external-data keys. */
export function externalLocation(t: TensorProto): { location: string; offset: number; length: number | undefined } {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' is stored externally but names no location`);
  const length = kv.has('length') ? Number(kv.get('length')) : undefined;
  return { location, offset: Number(kv.get('offset') ?? 0), length };
}

/** The raw little-endian bytes of a tensor stored as raw_data or in an external file (undefined for typed fields). */
export function tensorRawBytes(t: TensorProto, baseDir: string): Uint8Array | undefined {
  if (isExternal(t)) {
    const { location, offset, length } = externalLocation(t);
    const file = isAbsolute(location) ? location : join(baseDir, location);
    const expected = length ?? tensorBytes(t.dataType ?? 0, numel(t.dims ?? []));
    const out = new Uint8Array(expected);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      throw new ImperaError('FILE_NOT_FOUND', `external data file '${file}' of tensor '${t.name}' cannot be opened`, 'keep the .data file next to the .onnx file');
    }
    try {
      const n = readSync(fd, out, 0, expected, offset);
      if (n !== expected) throw new ImperaError('TRUNCATED_MODEL', `external data file '${file}' ends before tensor '${t.name}' (needs ${expected} bytes at offset ${offset}, got ${n})`);
    } finally {
      closeSync(fd);
    }
    return out;
  }
  return t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
}

/** Read a tensor's values. Views the model's bytes when aligned; copies otherwise. */
export function readTensor(t: TensorProto, baseDir = '.'): Tensor {
  const dtype = (t.dataType ?? 0) as DataType;
  const dims = (t.dims ?? []).map(Number);
  const count = numel(dims);
  const Ctor = ctorFor(dtype, t.name ?? '');
  const raw = tensorRawBytes(t, baseDir);
  if (raw) {
    const need = count * Ctor.BYTES_PER_ELEMENT;
    if (raw.byteLength < need) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' holds ${raw.byteLength} bytes but its shape [${dims}] needs ${need}`);
    // Buffer.slice is a view: copy explicitly when the payload is not aligned for the typed array
    const aligned = raw.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? raw : new Uint8Array(raw.subarray(0, need));
    return { dtype, dims, data: new Ctor(aligned.buffer, aligned.byteOffset, count) };
  }
  const data = new Ctor(count);
  const src: ArrayLike<number> =
    dtype === DataType.FLOAT ? (t.floatData ?? [])
    : dtype === DataType.DOUBLE ? (t.doubleData ?? [])
    : dtype === DataType.INT64 ? (t.int64Data ?? [])
    : dtype === DataType.UINT64 || dtype === DataType.UINT32 ? (t.uint64Data ?? [])
    : (t.int32Data ?? []);
  if (src.length < count) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' holds ${src.length} values but its shape [${dims}] needs ${count}`);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) for (let i = 0; i < count; i++) data[i] = BigInt(src[i]!);
  else for (let i = 0; i < count; i++) data[i] = src[i]!;
  return { dtype, dims, data };
}

/** Values as plain numbers (int64 beyond 2^53 loses precision: only used for shapes and small constants). */
export function toNumbers(data: TypedArray): number[] {
  return Array.from(data as ArrayLike<number | bigint>, Number);
}

/** A TensorProto holding `data` as raw little-endian bytes. */
export function makeTensorProto(name: string, dtype: DataType, dims: readonly number[], data: TypedArray): onnx.TensorProto {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({ name, dataType: dtype, dims: [...dims], rawData: bytes });
}

/** A typed array of `dtype` filled from plain numbers. */
export function typedArrayFrom(dtype: DataType, values: readonly number[]): TypedArray {
  const Ctor = ctorFor(dtype, 'constant');
  const out = new Ctor(values.length);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) values.forEach((v, i) => (out[i] = BigInt(Math.trunc(v))));
  else values.forEach((v, i) => ((out as Float32Array)[i] = v));
  return out;
}
