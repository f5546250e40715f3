/**
 * Checking that exported parts compose exactly: run the full model and the chain of parts in ONNX Runtime on
 * the same inputs and compare every graph output, relative to the output's largest magnitude.
 */
import type { Graph } from '../graph/graph.js';
import type { Tensor, TypedArray } from '../onnx/tensor.js';
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

/** Rows [start, end) of a batched tensor. */
function rows(t: Tensor, start: number, end: number): Tensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return { dtype: t.dtype, dims: [end - start, ...t.dims.slice(1)], data: t.data.subarray(start * per, end * per) as TypedArray };
}

const sliceFeeds = (feeds: Feeds, start: number, end: number): Feeds => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, rows(v, start, end)]));

/** The full model's outputs on `feeds`, computed once to check many splits against. */
export async function referenceOutputs(g: Graph, feeds: Feeds, options: SessionOptions = {}): Promise<Record<string, Tensor>> {
  const full = await createSession(g.proto, g.model.dir, options);
  try {
    return await run(full, feeds);
  } finally {
    await full.release();
  }
}

export interface VerifyOptions extends SessionOptions {
  /** Largest allowed max |diff| relative to the output's largest magnitude (default 1e-5). */
  tolerance?: number;
  /** The full model's outputs on `feeds`, if already known. */
  expected?: Record<string, Tensor>;
}

export async function verifyParts(g: Graph, parts: readonly ExportedPart[], feeds: Feeds, options: VerifyOptions = {}): Promise<VerifyReport> {
  const tolerance = options.tolerance ?? 1e-5;
  const samples = Object.values(feeds)[0]?.dims[0] ?? 1;
  // parts pinned to the analysed batch run in chunks of that size
  const chunk = parts.every((p) => p.dynamicBatch) ? samples : (g.batch?.size ?? samples);
  const reference = options.expected ?? (await referenceOutputs(g, feeds, options));
  const sessions = await Promise.all(parts.map((p) => createSession(p.proto, g.model.dir, options)));
  const stats = new Map(g.outputs.map((o) => [o.name!, { maxAbsDiff: 0, maxAbs: 0 }]));
  try {
    for (let start = 0; start < samples; start += chunk) {
      const end = Math.min(samples, start + chunk);
      const slice = sliceFeeds(feeds, start, end);
      const expected = sliceFeeds(reference, start, end);
      const env: Record<string, Tensor> = { ...slice };
      for (const [i, part] of parts.entries()) {
        const out = await run(sessions[i]!, Object.fromEntries(part.inputs.map((n) => [n, env[n]!])), part.outputs);
        Object.assign(env, out);
      }
      for (const [name, s] of stats) {
        const want = expected[name]!.data as ArrayLike<number>;
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
  return { ok: outputs.every((o) => o.relative <= tolerance), tolerance, samples, outputs };
}
