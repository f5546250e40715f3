/**
 * NumPy's .npy format (versions 1.0 to 3.0, C order), so gradients and inputs move between impera and any tool that
 * reads NumPy files. The format is a short text header (a Python dict literal) followed by the raw data.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ImperaError } from '../errors.js';
import { DataType, numel } from '../onnx/dtype.js';
import type { Tensor, TypedArray } from '../onnx/tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR: Partial<Record<number, string>> = {
  [DataType.FLOAT]: '<f4',
  [DataType.DOUBLE]: '<f8',
  [DataType.INT64]: '<i8',
  [DataType.INT32]: '<i4',
  [DataType.INT8]: '|i1',
  [DataType.UINT8]: '|u1',
  [DataType.BOOL]: '|b1',
  [DataType.FLOAT16]: '<f2',
};

const CTOR: Record<string, { dtype: DataType; make: (b: ArrayBuffer, o: number, n: number) => TypedArray; bytes: number }> = {
  '<f4': { dtype: DataType.FLOAT, make: (b, o, n) => new Float32Array(b, o, n), bytes: 4 },
  '<f8': { dtype: DataType.DOUBLE, make: (b, o, n) => new Float64Array(b, o, n), bytes: 8 },
  '<i8': { dtype: DataType.INT64, make: (b, o, n) => new BigInt64Array(b, o, n), bytes: 8 },
  '<i4': { dtype: DataType.INT32, make: (b, o, n) => new Int32Array(b, o, n), bytes: 4 },
  '|i1': { dtype: DataType.INT8, make: (b, o, n) => new Int8Array(b, o, n), bytes: 1 },
  '|u1': { dtype: DataType.UINT8, make: (b, o, n) => new Uint8Array(b, o, n), bytes: 1 },
  '|b1': { dtype: DataType.BOOL, make: (b, o, n) => new Uint8Array(b, o, n), bytes: 1 },
  '<f2': { dtype: DataType.FLOAT16, make: (b, o, n) => new Uint16Array(b, o, n), bytes: 2 },
};

export function encodeNpy(t: Tensor): Uint8Array {
  const descr = DESCR[t.dtype];
  if (!descr) throw new ImperaError('BAD_ARGUMENT', `cannot write element type ${t.dtype} as .npy`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // pad so magic (6) + version (2) + length (2) + header ends on a 64-byte boundary, newline last
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC);
  out.set([1, 0, header.length & 0xff, header.length >> 8], 6);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(data, 10 + header.length);
  return out;
}

/** The header's `shape` tuple as dims: each a non-negative integer, the whole a safe element count. */
function parseDims(shapeText: string, source: string): number[] {
  const parts = shapeText.split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.every((p) => /^\d+L?$/.test(p))) throw new ImperaError('BAD_ARGUMENT', `'${source}' has shape (${parts.join(', ')}): every dimension must be a non-negative integer`, 'save arrays with numpy.save');
  const dims = parts.map((p) => Number.parseInt(p, 10));
  if (!Number.isSafeInteger(numel(dims)) || dims.some((d) => !Number.isSafeInteger(d))) throw new ImperaError('BAD_ARGUMENT', `'${source}' has shape (${parts.join(', ')}): too many elements`);
  return dims;
}

export function decodeNpy(bytes: Uint8Array, source = 'array'): Tensor {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new ImperaError('BAD_ARGUMENT', `'${source}' is not a .npy file`, 'save arrays with numpy.save');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new ImperaError('BAD_ARGUMENT', `'${source}' is .npy format version ${major}; impera reads versions 1 to 3`, 'save arrays with numpy.save');
  if (major > 1 && bytes.length < 12) throw new ImperaError('BAD_ARGUMENT', `'${source}' is truncated: it ends inside the .npy header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [len, start] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  if (start + len > bytes.length) throw new ImperaError('BAD_ARGUMENT', `'${source}' is truncated: its header claims ${len} bytes but the file has ${bytes.length - start} after the header length`, 'save the array again with numpy.save');
  // no Buffer: the browser edge reads .npy files too
  const raw = bytes.subarray(start, start + len);
  const header = major === 3 ? new TextDecoder('utf-8', { ignoreBOM: true }).decode(raw) : Array.from(raw, (c) => String.fromCharCode(c)).join('');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) throw new ImperaError('BAD_ARGUMENT', `'${source}' has a .npy header without 'descr' and 'shape'`, 'save arrays with numpy.save');
  const spec = CTOR[descr];
  if (!spec) throw new ImperaError('BAD_ARGUMENT', `'${source}' holds ${descr}; impera reads float32/64, int8/32/64, uint8, bool and float16 arrays`);
  if (fortran) throw new ImperaError('BAD_ARGUMENT', `'${source}' is in Fortran order`, 'save it with numpy.ascontiguousarray');
  const dims = parseDims(shapeText, source);
  const n = numel(dims);
  const offset = start + len;
  if (bytes.length - offset < n * spec.bytes) throw new ImperaError('BAD_ARGUMENT', `'${source}' is truncated: shape (${dims}) needs ${n * spec.bytes} bytes of data`);
  // a fresh, aligned buffer holding only the data: `bytes` may be a view into a larger one (a Buffer from readFileSync)
  const data = new Uint8Array(n * spec.bytes);
  data.set(bytes.subarray(offset, offset + n * spec.bytes));
  return { dtype: spec.dtype, dims, data: spec.make(data.buffer, 0, n) };
}

export function readNpy(path: string): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new ImperaError('FILE_NOT_FOUND', `'${path}' does not exist or cannot be read`);
  }
  return decodeNpy(bytes, path);
}

export function writeNpy(path: string, t: Tensor): void {
  writeFileSync(path, encodeNpy(t));
}
