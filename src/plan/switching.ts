/**
 * The switching plan: a few split configurations and the conditions (uplink bandwidth, RTT, server queueing, the
 * device's own slowdown) under which each is the best feasible one, for an edge that adapts while it runs. Each
 * option's latency is the planner's analytic breakdown re-evaluated at a point:
 *   slowdown x device + server + share x (RTT + queue) + 8 x bytes / uplink
 * (share: the frames that reach the server, after exits; bytes: mean bytes sent per frame; slowdown: the device's
 * speed against the plan's, 1 as planned: other apps or thermal throttling make a real device slower at times, which
 * favours a shallow cut); at the edge, where frames come at a rate of their own, plus each frame's wait behind the
 * frames before it (queueWaitMs). Swept over a grid, this draws which option wins where (at the planned device speed); an
 * option is kept when it wins anywhere, at that speed or a slower one. The edge evaluates the same function at its
 * own estimates (runtime/edge/adapt.ts) and switches with hysteresis (a margin and a number of frames) so that noise
 * does not flap.
 */
import { z } from 'zod';
import { ImperaError } from '../errors.js';
import { readConfigFile } from '../util/config.js';
import { gain } from './quality.js';
import type { PlanConfiguration, PlanResult } from './types.js';

export const SWITCHING_FORMAT = 'impera-switching/1';

/** Conditions at the edge: uplink (Mb/s), round-trip time and server queueing (ms), and the device's slowdown. */
export interface NetworkPoint {
  upMbps: number;
  rttMs: number;
  queueMs: number;
  /** The device's time over the plan's for the same work (1, the default: as planned; 2: twice as slow). */
  deviceSlowdown?: number;
  /** Time between frames arriving at the edge (ms), where frames come at a rate of their own (a camera); none: no queueing. */
  frameIntervalMs?: number;
}

const nonNegative = z.number().nonnegative();
const positive = z.number().positive();

const optionSchema = z
  .object({
    /** Short name: the option's folder and its tail's model name on the server. */
    name: z.string().regex(/^[a-z0-9-]+$/, 'name must be lower-case letters, digits and dashes'),
    /** The plan configuration's id. */
    id: z.string().min(1),
    deviceMs: nonNegative,
    serverMs: nonNegative,
    /** Share of frames sent to the server (1 without exits). */
    share: z.number().min(0).max(1),
    /** Mean bytes sent per frame (after exits). */
    bytes: nonNegative,
    /** Quality oriented so that more is better (the metric's value, negated when lower is better). */
    goodness: z.number(),
    /** The option's runtime configuration (impera-runtime/1), relative to this file; written by `plan --export`. */
    runtime: z.string().min(1).optional(),
  })
  .strict();

export const switchingSchema = z
  .object({
    format: z.literal(SWITCHING_FORMAT, { error: `format must be '${SWITCHING_FORMAT}'` }),
    plan: z.string(),
    latencyLimitMs: positive,
    /** Qualities within this of the best count as equal; the fastest of those wins. */
    tolerance: nonNegative,
    hysteresis: z.object({ margin: z.number().min(0).lt(1, 'hysteresis.margin is a share in [0, 1)'), frames: z.number().int().positive() }).strict(),
    options: z.array(optionSchema).min(1, 'options: at least one configuration'),
    grid: z.object({ upMbps: z.array(positive).min(1), rttMs: z.array(nonNegative).min(1), queueMs: z.array(nonNegative).min(1) }).strict(),
    /** The winning option's name at every grid point, [queue][rtt][uplink]. */
    winners: z.array(z.array(z.array(z.string()))),
  })
  .strict();

export type SwitchingOption = z.infer<typeof optionSchema>;
export type SwitchingPlan = z.infer<typeof switchingSchema>;

type Priced = Pick<SwitchingOption, 'deviceMs' | 'serverMs' | 'share' | 'bytes'>;

/** One frame's service time at a point (ms): the edge runs frames one at a time, so it is busy for all of it. */
export const serviceMs = (o: Priced, p: NetworkPoint): number =>
  (p.deviceSlowdown ?? 1) * o.deviceMs + o.serverMs + o.share * (p.rttMs + p.queueMs) + (8 * o.bytes) / (1e3 * p.upMbps);

