/**
 * Checking that exported parts compose exactly: run the full model and the chain of parts in ONNX Runtime on
 * the same inputs and compare every tensor the parts hand on (the cut tensors) and every graph output with the
 * full model's, in the full model's topological order, so a mismatch names the first tensor that differs.
 *
 * Both sides run with ONNX Runtime's graph optimisations disabled by default: fused kernels (Conv+BatchNorm,
 * MatMul+Add, ...) reorder float sums, and a fusion that spans a cut happens in the full model only, so at the
 * runtime's own level parts and model differ by float rounding (1e-6 .. 1e-4 relative) even when the split is
 * right. Compared at another level, the tolerance has to allow for that.
 */
import { ImperaError } from '../errors.js';
import { batchAxis, tensor, type Graph } from '../graph/graph.js';
import type { TensorInfo } from '../ops/types.js';
import { sliceAlong, type Tensor, type TypedArray } from '../onnx/tensor.js';
import { exposeTensors } from '../onnx/expose.js';
import { createSession, run, type Feeds, type SessionOptions } from '../ort/session.js';
import type { ExportedPart } from './extract.js';

export type OptimizationLevel = NonNullable<SessionOptions['optimization']>;

/** The default tolerance at each optimisation level: exact composition with them off, float reordering with them on. */
export const defaultTolerance = (level: OptimizationLevel): number => (level === 'disabled' ? 1e-5 : 1e-3);

export interface OutputCheck {
  name: string;
  /** The part whose output it is. */
  part: string;
  /** A cut tensor (handed to the next part) or a graph output. */
  kind: 'cut' | 'output';
  maxAbsDiff: number;
  /** Largest |value| of the full model's tensor. */
  maxAbs: number;
  /** maxAbsDiff / maxAbs (Infinity when the shapes differ). */
  relative: number;
  /** ||parts - full||_2 / ||full||_2. */
  relativeL2: number;
}

export interface VerifyReport {
  ok: boolean;
  tolerance: number;
  /** ONNX Runtime's graph optimisation level on both sides. */
  optimization: OptimizationLevel;
  samples: number;
  /** The input shapes checked (the first batch chunk's). */
  shapes: Record<string, number[]>;
  /** The graph outputs. */
  outputs: OutputCheck[];
  /** Every tensor compared, in the full model's topological order: cut tensors and graph outputs. */
  checks: OutputCheck[];
  /** The first tensor of `checks` over the tolerance. */
  firstMismatch: OutputCheck | undefined;
}

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

const sliceFeeds = (g: Graph, feeds: Feeds, [start, end]: [number, number]): Feeds => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, sliceAlong(v, batchAxis(g, k), start, end)]));

const sampleCount = (g: Graph, feeds: Feeds): number => {
  const [name, t] = Object.entries(feeds)[0] ?? [];
  return name && t ? (t.dims[batchAxis(g, name)] ?? 1) : 1;
};

export interface ReferenceOptions extends SessionOptions {
  /** Tensors inside the model to return as well (the cut tensors). */
  tensors?: readonly string[];
}

/**
 * The full model's outputs (and `tensors`) on `feeds`, per batch chunk, computed once to check many splits
 * against. Graph optimisations are off unless `optimization` says otherwise, as verifyParts has them.
 */
export async function referenceOutputs(g: Graph, feeds: Feeds, options: ReferenceOptions = {}): Promise<Record<string, Tensor>[]> {
  const { tensors = [], ...session } = options;
  const full = await createSession(tensors.length ? exposeTensors(g.proto, tensors) : g.proto, g.model.dir, { optimization: 'disabled', ...session });
  try {
    const out: Record<string, Tensor>[] = [];
    for (const range of chunks(g, sampleCount(g, feeds), [])) out.push(await run(full, sliceFeeds(g, feeds, range)));
    return out;
  } finally {
    await full.release();
  }
}

export interface VerifyOptions extends SessionOptions {
  /** Largest allowed max |diff| relative to the tensor's largest magnitude (default: defaultTolerance of the level). */
  tolerance?: number;
  /** The full model's outputs on `feeds` (from referenceOutputs with the same options), if already known. */
  expected?: Record<string, Tensor>[];
}

