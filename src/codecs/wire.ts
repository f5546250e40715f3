/**
 * Bytes on the wire for one sample: the encoder model's outputs (float32, float16 or n-bit codes) packed, optionally
 * sparse-coded and entropy-coded. Layout: for each cut tensor in the cut's order, a LEB128 length then its payload;
 * the whole is then compressed when the codec has an entropy stage. This is exactly what `eval` counts and what the
 * runtime sends.
 *
 * Payloads: float32/float16 as little-endian bytes; n-bit codes packed LSB-first (8 and 16 bits as plain bytes);
 * sparse: a bitmap of non-zero codes (bit i of byte i/8, LSB first) followed by the packed non-zero codes.
 * `codec.json` (WireDescription) holds what packing needs; the entropy stage is the only part that needs node:zlib.
 */
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { ImperaError } from '../errors.js';
import type { FittedCodec } from './fitted.js';
import { parseCodec, type Entropy } from './spec.js';

export function packBits(values: ArrayLike<number>, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((values.length * bits) / 8));
  if (bits === 8) {
    out.set(values as ArrayLike<number>);
    return out;
  }
  let acc = 0;
  let held = 0;
  let o = 0;
  for (let i = 0; i < values.length; i++) {
    acc |= values[i]! << held;
    held += bits;
    while (held >= 8) {
      out[o++] = acc & 0xff;
      acc >>>= 8;
      held -= 8;
    }
  }
  if (held > 0) out[o] = acc & 0xff;
  return out;
}

export function unpackBits(bytes: Uint8Array, bits: number, count: number): Uint16Array {
  const out = new Uint16Array(count);
  const mask = (1 << bits) - 1;
  let acc = 0;
  let held = 0;
  let b = 0;
  for (let i = 0; i < count; i++) {
    while (held < bits) {
      acc |= bytes[b++]! << held;
      held += 8;
    }
    out[i] = acc & mask;
    acc >>>= bits;
    held -= bits;
  }
  return out;
}

function sparseEncode(codes: ArrayLike<number>, bits: number): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(codes.length / 8));
  const nonzero: number[] = [];
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] === 0) continue;
    bitmap[i >> 3]! |= 1 << (i & 7);
    nonzero.push(codes[i]!);
  }
  return concat([bitmap, packBits(nonzero, bits)]);
}