/**
 * A frame's mean wait behind the frames before it (ms), service time `s` against a frame every `t`: utilisation
 * rho = s / t; at rho >= 1 the frames pile up and the wait grows without bound (Infinity); below it, the M/D/1 wait
 * rho x s / (2 (1 - rho)), which is also Kingman's G/G/1 wait for periodic frames (arrival variability 0) whose
 * service times vary as much as exponential ones (a device slowed by other work: measured 300-900 ms for one
 * option within a spell). Without an interval (frames taken as fast as they are served) nothing waits.
 */
export function queueWaitMs(s: number, t: number | undefined): number {
  if (t === undefined) return 0;
  const rho = s / t;
  return rho >= 1 ? Infinity : (rho * s) / (2 * (1 - rho));
}

/** The condition-dependent latency model of an option at a point (ms): its service time and its wait behind earlier frames. */
export const predictLatency = (o: Priced, p: NetworkPoint): number => {
  const s = serviceMs(o, p);
  return s + queueWaitMs(s, p.frameIntervalMs);
};

/** What ranking needs from a plan: its options, the latency limit and the quality tolerance. */
export type Ranking = Pick<SwitchingPlan, 'options' | 'latencyLimitMs' | 'tolerance'>;

/**
 * The options best first at a point: those meeting the latency limit by quality (within the tolerance of the best
 * counts as equal, the fastest first), then the rest by latency (ties, such as frames piling up, by service time). `limitOf` gives an option's own limit (the
 * hysteresis gives the current one more room).
 */
export function rankAt(plan: Ranking, p: NetworkPoint, limitOf: (o: SwitchingOption) => number = () => plan.latencyLimitMs): SwitchingOption[] {
  const lat = new Map(plan.options.map((o) => [o, predictLatency(o, p)]));
  const feasible = plan.options.filter((o) => lat.get(o)! <= limitOf(o));
  // options whose frames pile up (Infinity) rank by service time: the least grows the backlog most slowly
  const byLatency = (a: SwitchingOption, b: SwitchingOption) => lat.get(a)! - lat.get(b)! || serviceMs(a, p) - serviceMs(b, p);
  const top = Math.max(...feasible.map((o) => o.goodness)) - plan.tolerance;
  const tied = feasible.filter((o) => o.goodness >= top).sort(byLatency);
  const lesser = feasible.filter((o) => o.goodness < top).sort((a, b) => b.goodness - a.goodness || byLatency(a, b));
  return [...tied, ...lesser, ...plan.options.filter((o) => !feasible.includes(o)).sort(byLatency)];
}

/** The default grid: uplink 0.1 to 1000 Mb/s, 10 points a decade; RTT and queueing in a few bands. */
export const DEFAULT_GRID: SwitchingPlan['grid'] = {
  upMbps: Array.from({ length: 41 }, (_, i) => Number((0.1 * 10 ** (i / 10)).toPrecision(3))),
  rttMs: [1, 10, 30, 100, 300],
  queueMs: [0, 20, 100],
};

/** Device slowdowns an option may win at to be kept (beside the planned speed, 1): a device loaded or throttled. */
export const DEFAULT_SLOWDOWNS: readonly number[] = [1, 2, 4, 8];

export const DEFAULT_HYSTERESIS: SwitchingPlan['hysteresis'] = { margin: 0.15, frames: 3 };

/** Whether a configuration can be an option: a split whose checks other than latency and throughput (which the network changes) are met. */
const switchable = (c: PlanConfiguration): boolean => c.placement === 'split' && c.checks.every((k) => k.met || k.constraint === 'latency' || k.constraint === 'throughput');

/** A configuration as an option: its latency breakdown split into what the network changes and what it does not. */
function optionOf(c: PlanConfiguration, name: string): SwitchingOption {
  const share = c.exits ? Math.max(0, 1 - c.exits.rates.reduce((a, b) => a + b, 0)) : 1;
  const { deviceMs, serverMs } = c.latency.breakdown;
  return { name, id: c.id, deviceMs, serverMs, share, bytes: c.bytes, goodness: gain(c.quality.better, c.quality.value) };
}

/** Winners over the grid at one device slowdown, [queue][rtt][uplink]. */
const sweep = (plan: Ranking, grid: SwitchingPlan['grid'], deviceSlowdown = 1): string[][][] =>
  grid.queueMs.map((queueMs) => grid.rttMs.map((rttMs) => grid.upMbps.map((upMbps) => rankAt(plan, { upMbps, rttMs, queueMs, deviceSlowdown })[0]!.name)));

