/**
 * The profile file: latencies of a model's parts on one device, measured (`impera profile`) or predicted from a
 * device model. Every later stage (simulation, planner, runtime check) reads compute times from it. JSON,
 * validated on load; a fingerprint ties it to the exact model file it was made for.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ImperaError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import { encodeModel, type OnnxModel } from '../onnx/io.js';
import { readConfigFile } from '../util/config.js';

export const PROFILE_FORMAT = 'impera-profile/1';

const stats = z.object({
  runs: z.number().int().positive(),
  minMs: z.number().nonnegative(),
  medianMs: z.number().nonnegative(),
  p90Ms: z.number().nonnegative(),
});

const part = z.object({
  /** full model, head or tail of a cut, or stage `stage` of a k-stage partition along `cuts`. */
  kind: z.enum(['full', 'head', 'tail', 'stage']),
  /** The cut's id (tensor names joined by '+'); for stages, the ids of all cuts joined by ','; null for full. */
  cut: z.string().nullable(),
  stage: z.number().int().nonnegative().optional(),
  batch: z.number().int().positive(),
  /** Measured on the device (absent in predicted profiles). */
  measured: stats.optional(),
  /** Predicted: the sum of the part's node times, or the device model's estimate. */
  predictedMs: z.number().nonnegative().optional(),
  /** The share of predictedMs the part pays at its edges (output hand-over, layout conversion); see `boundaries`. */
  boundaryMs: z.number().nonnegative().optional(),
});

const node = z.object({
  name: z.string(),
  opType: z.string(),
  /** Time per inference at `batch` (median over profiled runs, or predicted). */
  ms: z.number().nonnegative(),
  /** Index of the node in the model's node list. */
  index: z.number().int().nonnegative().optional(),
  /** The batch these times are for, when not the profile's `batch` (profiles at batch 1 and a chosen batch). */
  batch: z.number().int().positive().optional(),
  /**
   * The node runs inside this node's kernel in the full model (ORT fusion); its `ms` is then its share of that
   * kernel: its time when run as a kernel of its own (at most half the kernel's time).
   */
  fusedInto: z.string().optional(),
  /** Measured profiles: the ORT kernels whose time the node carries. */
  kernels: z.array(z.string()).optional(),
});

/** Measured costs at the edge of a part for float32 tensors of one shape (see src/profile/probes.ts). */
const boundary = z.object({
  shape: z.array(z.number().int().nonnegative()),
  /** Fixed cost of a run plus allocating and copying an output of this shape to the caller. */
  outputMs: z.number().nonnegative(),
  /** Layout conversion into / out of ORT's blocked NCHWc layout (0 where ORT does not block the tensor). */
  reorderInMs: z.number().nonnegative(),
  reorderOutMs: z.number().nonnegative(),
});

const machine = z.object({
  cpu: z.string(),
  logicalCpus: z.number().int().positive(),
  memoryBytes: z.number().nonnegative(),
  platform: z.string(),
  /** Compute the profile's threads reach in a large float32 GEMM in ORT, GFLOP/s (what device models scale from). */
  peakGflops: z.number().positive().optional(),
  /** Bandwidth they reach streaming a large float32 Add in ORT, GB/s. */
  bandwidthGBs: z.number().positive().optional(),
});

