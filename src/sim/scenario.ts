/**
 * Scenario files (YAML): devices and their frame rates, what crosses the network (explicit sizes, or a model and
 * a cut), compute times (numbers, distributions, or profile files), links, the network, the transport and the
 * server. Validated with zod; errors name the field. `resolveScenario` turns a file into everything the set-ups
 * need, loading the model, the cut and the profiles it references.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { findCuts, resolveCut } from '../cuts/cuts.js';
import { ImperaError, isImperaError } from '../errors.js';
import { analyzeModel } from '../graph/analyze.js';
import { tensor } from '../graph/graph.js';
import { WIRE_DTYPES } from '../onnx/dtype.js';
import { loadModel, type OnnxModel } from '../onnx/io.js';
import { loadProfile, partMs, type Profile } from '../profile/profile-file.js';
import { linkConfigSchema, resolveLink, type Link } from '../net/link.js';
import { configDir, readConfigFile } from '../util/config.js';
import { resolveTransport, transportSchema, type Transport } from '../net/transfer.js';
import { distSchema, fixed, toDist, type Dist, type DistConfig } from './distributions.js';

export const SETUPS = ['local', 'remote', 'split', 'early-exit'] as const;
export type SetupName = (typeof SETUPS)[number];

const positive = (what: string) => z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`);
const count = (what: string) => z.number({ error: `${what} must be a whole number` }).int(`${what} must be a whole number`).positive(`${what} must be at least 1`);
const bytes = (what: string) => z.number({ error: `${what} must be a number of bytes` }).int(`${what} must be whole bytes`).nonnegative(`${what} must be >= 0`);

const computeSide = z
  .object({
    /** An impera-profile/1 file; head/tail/full times for the cut are read from it. */
    profile: z.string().optional(),
    head: distSchema.optional(),
    tail: distSchema.optional(),
    full: distSchema.optional(),
    /** The early-exit branch (device side). */
    exit: distSchema.optional(),
  })
  .strict();

const deviceGroup = z
  .object({
    name: z.string().min(1).default('device'),
    count: count('count').default(1),
    fps: positive('fps'),
    arrivals: z.enum(['periodic', 'poisson']).default('periodic'),
    /** First-frame offsets of periodic sources: random in one period (seeded), aligned (all 0), or a list (ms). */
    phase: z.union([z.enum(['random', 'aligned']), z.array(z.number().nonnegative())]).default('random'),
    /** This group's dedicated link (default: network.link). */
    link: linkConfigSchema.optional(),
    queueLimit: count('queueLimit').optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().optional(),
    seed: z.number().int().nonnegative().default(1),
    durationS: positive('durationS').default(60),
    warmupS: z.number().nonnegative().default(0),
    deadlineMs: positive('deadlineMs').optional(),
    /** Cut sizes from a model: its path (relative to this file), the cut (index or tensor names), the wire type. */
    model: z.object({ path: z.string(), cut: z.union([z.string(), z.number().int().nonnegative()]), wire: z.enum(WIRE_DTYPES).optional() }).strict().optional(),
    /** Or the sizes themselves (and the cut's id, to find its times in profiles). */
    payload: z.object({ inputBytes: bytes('inputBytes').optional(), cutBytes: bytes('cutBytes').optional(), resultBytes: bytes('resultBytes').optional(), cut: z.string().optional() }).strict().optional(),
    compute: z.object({ device: computeSide.default({}), server: computeSide.default({}) }).strict().default({ device: {}, server: {} }),
    devices: z.array(deviceGroup).min(1, 'give at least one device group'),
    network: z
      .object({
        /** Every device on its own link, or all on one shared medium (a Wi-Fi cell, or any shared link). */
        uplink: z.enum(['dedicated', 'shared']).default('dedicated'),
        /** The default dedicated link, or the shared medium. */
        link: linkConfigSchema.default('ethernet'),
      })
      .strict()
      .default({ uplink: 'dedicated', link: 'ethernet' }),
    transport: transportSchema.default({ protocol: 'tcp' }),
    server: z
      .object({
        workers: count('workers').default(1),
        batch: z.object({ max: count('batch.max').default(1), timeoutMs: z.number().nonnegative().default(0), scaling: z.number().min(0).max(1).default(1) }).strict().default({ max: 1, timeoutMs: 0, scaling: 1 }),
        queueLimit: count('queueLimit').optional(),
      })
      .strict()
      .default({ workers: 1, batch: { max: 1, timeoutMs: 0, scaling: 1 } }),
    earlyExit: z.object({ probability: z.number().min(0).max(1, 'probability must be in [0, 1]') }).strict().optional(),
    /** Which Split-Et-Impera set-ups to simulate (default: every one the scenario has times and sizes for). */
    setups: z.array(z.enum(SETUPS)).min(1).optional(),
  })
  .strict();

export type ScenarioConfig = z.infer<typeof scenarioSchema>;

export interface DeviceGroup {
  name: string;
  count: number;
  fps: number;
  arrivals: 'periodic' | 'poisson';
  phase: 'random' | 'aligned' | number[];
  link: Link;
  queueLimit: number;
}

/** Times of one side (device or server); undefined where the scenario gives none. */
export interface SideTimes {
  head?: Dist;
  tail?: Dist;
  full?: Dist;
  exit?: Dist;
}

export interface Scenario {
  name: string;
  source: string;
  seed: number;
  durationS: number;
  warmupS: number;
  deadlineMs?: number;
  payload: { inputBytes?: number; cutBytes?: number; resultBytes: number; cut?: string };
  compute: { device: SideTimes; server: SideTimes };
  groups: DeviceGroup[];
  network: 'dedicated' | 'shared';
  link: Link;
  transport: Transport;
  server: { workers: number; batchMax: number; batchTimeoutMs: number; batchScaling: number; queueLimit: number };
  exitProbability?: number;
  setups?: SetupName[];
}