/** Running sums of one compared tensor. */
interface Sums {
  maxAbsDiff: number;
  maxAbs: number;
  diff2: number;
  want2: number;
}

function accumulate(s: Sums, want: Tensor, got: Tensor): void {
  const [w, o] = [want.data as ArrayLike<number>, got.data as ArrayLike<number>];
  if (w.length !== o.length) {
    s.maxAbsDiff = Infinity;
    return;
  }
  for (let k = 0; k < w.length; k++) {
    const [a, d] = [Number(w[k]), Number(w[k]) - Number(o[k])];
    s.maxAbs = Math.max(s.maxAbs, Math.abs(a));
    s.maxAbsDiff = Math.max(s.maxAbsDiff, Math.abs(d));
    s.diff2 += d * d;
    s.want2 += a * a;
  }
}

const ratio = (x: number, of: number) => (of > 0 ? x / of : x);

/** What every part hands on or delivers, with the part's name, in the full model's topological order. */
function handedOn(g: Graph, parts: readonly ExportedPart[]): { name: string; part: string; kind: OutputCheck['kind'] }[] {
  const outputs = new Set(g.outputs.map((o) => o.name!));
  const position = new Map(g.order.map((n, i) => [n, i]));
  const seen = new Set<string>();
  const list = parts.flatMap((p) => p.outputs.filter((n) => !seen.has(n) && seen.add(n)).map((name) => ({ name, part: p.name, kind: outputs.has(name) ? ('output' as const) : ('cut' as const) })));
  const at = (name: string) => position.get(tensor(g, name).producer) ?? -1;
  return list.sort((a, b) => at(a.name) - at(b.name));
}

export async function verifyParts(g: Graph, parts: readonly ExportedPart[], feeds: Feeds, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { tolerance: given, expected, ...session } = options;
  const level = session.optimization ?? 'disabled';
  const tolerance = given ?? defaultTolerance(level);
  const compared = handedOn(g, parts);
  const ranges = chunks(g, sampleCount(g, feeds), parts);
  const cutTensors = compared.filter((c) => c.kind === 'cut').map((c) => c.name);
  const chunked = expected ?? (await referenceOutputs(g, feeds, { ...session, optimization: level, tensors: cutTensors }));
  const known = compared.filter((c) => chunked[0]![c.name]);
  // the reference ran in the parts' chunks: compare chunk by chunk (outputs without a batch axis, of a length
  // that differs per sample, cannot be stacked and sliced); else stack it and slice each chunk out
  const aligned = JSON.stringify(chunks(g, sampleCount(g, feeds), [])) === JSON.stringify(ranges);
  const reference = aligned ? undefined : new Map(known.map((c) => [c.name, concatRows(chunked.map((r) => r[c.name]!))]));
  const want = (name: string, k: number, range: [number, number]): Tensor => (reference ? sliceAlong(reference.get(name)!, batchAxis(g, name), ...range) : chunked[k]![name]!);
  const sums = new Map(known.map((c) => [c.name, { maxAbsDiff: 0, maxAbs: 0, diff2: 0, want2: 0 }]));
  const sessions = await Promise.all(parts.map((p) => createSession(p.proto, g.model.dir, { ...session, optimization: level })));
  try {
    for (const [k, range] of ranges.entries()) {
      const env: Record<string, Tensor> = { ...sliceFeeds(g, feeds, range) };
      for (const [i, part] of parts.entries()) {
        Object.assign(env, await run(sessions[i]!, Object.fromEntries(part.inputs.map((n) => [n, env[n]!])), part.outputs));
      }
      for (const [name, s] of sums) accumulate(s, want(name, k, range), env[name]!);
    }
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  const checks = known.map((c) => {
    const s = sums.get(c.name)!;
    return { ...c, maxAbsDiff: s.maxAbsDiff, maxAbs: s.maxAbs, relative: ratio(s.maxAbsDiff, s.maxAbs), relativeL2: Number.isFinite(s.maxAbsDiff) ? ratio(Math.sqrt(s.diff2), Math.sqrt(s.want2)) : Infinity };
  });
  const firstMismatch = checks.find((c) => !(c.relative <= tolerance));
  // A given reference may hold the graph outputs only: find the first differing cut tensor with a full one.
  if (firstMismatch && known.length < compared.length) return verifyParts(g, parts, feeds, { ...options, expected: undefined });
  const first = ranges[0]!;
  return {
    ok: !firstMismatch,
    tolerance,
    optimization: level,
    samples: ranges.length * (first[1] - first[0]),
    shapes: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims.map((d, i) => (i === batchAxis(g, k) ? first[1] - first[0] : d))])),
    outputs: checks.filter((c) => c.kind === 'output'),
    checks,
    firstMismatch,
  };
}