function sparseDecode(bytes: Uint8Array, bits: number, count: number): Uint16Array {
  const bitmapBytes = Math.ceil(count / 8);
  let nnz = 0;
  for (let i = 0; i < count; i++) if ((bytes[i >> 3]! >> (i & 7)) & 1) nnz++;
  const values = unpackBits(bytes.subarray(bitmapBytes), bits, nnz);
  const out = new Uint16Array(count);
  let k = 0;
  for (let i = 0; i < count; i++) if ((bytes[i >> 3]! >> (i & 7)) & 1) out[i] = values[k++]!;
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function leb128(n: number): Uint8Array {
  const bytes: number[] = [];
  do {
    bytes.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Uint8Array.from(bytes);
}

function readLeb128(bytes: Uint8Array, at: number): [number, number] {
  let n = 0;
  let scale = 1;
  for (;;) {
    const b = bytes[at++]!;
    n += (b & 0x7f) * scale;
    scale *= 128;
    if (!(b & 0x80)) return [n, at];
  }
}

function compress(bytes: Uint8Array, entropy: Entropy): Uint8Array {
  if (entropy === 'deflate') return deflateRawSync(bytes, { level: 6 });
  // brotli's default quality (11) is far slower for little gain on activations
  if (entropy === 'brotli') return brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
  return (zlib as unknown as { zstdCompressSync: (b: Uint8Array) => Uint8Array }).zstdCompressSync(bytes);
}

function decompress(bytes: Uint8Array, entropy: Entropy): Uint8Array {
  if (entropy === 'deflate') return inflateRawSync(bytes);
  if (entropy === 'brotli') return brotliDecompressSync(bytes);
  return (zlib as unknown as { zstdDecompressSync: (b: Uint8Array) => Uint8Array }).zstdDecompressSync(bytes);
}

/** A wire tensor for one sample: float32, float16 (raw bits), codes, or a tensor that crosses as it is (bool as bytes). */
export type WireValues = Float32Array | Uint16Array | Uint8Array | Int8Array | Int16Array | Int32Array | Uint32Array | Float64Array | BigInt64Array | BigUint64Array;

type WireCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => WireValues;

/** Typed arrays of the element types that cross as they are, by ONNX name. */
const PASSTHROUGH: Record<string, WireCtor> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

function passthroughView(dtype: string, payload: Uint8Array, n: number): WireValues {
  const Ctor = PASSTHROUGH[dtype];
  if (!Ctor) throw new ImperaError('BAD_CODEC', `a cut tensor of element type ${dtype} cannot cross the wire`, 'cut elsewhere, where the tensors are numbers or bools');
  return new Ctor(payload.buffer, payload.byteOffset, n);
}

/** One sample's wire tensors framed and packed, before the entropy stage. */
export function packWire(codec: FittedCodec, sample: readonly WireValues[]): Uint8Array {
  const parts = codec.tensors.flatMap((fit, i) => {
    const v = sample[i]!;
    let payload: Uint8Array;
    if (fit.quant) payload = codec.spec.sparse ? sparseEncode(v as Uint16Array, fit.quant.bits) : packBits(v as Uint16Array, fit.quant.bits);
    else payload = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return [leb128(payload.length), payload];
  });
  return concat(parts);
}

/** The bytes one sample's wire tensors take on the wire (`packed`: packWire's result, if already computed). */
export function encodeWire(codec: FittedCodec, sample: readonly WireValues[], packed = packWire(codec, sample)): Uint8Array {
  return codec.spec.entropy ? compress(packed, codec.spec.entropy) : packed;
}

/** Back from bytes to one sample's wire tensors (the decoder model's inputs). */
export function decodeWire(codec: FittedCodec, bytes: Uint8Array): WireValues[] {
  const raw = codec.spec.entropy ? decompress(bytes, codec.spec.entropy) : bytes;
  let at = 0;
  return codec.tensors.map((fit) => {
    const [length, start] = readLeb128(raw, at);
    const payload = new Uint8Array(raw.subarray(start, start + length)); // a copy: aligned for typed-array views
    at = start + length;
    if (payload.length !== length) throw new ImperaError('BAD_CODEC', 'the payload ends early: bytes were lost or cut');
    const n = fit.wireElements;
    if (fit.passthrough) return passthroughView(fit.passthrough, payload, n);
    if (fit.quant) {
      const codes = codec.spec.sparse ? sparseDecode(payload, fit.quant.bits, n) : unpackBits(payload, fit.quant.bits, n);
      return fit.quant.bits <= 8 ? Uint8Array.from(codes) : codes;
    }
    return fit.fp16 ? new Uint16Array(payload.buffer, payload.byteOffset, n) : new Float32Array(payload.buffer, payload.byteOffset, n);
  });
}

/** What a receiver needs to turn bytes back into the tail's inputs (written as codec.json). */
export interface WireDescription {
  codec: string;
  tensors: { tensor: string; wire: string; dtype: string; rank: number; channelAxis: number; wireElements: number; bits?: number; fp16?: boolean; pcaK?: number }[];
}

/** Enough of a fitted codec to pack and unpack bytes (no parameters: those live in the models). */
export function wireCodec(d: WireDescription): FittedCodec {
  const spec = parseCodec(d.codec);
  return {
    spec,
    paramBytes: 0,
    tensors: d.tensors.map((t) => ({
      tensor: t.tensor,
      rank: t.rank,
      channelAxis: t.channelAxis,
      wireElements: t.wireElements,
      ...(t.bits ? { quant: { bits: t.bits, scale: new Float32Array(0), zeroPoint: new Float32Array(0) } } : {}),
      ...(t.fp16 ? { fp16: true } : {}),
      ...(!t.bits && !t.fp16 && t.dtype !== 'float32' ? { passthrough: t.dtype } : {}),
    })),
  };
}
