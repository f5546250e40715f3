/**
 * A model as the server serves it: its protocol metadata read from the ONNX graph (symbolic dims are -1), how it
 * may be batched, and - when it is a tail that starts by decoding a codec - the codec's wire format, so a client
 * may send the packed bytes of codecs/wire.ts instead of the wire tensors (extension "impera_wire").
 */
import { numel } from '../../onnx/dtype.js';
import { constants, brotliDecompressSync, inflateRawSync } from 'node:zlib';
import { decodeWire } from '../../codecs/wire.js';
import type { FittedCodec } from '../../codecs/fitted.js';
import { wireName } from '../../export/codec.js';
import { isImperaError } from '../../errors.js';
import { allocate, elementBytes, type NumericDatatype } from '../protocol/datatypes.js';
import { ProtocolError } from '../protocol/errors.js';
import { PACKED_WIRE_INPUT } from '../protocol/extensions.js';
import type { ModelMetadata } from '../protocol/messages.js';
import { type InferTensor } from '../protocol/tensor.js';


export interface ServedModel {
  name: string;
  version: string;
  /** The .onnx file the workers load. */
  file: string;
  metadata: ModelMetadata;
  /** Largest batch a request (or a dynamic batch) may have; 1 when the model cannot be batched. */
  maxBatch: number;
  /** Dynamic batching: the longest a request waits for others (ms); undefined: off. */
  batchDelayMs?: number;
  /** The codec whose packed bytes the model accepts in place of its wire tensors. */
  wire?: FittedCodec;
}

/** Does the codec's wire format produce exactly these model inputs? */
export function codecFits(meta: ModelMetadata, codec: FittedCodec): boolean {
  return codec.tensors.length === meta.inputs.length && codec.tensors.every((t) => {
    const input = meta.inputs.find((m) => m.name === wireName(t.tensor));
    return !!input && numel(input.shape.slice(1)) === t.wireElements;
  });
}

/** The largest packed sample the codec can produce (bounds decompression of hostile input). */
function maxPackedBytes(codec: FittedCodec): number {
  return codec.tensors.reduce((s, t) => s + 10 + Math.ceil(t.wireElements / 8) + t.wireElements * (t.quant ? Math.ceil(t.quant.bits / 8) : t.fp16 ? 2 : 4), 0);
}

/** One sample's bytes back to wire tensors, with decompression bounded by what the codec can produce. */
function unpackSample(codec: FittedCodec, bytes: Uint8Array): ReturnType<typeof decodeWire> {
  const entropy = codec.spec.entropy;
  if (!entropy) return decodeWire(codec, bytes);
  const maxOutputLength = maxPackedBytes(codec);
  let raw: Uint8Array;
  if (entropy === 'deflate') raw = inflateRawSync(bytes, { maxOutputLength });
  else if (entropy === 'brotli') raw = brotliDecompressSync(bytes, { maxOutputLength, params: { [constants.BROTLI_PARAM_SIZE_HINT]: maxOutputLength } });
  else return decodeWire(codec, bytes); // zstd: Node's zlib gives no output bound
  return decodeWire({ ...codec, spec: { ...codec.spec, entropy: undefined } }, raw);
}

/**
 * Replace the packed input by the model's wire tensors: element n of the BYTES tensor is sample n's bytes. Any
 * failure to decode is the client's fault (400).
 */
export function unpackWireInput(model: ServedModel, packed: InferTensor): InferTensor[] {
  const codec = model.wire!;
  if (packed.datatype !== 'BYTES' || packed.shape.length !== 1) throw new ProtocolError(400, `input '${PACKED_WIRE_INPUT}' must be BYTES [batch] (one packed sample per element), got ${packed.datatype} [${packed.shape.join(', ')}]`);
  const samples = packed.data as Uint8Array[];
  // the codec's tensors in its order, each with the model input it becomes
  const targets = codec.tensors.map((t) => model.metadata.inputs.find((m) => m.name === wireName(t.tensor))!);
  const perSample = targets.map((m) => numel(m.shape.slice(1)));
  const out = targets.map((m, i) => allocate(m.datatype as NumericDatatype, samples.length * perSample[i]!));
  samples.forEach((bytes, n) => {
    let values;
    try {
      values = unpackSample(codec, bytes);
    } catch (e) {
      throw new ProtocolError(400, `sample ${n} of '${PACKED_WIRE_INPUT}' is not valid ${codec.spec.name} wire data: ${isImperaError(e) ? e.message : (e as Error).message}`);
    }
    values.forEach((v, i) => {
      if (v.length !== perSample[i] || v.BYTES_PER_ELEMENT !== elementBytes(targets[i]!.datatype)) {
        throw new ProtocolError(400, `sample ${n} of '${PACKED_WIRE_INPUT}' decodes to ${v.length} ${v.constructor.name} values for '${targets[i]!.name}', which takes ${perSample[i]} ${targets[i]!.datatype}`);
      }
      (out[i] as typeof v).set(v as never, n * perSample[i]!);
    });
  });
  return targets.map((m, i) => ({ name: m.name, datatype: m.datatype, shape: [samples.length, ...m.shape.slice(1)], data: out[i]! }));
}
