/** The IDX format of MNIST-style datasets (optionally gzipped): big-endian dims, then uint8 data. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ImperaError } from '../errors.js';
import { numel } from '../onnx/dtype.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new ImperaError('DATASET', `dataset file '${path}' cannot be read`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4 || view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new ImperaError('DATASET', `'${path}' is not an IDX file of unsigned bytes`);
  }
  const rank = bytes[3]!;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const n = numel(dims);
  if (bytes.byteLength < offset + n) throw new ImperaError('DATASET', `'${path}' is truncated: dims [${dims}] need ${n} bytes of data`);
  return { dims, data: bytes.subarray(offset, offset + n) };
}