export const profileSchema = z.object({
  format: z.literal(PROFILE_FORMAT),
  createdAt: z.string(),
  model: z.object({
    source: z.string(),
    /** sha256 of the model file (see modelFingerprint). */
    fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
    inputShapes: z.record(z.string(), z.array(z.number().int().positive())),
  }),
  device: z.object({
    kind: z.enum(['measured', 'predicted']),
    /** Host name for measured profiles, catalog id for predicted ones. */
    name: z.string(),
    description: z.string(),
    /** Predicted profiles: the measured profile the device model was calibrated on. */
    calibratedFrom: z.string().optional(),
    /** Measured profiles: the host's processor and memory. */
    machine: machine.optional(),
  }),
  runtime: z
    .object({
      engine: z.string(),
      version: z.string(),
      executionProvider: z.string(),
      threads: z.number().int().nonnegative(),
      graphOptimization: z.string(),
    })
    .nullable(),
  batch: z.number().int().positive(),
  /** Measured profiles: what the timed inputs were (the user's data, or default samples). */
  data: z.string().optional(),
  nodes: z.array(node),
  parts: z.array(part),
  /** Measured profiles: edge costs of part inputs/outputs by shape, for predicting any part from its nodes. */
  boundaries: z.array(boundary.extend({ batch: z.number().int().positive() })).optional(),
  /** Tensors ORT keeps in its blocked NCHWc layout in the full model (a part cut there converts them). */
  blockedTensors: z.array(z.string()).optional(),
  /**
   * Measured profiles, per batch: the factor applied to ORT's kernel times so the full model's nodes plus its
   * edge costs sum to its measured (unprofiled) latency (at least 0.1); profiling itself slows kernels, by a few
   * percent on the zoo models and up to 3x for microsecond kernels.
   */
  traceScale: z.array(z.object({ batch: z.number().int().positive(), factor: z.number().positive() })).optional(),
  /** Predicted profiles: the device model's fitted efficiencies (see src/devices/roofline.ts). */
  deviceModel: z
    .object({
      dtype: z.string(),
      overheadUs: z.number().nonnegative(),
      classes: z.record(z.string(), z.object({ compute: z.number().positive(), memory: z.number().positive(), nodes: z.number().int().nonnegative() })),
      host: z.object({ peakGflops: z.number().positive(), bandwidthGBs: z.number().positive() }),
      fitError: z.number().nonnegative(),
    })
    .optional(),
});

export type Profile = z.infer<typeof profileSchema>;
export type PartTiming = z.infer<typeof part>;
export type TimingStats = z.infer<typeof stats>;
export type NodeTiming = z.infer<typeof node>;
export type BoundaryCost = z.infer<typeof boundary>;
export type BoundaryTiming = BoundaryCost & { batch: number };

/** sha256 of the model's bytes: the file when it came from one, the encoded proto otherwise. */
export function modelFingerprint(model: OnnxModel): string {
  return createHash('sha256').update(model.path ? readFileSync(model.path) : encodeModel(model.proto)).digest('hex');
}

/** The profile's `model` section for a graph: its file, fingerprint and the input shapes it was analysed with. */
export function modelInfo(g: Graph): Profile['model'] {
  return { source: g.model.source, fingerprint: modelFingerprint(g.model), inputShapes: Object.fromEntries([...g.inputShapes].map(([k, v]) => [k, [...v.shape]])) };
}

/** Read and validate a profile; with `model`, also check it was made for that model. */
export function loadProfile(path: string, model?: OnnxModel): Profile {
  const profile = readConfigFile(path, profileSchema, {
    what: 'profile',
    code: 'PROFILE_INVALID',
    missingHint: 'pass the file `impera profile MODEL --out FILE` wrote, or run it first',
    invalidHint: 'profile the model again with `impera profile`',
  });
  if (model && modelFingerprint(model) !== profile.model.fingerprint) {
    throw new ImperaError('PROFILE_MISMATCH', `profile '${path}' was made for '${profile.model.source}', not for '${model.source}' (fingerprints differ)`, 'profile this model, or pass the model the profile was made for');
  }
  return profile;
}

export function saveProfile(profile: Profile, path: string): void {
  writeFileSync(path, `${JSON.stringify(profileSchema.parse(profile), null, 2)}\n`);
}

/** The timing of one part, measured median if present, else predicted. */
export function partMs(profile: Profile, kind: PartTiming['kind'], cut: string | null, stage?: number): number | undefined {
  const p = profile.parts.find((x) => x.kind === kind && x.cut === cut && (stage === undefined || x.stage === stage));
  return p?.measured?.medianMs ?? p?.predictedMs;
}
