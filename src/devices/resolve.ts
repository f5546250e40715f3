/**
 * The compute resources a scenario names, as node-time predictors: `this-machine` (a profile measured here), a
 * catalog device (its roofline model fitted to the profile measured here, then carried over), or a profile file
 * measured on the device itself. Any head, tail, stage or exit stretch is then timed as the sum of its nodes.
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { findDevice, type Catalog, type Device } from './catalog.js';
import { predictedProfile } from './predicted.js';
import { calibrate } from './roofline.js';
import { ImperaError, isImperaError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import { loadProfile, modelFingerprint, type Profile } from '../profile/profile-file.js';
import { partPredictor } from '../profile/predict.js';
import { profileModel } from '../profile/profiler.js';
import type { AnalysisCache } from '../util/analysis-cache.js';

/** A compute resource: a catalog device id, `this-machine` (measured here), or a profile file (measured elsewhere). */
export const computeSchema = z.union([
  z.string().min(1, 'name a catalog device (see `impera devices`), this-machine, or { profile: FILE }'),
  z
    .object({
      device: z.string().min(1).optional(),
      profile: z.string().min(1).optional(),
      /** For a profile measured elsewhere: the catalog entry giving its memory and power figures (optional). */
      like: z.string().min(1).optional(),
    })
    .strict()
    .refine((d) => (d.device === undefined) !== (d.profile === undefined), 'give either device: ID or profile: FILE'),
]);
export type ComputeConfig = z.infer<typeof computeSchema>;

export interface ComputeResource {
  /** As shown to users, e.g. 'raspberry-pi-4 (predicted)'. */
  name: string;
  kind: 'measured' | 'predicted';
  /** The catalog entry (memory, power) when known. */
  device: Device | null;
  memoryBytes: number;
  profile: Profile;
  /** Time of a set of runtime nodes, ms. */
  ms(nodes: Iterable<number>): number;
}

export interface ComputeContext {
  catalog: Catalog;
  baseDir: string;
  cache: AnalysisCache;
  onStep?: (step: string, seconds: number, cached: boolean) => void;
  /** The profile measured here, once per plan (several devices are predicted from it). */
  here?: Promise<Profile>;
}

/** The profile of the model measured on this machine (cached per model, machine and thread count). */
function measuredHere(g: Graph, ctx: ComputeContext): Promise<Profile> {
  ctx.here ??= profileHere(g, ctx);
  return ctx.here;
}

async function profileHere(g: Graph, ctx: ComputeContext): Promise<Profile> {
  const threads = availableParallelism();
  const key = { model: modelFingerprint(g.model), batch: g.batch?.size ?? 1, cpu: cpus()[0]?.model ?? '', threads };
  const started = performance.now();
  const { value, cached } = await ctx.cache.get('profile', key, () => profileModel([g], { threads, cuts: [], stages: [] }));
  ctx.onStep?.('profile on this machine', (performance.now() - started) / 1000, cached);
  return value;
}

function resource(g: Graph, name: string, kind: ComputeResource['kind'], device: Device | null, profile: Profile, memoryBytes: number): ComputeResource {
  const predict = partPredictor(g, profile);
  return { name, kind, device, memoryBytes, profile, ms: (nodes) => predict(new Set(nodes)).nodesMs };
}

function catalogDevice(ctx: ComputeContext, id: string, field: string): Device {
  try {
    return findDevice(ctx.catalog, id);
  } catch (e) {
    if (isImperaError(e)) throw new ImperaError('BAD_SCENARIO', `${field}: ${e.message}`, e.hint ?? 'see `impera devices` for the catalog, or use this-machine or { profile: FILE }');
    throw e;
  }
}

export async function resolveCompute(g: Graph, config: ComputeConfig, field: string, ctx: ComputeContext): Promise<ComputeResource> {
  const spec = typeof config === 'string' ? { device: config } : config;
  if (spec.profile !== undefined) {
    const path = resolve(ctx.baseDir, spec.profile);
    let profile: Profile;
    try {
      profile = loadProfile(path, g.model);
    } catch (e) {
      if (isImperaError(e)) throw new ImperaError(e.code, `${field}.profile: ${e.message}`, e.hint);
      throw e;
    }
    const like = spec.like ? catalogDevice(ctx, spec.like, `${field}.like`) : null;
    return resource(g, `${profile.device.name} (${profile.device.kind})`, 'measured', like, profile, like ? like.memoryGB * 1e9 : Infinity);
  }
  if (spec.device === 'this-machine') return resource(g, 'this machine (measured)', 'measured', null, await measuredHere(g, ctx), totalmem());
  const device = catalogDevice(ctx, spec.device!, field);
  const here = await measuredHere(g, ctx);
  const profile = predictedProfile(g, { device, model: calibrate(g, here), dtype: 'fp32', calibratedFrom: `a profile of the model measured on ${here.device.description}`, cuts: [], stages: [] });
  return resource(g, `${device.id} (predicted)`, 'predicted', device, profile, device.memoryGB * 1e9);
}
