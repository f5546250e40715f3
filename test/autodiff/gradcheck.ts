/**
 * Gradient check: impera's backward graph against central finite differences of the forward model, both run in
 * ONNX Runtime. The objective is <y, r> for a fixed random r (so every output element matters).
 */
import { buildBackwardGraph, OUTPUT_GRAD_INPUT } from '../../src/autodiff/backward.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Dim } from '../../src/onnx/builder.js';
import { DataType, numel } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { seededRandom } from '../../src/util/random.js';

export interface FeedSpec {
  shape: number[];
  /** Declared shape (symbolic batch); defaults to shape. */
  declared?: Dim[];
  /** Values; default: seeded uniform in ±[0.2, 1] (away from kinks at 0). */
  values?: number[];
}

export function randomValues(n: number, seed: number, lo = 0.2, hi = 1): number[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => (rand() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rand()));
}


export interface GradCheckResult {
  /** Per wrt tensor: ||analytic - numeric|| / ||numeric||. */
  errors: Record<string, number>;
  /** Per wrt tensor: ||numeric|| (to show the check is not vacuous). */
  norms: Record<string, number>;
}

/**
 * `proto`'s graph inputs are fed `feeds`; gradients w.r.t. `wrt` (inputs) are compared with finite differences
 * at `samples` random elements per tensor (all when smaller).
 */
export async function gradCheck(proto: ModelProto, feeds: Record<string, FeedSpec>, wrt: string[], options: { h?: number; samples?: number; seed?: number } = {}): Promise<GradCheckResult> {
  const h = options.h ?? 1e-2;
  const model = inMemoryModel(proto);
  const g = await analyzeModel(model);
  const bwd = buildBackwardGraph(g, { wrt, objective: 'seed' });
  const outName = g.outputs[0]!.name!;
  const tensors: Record<string, Tensor> = {};
  let seed = options.seed ?? 11;
  for (const [name, f] of Object.entries(feeds)) {
    tensors[name] = { dtype: DataType.FLOAT, dims: f.shape, data: Float32Array.from(f.values ?? randomValues(numel(f.shape), seed++)) };
  }
  const forward = await createSession(proto, '.', { optimization: 'disabled' });
  const y0 = (await run(forward, tensors))[outName]!;
  const r = Float32Array.from(randomValues(y0.data.length, 999, 0.1, 1));
  const objective = async (feedsNow: Record<string, Tensor>) => {
    const y = (await run(forward, feedsNow))[outName]!.data as Float32Array;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
    return s;
  };
  const backward = await createSession(bwd.proto, '.', { optimization: 'disabled' });
  const analytic = await run(backward, { ...tensors, [OUTPUT_GRAD_INPUT]: { dtype: DataType.FLOAT, dims: y0.dims, data: r } });
  const errors: Record<string, number> = {};
  const norms: Record<string, number> = {};
  const pick = seededRandom(5);
  for (const t of wrt) {
    const a = analytic[bwd.gradients.get(t)!]!.data as Float32Array;
    const x = tensors[t]!.data as Float32Array;
    const count = Math.min(x.length, options.samples ?? 48);
    const idx = count === x.length ? [...x.keys()] : Array.from({ length: count }, () => Math.floor(pick() * x.length));
    let diff = 0;
    let norm = 0;
    for (const i of idx) {
      const orig = x[i]!;
      x[i] = orig + h;
      const up = await objective(tensors);
      x[i] = orig - h;
      const down = await objective(tensors);
      x[i] = orig;
      const numeric = (up - down) / (2 * h);
      diff += (a[i]! - numeric) ** 2;
      norm += numeric ** 2;
    }
    errors[t] = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-6);
    norms[t] = Math.sqrt(norm);
  }
  await forward.release();
  await backward.release();
  return { errors, norms };
}
