/**
 * A learned bottleneck as a codec stage (`learned:DIR`): the encoder and decoder `impera bottleneck --out DIR`
 * trained at one cut tensor, read from DIR/encoder.onnx, DIR/decoder.onnx and DIR/bottleneck.json and inlined into
 * codec models around the latent's quantisation (the encoder ends the head on the device, the decoder starts the
 * tail on the server). It only applies at the tensor it was trained at.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelCost } from '../cost/part.js';
import { ImperaError } from '../errors.js';
import { analyzeModel } from '../graph/analyze.js';
import { numel } from '../onnx/dtype.js';
import type { Emitter } from '../onnx/emitter.js';
import { loadModel } from '../onnx/io.js';
import { onnx } from '../onnx/proto.js';

export interface LearnedStage {
  dir: string;
  /** The cut tensor it was trained at, and its shape without the batch. */
  tensor: string;
  tensorShape: number[];
  /** The latent's shape with a batch of 1. */
  latentShape: number[];
  encoder: onnx.IGraphProto;
  decoder: onnx.IGraphProto;
  /** Bytes of the encoder's weights (what the device stores beyond the head). */
  encoderBytes: number;
  /** FLOPs per sample of the encoder (device) and the decoder (server). */
  flops: { encode: number; decode: number };
}

/** The files of a trained bottleneck's folder. */
export const LEARNED_FILES = { manifest: 'bottleneck.json', encoder: 'encoder.onnx', decoder: 'decoder.onnx' } as const;

const TRAIN_HINT = 'train one with `impera bottleneck MODEL --at CUT --out DIR` and name that DIR';

const graphInputs = (g: onnx.IGraphProto): onnx.IValueInfoProto[] => {
  const weights = new Set((g.initializer ?? []).map((t) => t.name));
  return (g.input ?? []).filter((i) => !weights.has(i.name));
};

const fixedDims = (vi: onnx.IValueInfoProto): number[] => (vi.type?.tensorType?.shape?.dim ?? []).slice(1).map((d) => Number(d.dimValue ?? 0));

/** Read a trained bottleneck's folder; `spec` names the codec in errors. */
export async function loadLearned(dir: string, spec: string): Promise<LearnedStage> {
  const missing = Object.values(LEARNED_FILES).filter((f) => !existsSync(join(dir, f)));
  if (missing.length) throw new ImperaError('BAD_CODEC', `codec '${spec}': ${dir} has no ${missing.join(', ')}`, TRAIN_HINT);
  let manifest: { cut?: string; design?: { latentShape?: number[] } } = {};
  try {
    manifest = JSON.parse(readFileSync(join(dir, LEARNED_FILES.manifest), 'utf8')) as typeof manifest;
  } catch {
    // unreadable: refused below like one that names nothing
  }
  if (typeof manifest.cut !== 'string' || !Array.isArray(manifest.design?.latentShape)) throw new ImperaError('BAD_CODEC', `codec '${spec}': ${join(dir, LEARNED_FILES.manifest)} names no cut and latent shape`, TRAIN_HINT);
  const [encoder, decoder] = [loadModel(join(dir, LEARNED_FILES.encoder)), loadModel(join(dir, LEARNED_FILES.decoder))];
  const flops = async (m: typeof encoder) => modelCost(await analyzeModel(m)).flops;
  const input = graphInputs(encoder.proto.graph!)[0];
  return {
    dir,
    tensor: manifest.cut,
    tensorShape: input ? fixedDims(input) : [],
    latentShape: manifest.design!.latentShape!,
    encoder: encoder.proto.graph!,
    decoder: decoder.proto.graph!,
    encoderBytes: (encoder.proto.graph!.initializer ?? []).reduce((s, t) => s + 4 * numel((t.dims ?? []).map(Number)), 0),
    flops: { encode: await flops(encoder), decode: await flops(decoder) },
  };
}

/** Refuse a learned stage at a tensor it was not trained at, in one line. */
export function checkLearnedAt(stage: LearnedStage, spec: string, tensor: string, shape: readonly number[]): void {
  if (tensor !== stage.tensor) throw new ImperaError('BAD_CODEC', `codec '${spec}' was trained at tensor '${stage.tensor}' and cannot run at '${tensor}'`, 'use it at the cut it was trained at, or train one at this cut with `impera bottleneck --at`');
  const own = shape.slice(1);
  if (stage.tensorShape.length && own.join() !== stage.tensorShape.join()) throw new ImperaError('BAD_CODEC', `codec '${spec}' was trained on '${tensor}' of shape [${stage.tensorShape}], but this model's is [${own}]`, 'use the model the bottleneck was trained on');
}

/** The latent's dims on the wire, the tensor's batch dim kept. */
export const latentDims = <T>(stage: LearnedStage, dims: readonly T[]): (T | number)[] => [dims[0]!, ...stage.latentShape.slice(1)];

/** Inline a stage's encoder or decoder graph reading `x`; returns its output. Names get a fresh prefix, so a graph may be inlined more than once. */
export function emitLearned(e: Emitter, x: string, graph: onnx.IGraphProto): string {
  const prefix = e.fresh('learned');
  const input = graphInputs(graph)[0]!.name!;
  const rename = (n: string) => (n === input ? x : n === '' ? '' : `${prefix}/${n}`);
  for (const t of graph.initializer ?? []) e.initializers.push(onnx.TensorProto.create({ ...t, name: rename(t.name!) }));
  for (const n of graph.node ?? []) e.nodes.push(onnx.NodeProto.create({ ...n, name: rename(n.name ?? ''), input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) }));
  return rename(graph.output![0]!.name!);
}
