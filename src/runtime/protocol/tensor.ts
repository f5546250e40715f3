/**
 * Tensors as the Open Inference Protocol carries them, and their "data" in JSON (inference_rest.md, "Tensor
 * Data"): row-major, flat or nested arrays, one JSON value per element - numbers for numeric types, booleans for
 * BOOL, strings for BYTES. A tensor's element count must match its shape; integer elements must be integers in
 * range. FP16 has no JSON form the protocol fixes (the specification says so): impera refuses FP16 data in JSON
 * requests (send it as binary data) and writes FP16 outputs as the numbers they stand for.
 */
import { numel } from '../../onnx/dtype.js';
import type { Tensor, TypedArray } from '../../onnx/tensor.js';
import { allocate, datatypeOf, type Datatype, type NumericDatatype } from './datatypes.js';
import { ProtocolError } from './errors.js';

export type ParameterValue = string | number | boolean;
export type Parameters = Record<string, ParameterValue>;

export interface InferTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Numeric elements in a typed array, or one byte string per element for BYTES. */
  data: TypedArray | Uint8Array[];
  parameters?: Parameters;
}

/** An ONNX Runtime tensor as a protocol tensor (no copy); its element type must be one the protocol carries. */
export const inferTensor = (name: string, t: Tensor): InferTensor => ({ name, datatype: datatypeOf(t.dtype)!, shape: t.dims, data: t.data });

const INT_RANGE: Partial<Record<NumericDatatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Nested arrays flattened in row-major order (iteratively: hostile nesting cannot overflow the stack). */
function flatten(data: unknown, where: string): unknown[] {
  if (!Array.isArray(data)) throw new ProtocolError(400, `${where}.data must be an array of the tensor's elements`);
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const stack: [unknown[], number][] = [[data, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top[1] >= top[0].length) {
      stack.pop();
      continue;
    }
    const v = top[0][top[1]++];
    if (Array.isArray(v)) stack.push([v, 0]);
    else out.push(v);
  }
  return out;
}

/** A bad element for an error message: objects by kind only (stringifying hostile nesting would overflow the stack). */
const shown = (v: unknown): string => (v === null ? 'null' : typeof v === 'object' ? 'an object' : String(JSON.stringify(v)).slice(0, 40));

/** The elements of a JSON "data" field as the datatype's typed array (or byte strings for BYTES). */
export function dataFromJson(datatype: Datatype, shape: readonly number[], data: unknown, where: string): TypedArray | Uint8Array[] {
  const values = flatten(data, where);
  const count = numel(shape);
  if (values.length !== count) throw new ProtocolError(400, `${where}: shape [${shape.join(', ')}] has ${count} elements but data has ${values.length}`);
  const bad = (i: number, want: string) => new ProtocolError(400, `${where}.data[${i}] must be ${want}, got ${shown(values[i])}`);
  if (datatype === 'BYTES') {
    return values.map((v, i) => {
      if (typeof v !== 'string') throw bad(i, 'a string (BYTES elements are strings in JSON)');
      return new TextEncoder().encode(v);
    });
  }
  if (datatype === 'FP16') throw new ProtocolError(400, `${where}: FP16 data cannot be sent as JSON numbers`, 'send FP16 tensors as binary data (parameters.binary_data_size, Triton binary tensor extension)');
  const out = allocate(datatype, count);
  if (datatype === 'BOOL') {
    values.forEach((v, i) => {
      if (typeof v !== 'boolean') throw bad(i, 'true or false');
      out[i] = v ? 1 : 0;
    });
    return out;
  }
  const range = INT_RANGE[datatype];
  const big = datatype === 'INT64' || datatype === 'UINT64';
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw bad(i, 'a number');
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) throw bad(i, `an integer in [${range[0]}, ${range[1]}] (${datatype})`);
    out[i] = big ? BigInt(v) : v;
  }
  return out;
}

/** A half-precision bit pattern as the number it stands for. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A tensor's elements as a flat JSON array. */
export function dataToJson(t: InferTensor): (number | boolean | string)[] {
  if (t.datatype === 'BYTES') return (t.data as Uint8Array[]).map((b) => new TextDecoder().decode(b));
  const data = t.data as TypedArray;
  if (t.datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (t.datatype === 'FP16') return Array.from(data as Uint16Array, halfToNumber);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  return Array.from(data as Exclude<TypedArray, BigInt64Array | BigUint64Array>);
}