/** The dynamic input dims, other than the batch, that every part keeps dynamic. */
const keptSizes = (g: Graph, parts: readonly ExportedPart[]) => g.dynamicDims.filter((d) => d.symbol !== g.batch?.symbol && d.probe !== undefined && parts.every((p) => p.dynamicDims.includes(d.symbol)));

/**
 * Input shapes to verify at: the analysed ones and, where the parts keep dims other than the batch dynamic, one
 * more with each of those at the size of its second shape pass (a resolution the cut was not analysed at).
 */
export function defaultVerifyShapes(g: Graph, parts: readonly ExportedPart[]): Map<string, TensorInfo>[] {
  const kept = keptSizes(g, parts);
  if (!kept.length) return [new Map(g.inputShapes)];
  const other = new Map([...g.inputShapes].map(([name, info]) => [name, { ...info, shape: [...info.shape] }]));
  for (const d of kept) for (const { input, axis } of d.at) other.get(input)!.shape[axis] = d.probe!;
  return [new Map(g.inputShapes), other];
}

/**
 * Input shapes to verify at from whole shapes per input (`given`; inputs not named keep the analysed shape):
 * refused where a dim the model or the parts keep fixed would change. The first dim is the batch, which the
 * number of samples sets.
 */
export function verifyShapesAt(g: Graph, parts: readonly ExportedPart[], given: Record<string, readonly number[]>): Map<string, TensorInfo> {
  const movable = new Set(keptSizes(g, parts).flatMap((d) => d.at.map((a) => `${a.input}:${a.axis}`)));
  return new Map(
    [...g.inputShapes].map(([name, info]) => {
      const shape = given[name] ?? info.shape;
      if (shape.length !== info.shape.length) throw new ImperaError('BAD_INPUT_SHAPE', `input '${name}' has rank ${info.shape.length}, but the shape to verify at has ${shape.length} dims [${shape}]`);
      const fixed = shape.findIndex((d, axis) => axis > 0 && d !== info.shape[axis] && !movable.has(`${name}:${axis}`));
      if (fixed >= 0) {
        throw new ImperaError('BAD_INPUT_SHAPE', `dim ${fixed} of input '${name}' is fixed at ${info.shape[fixed]} in the exported parts, but the shape to verify at gives ${shape[fixed]}`, 'verify at the analysed size of that dim, or analyse at this one with --input-shape');
      }
      return [name, { ...info, shape: [...shape] }];
    }),
  );
}

/** One line naming the first tensor that differs and by how much, for an error message. */
export function mismatchText(report: VerifyReport): string {
  const m = report.firstMismatch;
  if (!m) return 'the parts compose to the full model';
  const what = m.kind === 'cut' ? `cut tensor '${m.name}' (output of ${m.part})` : `output '${m.name}' (from ${m.part})`;
  const by = Number.isFinite(m.relative) ? `max |diff| ${m.maxAbsDiff.toExponential(2)} = ${m.relative.toExponential(2)} of its largest |value|, relative L2 ${m.relativeL2.toExponential(2)}` : 'a different shape';
  return `the first tensor that differs from the full model is ${what}: ${by}, over the tolerance ${report.tolerance} (ONNX Runtime optimisations ${report.optimization})`;
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
