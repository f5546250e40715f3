/**
 * The one place impera talks to ONNX Runtime: sessions from in-memory models (external data resolved), and
 * conversion between impera's tensors and ORT's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { dtypeFromName, dtypeName } from '../onnx/dtype.js';
import { allTensors, encodeModel, saveModel } from '../onnx/io.js';
import type { ModelProto } from '../onnx/proto.js';
import { isExternal, type Tensor, type TypedArray } from '../onnx/tensor.js';

export interface SessionOptions {
  /** Intra-op threads (ORT's default: one per physical core). */
  threads?: number;
  /** Graph optimisation level (default 'all', as deployments run). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Record ONNX Runtime's per-kernel trace (Chrome trace JSON) to `<prefix>_<date>.json`, written by `session.endProfiling()`. */
  profilePrefix?: string;
  /** Save the graph as ONNX Runtime optimised it (fused kernels, layout changes) to this file. */
  optimizedModelPath?: string;
  /**
   * Keep ORT's memory arena (default true: fastest for one long-lived session). Turn it off when many sessions
   * live at once, or each keeps its peak activation memory for good.
   */
  memoryArena?: boolean;
}

export type Feeds = Record<string, Tensor>;

function ortOptions(o: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: o.optimization ?? 'all',
    // fatal only: ORT's own log lines repeat the errors it throws, which impera reports in one line (and its
    // warnings, e.g. that a saved NCHWc graph is machine-specific, are not the user's to act on)
    logSeverityLevel: 4,
    ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
    executionProviders: ['cpu'],
    ...(o.memoryArena === false ? { enableCpuMemArena: false } : {}),
    ...(o.profilePrefix ? { enableProfiling: true, profileFilePrefix: o.profilePrefix } : {}),
    ...(o.optimizedModelPath ? { optimizedModelFilePath: o.optimizedModelPath } : {}),
  };
}

/** Any tensor kept outside the model, attribute and subgraph tensors included (ORT would resolve those itself). */
const hasExternalData = (proto: ModelProto): boolean => !!proto.graph && [...allTensors(proto.graph)].some(isExternal);

/** A session for a model held in memory; `dir` resolves external data. */
export async function createSession(proto: ModelProto, dir: string, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  if (!hasExternalData(proto)) return ort.InferenceSession.create(encodeModel(proto), ortOptions(options));
  // ORT resolves external data next to a model file: write a self-contained copy to a temporary folder.
  const tmp = mkdtempSync(join(tmpdir(), 'impera-'));
  try {
    const path = join(tmp, 'model.onnx');
    saveModel({ proto, dir }, path);
    return await ort.InferenceSession.create(path, ortOptions(options));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(dtypeName(t.dtype) as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
}

export function fromOrt(t: ort.Tensor): Tensor {
  const dtype = dtypeFromName(t.type);
  if (dtype === undefined) throw new Error(`ONNX Runtime returned a tensor of type ${t.type}, which impera does not handle`);
  return { dtype, dims: [...t.dims], data: t.data as TypedArray };
}

/** Run a session on impera tensors; returns the requested outputs (all by default). */
export async function run(session: ort.InferenceSession, feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, Tensor>> {
  const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)]));
  const result = outputs ? await session.run(ortFeeds, outputs as string[]) : await session.run(ortFeeds);
  return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, fromOrt(v)]));
}

export { ort };