const SCENARIO_HINT = 'see examples/scenarios/ and `impera simulate --help`';
const scenarioError = (file: string, what: string, hint = SCENARIO_HINT) => new ImperaError('BAD_SCENARIO', `scenario '${file}': ${what}`, hint);

/** Read and validate a scenario file (YAML or JSON). */
export function readScenario(path: string): ScenarioConfig {
  return readConfigFile(path, scenarioSchema, { what: 'scenario', code: 'BAD_SCENARIO', missingHint: 'check the path; examples are in examples/scenarios/', invalidHint: SCENARIO_HINT });
}

/** A profile named by the scenario, with errors saying which field named it. */
function profileAt(field: string, path: string | undefined, baseDir: string, model: OnnxModel | undefined): Profile | undefined {
  if (!path) return undefined;
  try {
    return loadProfile(resolve(baseDir, path), model);
  } catch (e) {
    if (isImperaError(e)) throw new ImperaError(e.code, `${field}: ${e.message}`, e.hint);
    throw e;
  }
}

function sideTimes(field: string, side: z.infer<typeof computeSide>, cut: string | undefined, baseDir: string, model: OnnxModel | undefined): SideTimes {
  const profile = profileAt(`${field}.profile`, side.profile, baseDir, model);
  const fromProfile = (kind: 'head' | 'tail' | 'full'): Dist | undefined => {
    if (!profile) return undefined;
    const ms = partMs(profile, kind, kind === 'full' ? null : (cut ?? null));
    return ms === undefined ? undefined : fixed(ms);
  };
  const pick = (kind: 'head' | 'tail' | 'full', given: DistConfig | undefined) => (given !== undefined ? toDist(given) : fromProfile(kind));
  const times: SideTimes = { head: pick('head', side.head), tail: pick('tail', side.tail), full: pick('full', side.full), ...(side.exit !== undefined ? { exit: toDist(side.exit) } : {}) };
  if (profile && !times.head && !times.tail && !times.full) {
    throw new ImperaError('BAD_SCENARIO', `${field}.profile: '${side.profile}' has no timing for cut '${cut ?? '(none named)'}' nor for the full model`, 'profile that cut, or give the times in the scenario');
  }
  return times;
}

async function cutFromModel(m: NonNullable<ScenarioConfig['model']>, baseDir: string) {
  const model = loadModel(resolve(baseDir, m.path));
  const g = await analyzeModel(model, { batch: 1 });
  const cut = resolveCut(g, findCuts(g), String(m.cut));
  const sum = (names: readonly string[]) => names.reduce((s, n) => s + tensor(g, n).bytes, 0);
  return {
    model,
    cut: cut.id,
    cutBytes: m.wire ? cut.wireBytes[m.wire] : cut.bytes,
    inputBytes: sum(g.inputs.map((v) => v.name!)),
    resultBytes: sum(g.outputs.map((v) => v.name!)),
  };
}

/** Validate a scenario file and load what it references (model, cut, profiles, links, traces). */
export async function loadScenario(path: string): Promise<Scenario> {
  const c = readScenario(path);
  const baseDir = configDir(path);
  const fromModel = c.model ? await cutFromModel(c.model, baseDir) : undefined;
  const cut = c.payload?.cut ?? fromModel?.cut;
  const link = resolveLink(c.network.link, { where: 'network.link', baseDir });
  const groups = c.devices.map((d, i) => ({
    name: d.name,
    count: d.count,
    fps: d.fps,
    arrivals: d.arrivals,
    phase: d.phase,
    link: d.link === undefined ? link : resolveLink(d.link, { where: `devices.${i}.link`, baseDir }),
    queueLimit: d.queueLimit ?? Infinity,
  }));
  groups.forEach((g, i) => {
    if (Array.isArray(g.phase) && g.phase.length !== g.count) throw scenarioError(path, `devices.${i}.phase: ${g.phase.length} offsets for ${g.count} devices`);
  });
  if (c.network.uplink === 'shared' && c.devices.some((d) => d.link !== undefined)) throw scenarioError(path, 'devices.*.link: with a shared uplink every device uses network.link', 'remove the per-device links, or set network.uplink: dedicated');
  return {
    name: c.name ?? path,
    source: path,
    seed: c.seed,
    durationS: c.durationS,
    warmupS: c.warmupS,
    ...(c.deadlineMs !== undefined ? { deadlineMs: c.deadlineMs } : {}),
    payload: {
      inputBytes: c.payload?.inputBytes ?? fromModel?.inputBytes,
      cutBytes: c.payload?.cutBytes ?? fromModel?.cutBytes,
      resultBytes: c.payload?.resultBytes ?? fromModel?.resultBytes ?? 0,
      ...(cut ? { cut } : {}),
    },
    compute: {
      device: sideTimes('compute.device', c.compute.device, cut, baseDir, fromModel?.model),
      server: sideTimes('compute.server', c.compute.server, cut, baseDir, fromModel?.model),
    },
    groups,
    network: c.network.uplink,
    link,
    transport: resolveTransport(c.transport),
    server: { workers: c.server.workers, batchMax: c.server.batch.max, batchTimeoutMs: c.server.batch.timeoutMs, batchScaling: c.server.batch.scaling, queueLimit: c.server.queueLimit ?? Infinity },
    ...(c.earlyExit ? { exitProbability: c.earlyExit.probability } : {}),
    ...(c.setups ? { setups: c.setups } : {}),
  };
}
