/**
 * HTTP bodies of inference requests and responses: a JSON object whose "inputs" (or "outputs") carry tensors, each
 * either as JSON "data" or, with Triton's binary tensor data extension (extension_binary_data.md), as raw bytes
 * after the JSON: the tensor's `parameters.binary_data_size` says how many, in the order the tensors are listed,
 * and the `Inference-Header-Content-Length` header says where the JSON ends. Binary data is little-endian,
 * row-major, without padding; BOOL is one byte (0 or 1); a BYTES element is a 4-byte little-endian length
 * followed by its bytes.
 *
 * Requests and responses share this layout, so one encoder and one decoder serve the server and the client.
 */
import { z } from 'zod';
import { zodMessage } from '../../util/config.js';
import { numel } from '../../onnx/dtype.js';
import type { TypedArray } from '../../onnx/tensor.js';
import { asBytes, elementBytes, fromBytes, isDatatype, type Datatype, type NumericDatatype } from './datatypes.js';
import { ProtocolError } from './errors.js';
import { checkJsonLimits, JSON_LIMITS, UTF8, type JsonLimits } from './limits.js';
import { dataFromJson, dataToJson, type InferTensor, type Parameters } from './tensor.js';

export const HEADER_LENGTH = 'inference-header-content-length';
export const BINARY_SIZE = 'binary_data_size';

export const parametersSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

const tensorSchema = z.object({
  name: z.string().min(1, 'name must not be empty'),
  shape: z.array(z.number().int('shape dims must be integers').nonnegative('shape dims must be >= 0')),
  datatype: z.string(),
  parameters: parametersSchema.optional(),
  data: z.unknown().optional(),
});

/** A body ready to send: the JSON header, then each binary tensor's bytes. */
export interface EncodedBody {
  chunks: Uint8Array[];
  /** Bytes of JSON at the start: set when binary data follows (the Inference-Header-Content-Length value). */
  headerLength: number | undefined;
  byteLength: number;
}

/** The bytes a tensor takes as binary data. */
export function tensorBinary(t: InferTensor): Uint8Array[] {
  if (t.datatype !== 'BYTES') return [asBytes(t.data as TypedArray)];
  return (t.data as Uint8Array[]).flatMap((b) => {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, b.length, true);
    return [length, b];
  });
}

const binaryLength = (parts: readonly Uint8Array[]): number => parts.reduce((s, p) => s + p.length, 0);

/**
 * Encode `fields` plus the tensors under `key`; tensors for which `binary` is true go as binary data. Without
 * any binary tensor the body is plain JSON (headerLength undefined).
 */
export function encodeBody(fields: Record<string, unknown>, key: 'inputs' | 'outputs', tensors: readonly InferTensor[], binary: (t: InferTensor) => boolean): EncodedBody {
  const payloads: Uint8Array[] = [];
  const described = tensors.map((t) => {
    const head = { name: t.name, shape: t.shape, datatype: t.datatype };
    if (!binary(t)) return { ...head, ...(t.parameters ? { parameters: t.parameters } : {}), data: dataToJson(t) };
    const parts = tensorBinary(t);
    payloads.push(...parts);
    return { ...head, parameters: { ...t.parameters, [BINARY_SIZE]: binaryLength(parts) } };
  });
  const json = new TextEncoder().encode(JSON.stringify({ ...fields, [key]: described }));
  const chunks = [json, ...payloads];
  return { chunks, headerLength: payloads.length ? json.length : undefined, byteLength: binaryLength(chunks) };
}

/** The Inference-Header-Content-Length header as a number (undefined when absent). */
export function parseHeaderLength(value: string | string[] | undefined, bodyLength: number): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value[0]! : value;
  const n = /^\d{1,15}$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new ProtocolError(400, `Inference-Header-Content-Length must be a byte count, got '${text.slice(0, 40)}'`);
  if (n > bodyLength) throw new ProtocolError(400, `Inference-Header-Content-Length is ${n} but the body has only ${bodyLength} bytes`);
  return n;
}

