/**
 * Deploying a codec: the exported head ends by encoding its cut tensors (its outputs become `<tensor>::wire`) and
 * the tail starts by decoding them, so the pair runs as is in any ONNX runtime; between them the wire format of
 * codecs/wire.ts (packing, sparse and entropy coding) carries the bytes. `codec.json` describes that wire format.
 */
import { Emitter } from '../onnx/emitter.js';
import { emitDecode, emitEncode, wireDtype } from '../codecs/onnx.js';
import { wireDimsOf, type FittedCodec, type FittedTensorCodec } from '../codecs/fitted.js';
import { symbolicShape, type Graph } from '../graph/graph.js';
import { valueInfo } from '../onnx/builder.js';
import { dtypeName } from '../onnx/dtype.js';
import { onnx } from '../onnx/proto.js';
import type { Tensor } from '../onnx/tensor.js';
import { run, type Feeds, type ort } from '../ort/session.js';
import { decodeWire, encodeWire, type WireDescription, type WireValues } from '../codecs/wire.js';
import type { ExportedPart } from './extract.js';

export const wireName = (t: string): string => `${t}::wire`;

const wireDims = (g: Graph, fit: FittedTensorCodec): (number | string)[] => wireDimsOf(fit, symbolicShape(g, fit.tensor));

/** Head and tail with the codec inside: the head outputs wire tensors, the tail takes them. */
export function attachCodec(g: Graph, [head, tail]: readonly [ExportedPart, ExportedPart], codec: FittedCodec): [ExportedPart, ExportedPart] {
  const opset = g.opsets.get('') ?? 13;
  const fits = new Map(codec.tensors.map((f) => [f.tensor, f]));
  const enc = new Emitter(opset, 'encode');
  for (const f of codec.tensors) enc.op('Identity', [emitEncode(enc, f.tensor, f)], {}, { output: wireName(f.tensor) });
  const dec = new Emitter(opset, 'decode');
  for (const f of codec.tensors) dec.op('Identity', [emitDecode(dec, wireName(f.tensor), f)], {}, { output: f.tensor });
  const swap = (vi: onnx.IValueInfoProto) => {
    const f = fits.get(vi.name!);
    return f ? valueInfo(wireName(f.tensor), wireDtype(f), wireDims(g, f)) : vi;
  };
  const hg = head.proto.graph!;
  const tg = tail.proto.graph!;
  const newHead = onnx.ModelProto.create({
    ...head.proto,
    graph: { ...hg, node: [...(hg.node ?? []), ...enc.nodes], initializer: [...(hg.initializer ?? []), ...enc.initializers], output: (hg.output ?? []).map(swap) },
  });
  const newTail = onnx.ModelProto.create({
    ...tail.proto,
    graph: { ...tg, node: [...dec.nodes, ...(tg.node ?? [])], initializer: [...(tg.initializer ?? []), ...dec.initializers], input: (tg.input ?? []).map(swap) },
  });
  const rename = (names: readonly string[]) => names.map((n) => (fits.has(n) ? wireName(n) : n));
  return [
    { ...head, proto: newHead, outputs: rename(head.outputs) },
    { ...tail, proto: newTail, inputs: rename(tail.inputs) },
  ];
}

export function describeWire(codec: FittedCodec): WireDescription {
  return {
    codec: codec.spec.name,
    tensors: codec.tensors.map((f) => ({
      tensor: f.tensor,
      wire: wireName(f.tensor),
      dtype: dtypeName(wireDtype(f)),
      rank: f.rank,
      channelAxis: f.channelAxis,
      wireElements: f.wireElements,
      ...(f.quant ? { bits: f.quant.bits } : {}),
      ...(f.fp16 ? { fp16: true } : {}),
      ...(f.pca ? { pcaK: f.pca.k } : {}),
    })),
  };
}

export interface CodecPairRun {
  /** Tail outputs for the batch (logits first). */
  outputs: Record<string, Tensor>;
  /** Bytes on the wire per sample. */
  bytes: number[];
}

/**
 * Run an exported head+codec / codec+tail pair as a deployment does: head in ONNX Runtime, each sample's wire
 * tensors encoded to bytes and decoded back in TypeScript, tail in ONNX Runtime.
 */
export async function runCodecPair(parts: readonly [ExportedPart, ExportedPart], sessions: readonly [ort.InferenceSession, ort.InferenceSession], codec: FittedCodec, feeds: Feeds): Promise<CodecPairRun> {
  const [head, tail] = parts;
  const headOut = await run(sessions[0], feeds, head.outputs);
  const samples = Object.values(feeds)[0]!.dims[0]!;
  const wires = codec.tensors.map((f) => headOut[wireName(f.tensor)]!);
  const bytes: number[] = [];
  const received = codec.tensors.map((_, i) => new (wires[i]!.data.constructor as new (n: number) => WireValues)(wires[i]!.data.length));
  for (let n = 0; n < samples; n++) {
    const sample = wires.map((w) => {
      const per = w.data.length / samples;
      return w.data.subarray(n * per, (n + 1) * per) as WireValues;
    });
    const onWire = encodeWire(codec, sample);
    bytes.push(onWire.length);
    decodeWire(codec, onWire).forEach((v, i) => (received[i] as Float32Array).set(v as Float32Array, n * v.length));
  }
  const tailFeeds: Feeds = Object.fromEntries(tail.inputs.map((name) => {
    const i = codec.tensors.findIndex((f) => wireName(f.tensor) === name);
    return [name, i >= 0 ? { ...wires[i]!, data: received[i]! } : headOut[name]!];
  }));
  return { outputs: await run(sessions[1], tailFeeds, tail.outputs), bytes };
}
