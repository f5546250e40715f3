/**
 * Tensor payloads: reading TensorProtos (inline, typed fields or external files) as typed arrays, and making them;
 * slicing a tensor along one axis (a batch that is not dim 0, such as an RNN state's [layers, batch, n]).
 */
import { constants } from 'node:buffer';
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, sep, win32 } from 'node:path';
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

/** The most bytes one tensor may hold: what a typed array can hold in this Node.js. */
export const MAX_TENSOR_BYTES = constants.MAX_LENGTH;
/** readSync reads at most 2^31 - 1 bytes per call: external tensors are read in chunks of this size. */
const READ_CHUNK = 2 ** 30;

/** Refuse a tensor too large to hold in memory before allocating it (allocating would throw a RangeError). */
function checkAllocatable(name: string | null | undefined, bytes: number): void {
  if (bytes > MAX_TENSOR_BYTES) {
    throw new ImperaError('INVALID_MODEL', `tensor '${name}' declares ${bytes} bytes, more than one tensor can hold in memory (${MAX_TENSOR_BYTES})`, 'check the model: its declared sizes are corrupt or too large');
  }
}

/** A tensor's element count from its dims, which must be non-negative integers. */
function elementCount(t: TensorProto): number {
  const dims = (t.dims ?? []).map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' has dims [${dims}], which are not all non-negative integers`, 'check the model: it is corrupt');
  return numel(dims);
}

/** An external-data offset or length: a decimal byte count (Number() would read '' as 0 and '1e3' as 1000). */
function byteCount(t: TensorProto, key: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' has external-data ${key} '${text}', which is not a byte count`, 'check the model: it is corrupt');
  return n;
}

/** Where an external tensor's bytes live, per the ONNX external-data keys. */
export function externalLocation(t: TensorProto): { location: string; offset: number; length: number | undefined } {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' is stored externally but names no location`);
  const length = kv.has('length') ? byteCount(t, 'length', kv.get('length')!) : undefined;
  return { location, offset: byteCount(t, 'offset', kv.get('offset') ?? '0'), length };
}

const leavesFolder = (relativePath: string): boolean => relativePath === '..' || relativePath.startsWith(`..${sep}`) || isAbsolute(relativePath);

/**
 * The file holding an external tensor's bytes. As the ONNX checker requires, its location is a relative path that
 * stays inside the model's folder once symlinks are resolved: otherwise a model could make impera read any file
 * the user can read, embed it in exported parts and serve it.
 */
function externalFile(t: TensorProto, baseDir: string): string {
  const { location } = externalLocation(t);
  const outside = () => new ImperaError('INVALID_MODEL', `tensor '${t.name}' keeps its data in '${location}', which is outside the model's folder`, "external data must be a relative path inside the model's folder");
  if (isAbsolute(location) || win32.isAbsolute(location) || leavesFolder(normalize(location))) throw outside();
  let file: string;
  let dir: string;
  try {
    dir = realpathSync(baseDir);
    file = realpathSync(join(baseDir, location));
  } catch {
    throw new ImperaError('FILE_NOT_FOUND', `external data file '${location}' of tensor '${t.name}' is missing`, `put '${location}' next to the model`);
  }
  if (leavesFolder(relative(dir, file))) throw outside();
  // a FIFO or device would block or never end; a folder cannot be read
  if (!statSync(file).isFile()) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' keeps its data in '${location}', which is not a regular file`, 'check the model: it is corrupt');
  return file;
}

/** An external tensor's bytes: where they are, checked to lie inside the file and to fit in memory. */
export interface ExternalExtent {
  file: string;
  offset: number;
  bytes: number;
}

/** Where an external tensor's bytes are, refusing locations outside the model's folder and extents past the file. */
export function externalExtent(t: TensorProto, baseDir: string): ExternalExtent {
  const { offset, length } = externalLocation(t);
  const file = externalFile(t, baseDir);
  const bytes = length ?? tensorBytes(t.dataType ?? 0, elementCount(t));
  checkAllocatable(t.name, bytes);
  const size = statSync(file).size;
  if (offset + bytes > size) throw new ImperaError('TRUNCATED_MODEL', `external data file '${file}' ends before tensor '${t.name}' (needs ${bytes} bytes at offset ${offset}, the file has ${size})`, 'download or export the model again');
  return { file, offset, bytes };
}

