/**
 * Checking that exported parts compose exactly: run the full model and the chain of parts in ONNX Runtime on
 * the same inputs and compare every graph output, relative to the output's largest magnitude.
 */
import { ImperaError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import type { Tensor, TypedArray } from '../onnx/tensor.js';
import { numel } from '../onnx/dtype.js';
import { createSession, run, type Feeds, type SessionOptions } from '../ort/session.js';
import type { ExportedPart } from './extract.js';

export interface OutputCheck {
  name: string;
  maxAbsDiff: number;
  /** Largest |value| of the full model's output. */
  maxAbs: number;
  /** maxAbsDiff / maxAbs. */
  relative: number;
}

export interface VerifyReport {
  ok: boolean;
  tolerance: number;
  samples: number;
  outputs: OutputCheck[];
}

/** Samples [start, end) of a batched tensor, along its batch axis (dim 0, or the dim that follows the batch: an RNN state's dim 1). */
function rows(t: Tensor, start: number, end: number, axis = 0): Tensor {
  const [outer, inner] = [numel(t.dims.slice(0, axis)), numel(t.dims.slice(axis + 1))];
  const size = t.dims[axis]!;
  if (outer === 1) return { dtype: t.dtype, dims: t.dims.map((d, i) => (i === axis ? end - start : d)), data: t.data.subarray(start * inner, end * inner) as TypedArray };
  const data = new (t.data.constructor as new (n: number) => TypedArray)(outer * (end - start) * inner);
  for (let o = 0; o < outer; o++) (data as Float32Array).set(t.data.subarray((o * size + start) * inner, (o * size + end) * inner) as Float32Array, o * (end - start) * inner);
  return { dtype: t.dtype, dims: t.dims.map((d, i) => (i === axis ? end - start : d)), data };
}

/** A tensor's batch axis: the first dim that is one batch per sample (dim 0 when the analysis does not say). */
const batchAxis = (g: Graph, name: string): number => Math.max(0, g.tensors.get(name)?.batchScale?.indexOf(1) ?? 0);

/**
 * Batches to run `samples` inputs in: all at once when the model (and every part) takes any batch, otherwise in
 * chunks of the analysed batch size; samples that do not fill a last chunk are left out.
 */
function chunks(g: Graph, samples: number, parts: readonly ExportedPart[]): [number, number][] {
  const size = g.batch && parts.every((p) => p.dynamicBatch) ? samples : ([...g.inputShapes.values()][0]?.shape[0] ?? samples);
  const count = Math.floor(samples / size);
  if (count === 0) throw new ImperaError('BAD_ARGUMENT', `the model runs at batch ${size} only; verify needs at least ${size} samples`);
  return Array.from({ length: count }, (_, i) => [i * size, (i + 1) * size]);
}

const sliceFeeds = (g: Graph, feeds: Feeds, [start, end]: [number, number]): Feeds => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, rows(v, start, end, batchAxis(g, k))]));

const sampleCount = (g: Graph, feeds: Feeds): number => {
  const [name, t] = Object.entries(feeds)[0] ?? [];
  return name && t ? (t.dims[batchAxis(g, name)] ?? 1) : 1;
};

/** The full model's outputs on `feeds`, per batch chunk, computed once to check many splits against. */
export async function referenceOutputs(g: Graph, feeds: Feeds, options: SessionOptions = {}): Promise<Record<string, Tensor>[]> {
  const full = await createSession(g.proto, g.model.dir, options);
  try {
    const out: Record<string, Tensor>[] = [];
    for (const range of chunks(g, sampleCount(g, feeds), [])) out.push(await run(full, sliceFeeds(g, feeds, range)));
    return out;
  } finally {
    await full.release();
  }
}

export interface VerifyOptions extends SessionOptions {
  /** Largest allowed max |diff| relative to the output's largest magnitude (default 1e-5). */
  tolerance?: number;
  /** The full model's outputs on `feeds` (from referenceOutputs), if already known. */
  expected?: Record<string, Tensor>[];
}

export async function verifyParts(g: Graph, parts: readonly ExportedPart[], feeds: Feeds, options: VerifyOptions = {}): Promise<VerifyReport> {
  const tolerance = options.tolerance ?? 1e-5;
  const ranges = chunks(g, sampleCount(g, feeds), parts);
  const chunked = options.expected ?? (await referenceOutputs(g, feeds, options));
  const reference = Object.fromEntries(g.outputs.map((o) => [o.name!, concatRows(chunked.map((r) => r[o.name!]!))]));
  const sessions = await Promise.all(parts.map((p) => createSession(p.proto, g.model.dir, options)));
  const stats = new Map(g.outputs.map((o) => [o.name!, { maxAbsDiff: 0, maxAbs: 0 }]));
  try {
    for (const range of ranges) {
      const env: Record<string, Tensor> = { ...sliceFeeds(g, feeds, range) };
      for (const [i, part] of parts.entries()) {
        Object.assign(env, await run(sessions[i]!, Object.fromEntries(part.inputs.map((n) => [n, env[n]!])), part.outputs));
      }
      for (const [name, s] of stats) {
        const want = rows(reference[name]!, ...range, batchAxis(g, name)).data as ArrayLike<number>;
        const got = env[name]!.data as ArrayLike<number>;
        for (let k = 0; k < want.length; k++) {
          s.maxAbs = Math.max(s.maxAbs, Math.abs(Number(want[k])));
          s.maxAbsDiff = Math.max(s.maxAbsDiff, Math.abs(Number(want[k]) - Number(got[k])));
        }
      }
    }
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  const outputs = [...stats].map(([name, s]) => ({ name, ...s, relative: s.maxAbs > 0 ? s.maxAbsDiff / s.maxAbs : s.maxAbsDiff }));
  return { ok: outputs.every((o) => o.relative <= tolerance), tolerance, samples: ranges.length * (ranges[0]![1] - ranges[0]![0]), outputs };
}

/** Stack batched tensors along the first dim. */
function concatRows(ts: readonly Tensor[]): Tensor {
  const first = ts[0]!;
  if (ts.length === 1) return first;
  const Ctor = first.data.constructor as new (n: number) => TypedArray;
  const data = new Ctor(ts.reduce((s, t) => s + t.data.length, 0));
  let off = 0;
  for (const t of ts) {
    (data as Float32Array).set(t.data as Float32Array, off);
    off += t.data.length;
  }
  return { dtype: first.dtype, dims: [ts.reduce((s, t) => s + t.dims[0]!, 0), ...first.dims.slice(1)], data };
}