export interface SwitchingOptions {
  grid?: SwitchingPlan['grid'];
  /** Device slowdowns swept to decide which options to keep (default DEFAULT_SLOWDOWNS; the winners drawn are at 1). */
  slowdowns?: readonly number[];
  hysteresis?: SwitchingPlan['hysteresis'];
  tolerance?: number;
}

/**
 * The switching plan of a result: every switchable configuration swept over the grid at each device slowdown, kept
 * when it wins somewhere (the recommendation always kept, first); null when the plan has no split configuration or
 * no latency limit.
 */
export function switchingPlan(r: Pick<PlanResult, 'configurations' | 'recommendation' | 'scenario'>, o: SwitchingOptions = {}): SwitchingPlan | null {
  const limit = r.scenario.qos.latency?.limit;
  const candidates = r.configurations.filter(switchable).sort((a, b) => Number(b.id === r.recommendation?.id) - Number(a.id === r.recommendation?.id));
  if (limit === undefined || !candidates.length) return null;
  const grid = o.grid ?? DEFAULT_GRID;
  const tolerance = o.tolerance ?? 0;
  const all = candidates.map((c, i) => optionOf(c, `c${i}`));
  const won = new Set((o.slowdowns ?? DEFAULT_SLOWDOWNS).flatMap((slowdown) => sweep({ options: all, latencyLimitMs: limit, tolerance }, grid, slowdown).flat(2)));
  const options = all.filter((x, i) => won.has(x.name) || (i === 0 && x.id === r.recommendation?.id)).map((x, i) => ({ ...x, name: `c${i}` }));
  const ranking = { options, latencyLimitMs: limit, tolerance };
  return { format: SWITCHING_FORMAT, plan: r.scenario.name, latencyLimitMs: limit, tolerance, hysteresis: o.hysteresis ?? DEFAULT_HYSTERESIS, options, grid, winners: sweep(ranking, grid) };
}

/** The conditions the grid sweeps (the device's slowdown is not drawn: the winners are at the planned speed). */
type GridCondition = 'upMbps' | 'rttMs' | 'queueMs';

/** Where an option wins: the ranges of each condition over the grid points it wins (null: nowhere). */
export function winningRanges(plan: SwitchingPlan, name: string): Record<GridCondition, [number, number]> | null {
  const points: Pick<NetworkPoint, GridCondition>[] = [];
  plan.winners.forEach((byRtt, q) => byRtt.forEach((row, r) => row.forEach((w, u) => w === name && points.push({ upMbps: plan.grid.upMbps[u]!, rttMs: plan.grid.rttMs[r]!, queueMs: plan.grid.queueMs[q]! }))));
  if (!points.length) return null;
  const range = (k: GridCondition): [number, number] => [Math.min(...points.map((p) => p[k])), Math.max(...points.map((p) => p[k]))];
  return { upMbps: range('upMbps'), rttMs: range('rttMs'), queueMs: range('queueMs') };
}

const HINT = 'write it with `impera plan --export DIR`, or see docs/RUNTIME.md';

/** Read and validate a switching plan; errors name the file, line and field. Option names must be unique. */
export function loadSwitchingPlan(file: string): SwitchingPlan {
  const plan = readConfigFile(file, switchingSchema, { what: 'switching plan', code: 'BAD_SWITCHING_PLAN', missingHint: 'check the path', invalidHint: HINT });
  const names = plan.options.map((o) => o.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new ImperaError('BAD_SWITCHING_PLAN', `switching plan '${file}': options: the name '${twice}' is used twice`, HINT);
  const shape = [plan.grid.queueMs.length, plan.grid.rttMs.length, plan.grid.upMbps.length];
  const fits = plan.winners.length === shape[0] && plan.winners.every((r) => r.length === shape[1] && r.every((u) => u.length === shape[2] && u.every((w) => names.includes(w))));
  if (!fits) throw new ImperaError('BAD_SWITCHING_PLAN', `switching plan '${file}': winners must be [queueMs][rttMs][upMbps] (${shape.join(' x ')}) option names`, HINT);
  return plan;
}