/** Parse a JSON object from bytes; malformed JSON is a 400 naming where parsing stopped. */
export function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(bytes));
  } catch (e) {
    throw new ProtocolError(400, `${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError(400, `${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** BYTES elements from binary data: each a 4-byte little-endian length, then the bytes. */
function bytesElements(bytes: Uint8Array, count: number, where: string): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (out.length < count) {
    if (at + 4 > bytes.length) throw new ProtocolError(400, `${where}: binary data holds ${out.length} BYTES elements, the shape needs ${count}`);
    const n = view.getUint32(at, true);
    if (at + 4 + n > bytes.length) throw new ProtocolError(400, `${where}: BYTES element ${out.length} claims ${n} bytes but only ${bytes.length - at - 4} remain`);
    out.push(bytes.slice(at + 4, at + 4 + n));
    at += 4 + n;
  }
  if (at !== bytes.length) throw new ProtocolError(400, `${where}: binary data has ${bytes.length - at} bytes after the last BYTES element`);
  return out;
}

/** A tensor's data from its binary bytes, checked against its shape and datatype. */
export function dataFromBinary(datatype: Datatype, shape: readonly number[], bytes: Uint8Array, where: string): TypedArray | Uint8Array[] {
  const count = numel(shape);
  if (datatype === 'BYTES') return bytesElements(bytes, count, where);
  const expected = count * elementBytes(datatype);
  if (bytes.length !== expected) {
    throw new ProtocolError(400, `${where}: binary_data_size is ${bytes.length} bytes but ${datatype} [${shape.join(', ')}] takes ${expected}`);
  }
  const data = fromBytes(datatype as NumericDatatype, bytes, count);
  if (datatype === 'BOOL' && (data as Uint8Array).some((v) => v > 1)) throw new ProtocolError(400, `${where}: BOOL binary data must be bytes 0 or 1`);
  return data;
}

/** A tensor object of a JSON header (its binary data, if any, still to attach). */
interface TensorHeader {
  name: string;
  shape: number[];
  datatype: Datatype;
  parameters?: Parameters;
  data?: unknown;
  binarySize?: number;
}

function tensorHeader(value: unknown, where: string): TensorHeader {
  const parsed = tensorSchema.safeParse(value);
  if (!parsed.success) throw new ProtocolError(400, zodMessage(where, parsed.error));
  const t = parsed.data;
  if (!isDatatype(t.datatype)) throw new ProtocolError(400, `${where}.datatype: '${t.datatype}' is not a protocol data type`, 'use one of BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES');
  if (!Number.isSafeInteger(numel(t.shape))) throw new ProtocolError(400, `${where}.shape: [${t.shape.join(', ')}] has too many elements`);
  const { [BINARY_SIZE]: size, ...parameters } = t.parameters ?? {};
  if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)) throw new ProtocolError(400, `${where}.parameters.${BINARY_SIZE} must be a byte count`);
  if (size !== undefined && t.data !== undefined) throw new ProtocolError(400, `${where} has both data and ${BINARY_SIZE}`, 'send a tensor either as JSON data or as binary data');
  if (size === undefined && t.data === undefined) throw new ProtocolError(400, `${where} has no data`, `give data, or parameters.${BINARY_SIZE} with the bytes after the JSON`);
  return { name: t.name, shape: t.shape, datatype: t.datatype, ...(Object.keys(parameters).length ? { parameters } : {}), ...(t.data !== undefined ? { data: t.data } : {}), ...(size !== undefined ? { binarySize: size as number } : {}) };
}

/** A body split into its JSON object (tensors under `key` still undecoded) and the binary data after it. */
export interface SplitBody {
  fields: Record<string, unknown>;
  list: unknown[];
  binary: Uint8Array;
}

/** The JSON up to `headerLength` (the whole body when undefined), within `limits`, and the bytes after it. */
export function splitBody(body: Uint8Array, headerLength: number | undefined, key: 'inputs' | 'outputs', limits: JsonLimits = JSON_LIMITS): SplitBody {
  const jsonLength = headerLength ?? body.length;
  checkJsonLimits(body.subarray(0, jsonLength), limits);
  const { [key]: list, ...fields } = parseJsonObject(body.subarray(0, jsonLength), 'the JSON object');
  if (!Array.isArray(list)) throw new ProtocolError(400, `"${key}" must be an array of tensors`);
  return { fields, list, binary: body.subarray(jsonLength) };
}

/** The tensors of a split body: binary data in tensor order, the sizes adding up to exactly the bytes there are. */
export function decodeTensors({ list, binary }: Pick<SplitBody, 'list' | 'binary'>, key: 'inputs' | 'outputs'): InferTensor[] {
  let at = 0;
  const tensors = list.map((value, i): InferTensor => {
    const where = `${key}[${i}]`;
    const h = tensorHeader(value, where);
    const base = { name: h.name, datatype: h.datatype, shape: h.shape, ...(h.parameters ? { parameters: h.parameters } : {}) };
    if (h.binarySize === undefined) return { ...base, data: dataFromJson(h.datatype, h.shape, h.data, where) };
    if (at + h.binarySize > binary.length) {
      throw new ProtocolError(400, `${where}.parameters.${BINARY_SIZE} is ${h.binarySize} but only ${binary.length - at} bytes of binary data remain`, 'the Inference-Header-Content-Length header and the binary sizes must add up to the body length');
    }
    const bytes = binary.subarray(at, at + h.binarySize);
    at += h.binarySize;
    return { ...base, data: dataFromBinary(h.datatype, h.shape, bytes, where) };
  });
  if (at !== binary.length) {
    throw new ProtocolError(400, `the body has ${binary.length} bytes of binary data after the JSON but the tensors' ${BINARY_SIZE} add up to ${at}`, 'check the Inference-Header-Content-Length header');
  }
  return tensors;
}

/** Concatenate an encoded body into one buffer. */
export const joinBody = (b: EncodedBody): Buffer => Buffer.concat(b.chunks, b.byteLength);