function readExternal(t: TensorProto, baseDir: string): Uint8Array {
  const { file, offset, bytes } = externalExtent(t, baseDir);
  const out = new Uint8Array(bytes);
  const fd = openSync(file, 'r');
  try {
    for (let at = 0; at < bytes; ) {
      const n = readSync(fd, out, at, Math.min(READ_CHUNK, bytes - at), offset + at);
      if (n === 0) throw new ImperaError('TRUNCATED_MODEL', `external data file '${file}' ends before tensor '${t.name}' (needs ${bytes} bytes at offset ${offset}, got ${at})`, 'download or export the model again');
      at += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The raw little-endian bytes of a tensor stored as raw_data or in an external file (undefined for typed fields). */
export function tensorRawBytes(t: TensorProto, baseDir: string): Uint8Array | undefined {
  if (isExternal(t)) return readExternal(t, baseDir);
  return t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
}

/** Read a tensor's values. Views the model's bytes when aligned; copies otherwise. */
export function readTensor(t: TensorProto, baseDir = '.'): Tensor {
  const dtype = (t.dataType ?? 0) as DataType;
  const dims = (t.dims ?? []).map(Number);
  const count = elementCount(t);
  const Ctor = ctorFor(dtype, t.name ?? '');
  const raw = tensorRawBytes(t, baseDir);
  if (raw) {
    const need = count * Ctor.BYTES_PER_ELEMENT;
    if (raw.byteLength < need) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' holds ${raw.byteLength} bytes but its shape [${dims}] needs ${need}`);
    // Buffer.slice is a view: copy explicitly when the payload is not aligned for the typed array
    const aligned = raw.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? raw : new Uint8Array(raw.subarray(0, need));
    return { dtype, dims, data: new Ctor(aligned.buffer, aligned.byteOffset, count) };
  }
  const src: ArrayLike<number> =
    dtype === DataType.FLOAT ? (t.floatData ?? [])
    : dtype === DataType.DOUBLE ? (t.doubleData ?? [])
    : dtype === DataType.INT64 ? (t.int64Data ?? [])
    : dtype === DataType.UINT64 || dtype === DataType.UINT32 ? (t.uint64Data ?? [])
    : (t.int32Data ?? []);
  if (src.length < count) throw new ImperaError('INVALID_MODEL', `tensor '${t.name}' holds ${src.length} values but its shape [${dims}] needs ${count}`);
  const data = new Ctor(count);
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

/** Entries [start, end) of `t` along `axis` (the batch axis of an RNN state is dim 1): a view when `axis` leads. */
export function sliceAlong(t: Tensor, axis: number, start: number, end: number): Tensor {
  const [outer, inner] = [numel(t.dims.slice(0, axis)), numel(t.dims.slice(axis + 1))];
  const size = t.dims[axis]!;
  const dims = t.dims.map((d, i) => (i === axis ? end - start : d));
  if (outer === 1) return { dtype: t.dtype, dims, data: t.data.subarray(start * inner, end * inner) as TypedArray };
  const data = new (t.data.constructor as new (n: number) => TypedArray)(outer * (end - start) * inner);
  for (let o = 0; o < outer; o++) (data as Float32Array).set(t.data.subarray((o * size + start) * inner, (o * size + end) * inner) as Float32Array, o * (end - start) * inner);
  return { dtype: t.dtype, dims, data };
}

/** `t` with dim `axis` moved to the front (out[n, o, i] = t[o, n, i]): samples first, for code that reads them by rows. */
export function axisFirst(t: Tensor, axis: number): Tensor {
  if (axis === 0) return t;
  const size = t.dims[axis]!;
  const rows = Array.from({ length: size }, (_, n) => sliceAlong(t, axis, n, n + 1).data);
  const data = new (t.data.constructor as new (n: number) => TypedArray)(t.data.length);
  rows.forEach((r, n) => (data as Float32Array).set(r as Float32Array, n * r.length));
  return { dtype: t.dtype, dims: [size, ...t.dims.filter((_, i) => i !== axis)], data };
}
