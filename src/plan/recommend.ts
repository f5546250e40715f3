/**
 * QoS matching (METHODS.md §4): every configuration checked against the constraints, the feasible set, its
 * Pareto front over latency, quality (oriented by the metric's better direction), bytes and energy, the pick by the stated objective with a plain-language
 * explanation (the binding constraint and its margin, what the runner-up would change) — or, when nothing is
 * feasible, the constraint closest to being met and by how much.
 *
 * Ties on quality count on the front as they do in the ranking: a configuration marked outclassed (`outclassedBy`,
 * set by the planner from `outclass`) is one that another configuration beats at every latency percentile, in
 * bytes and in energy while it leads that configuration on quality by at most the tie tolerance — a difference of
 * a sample or two, which max-quality already calls a tie. It is dominated once ties count as ties, so it is neither
 * recommended, nor on the Pareto front, nor one of the finalists, and its quality does not raise the bar the tie is
 * measured from (a split scoring one image above the full model by chance would otherwise redefine what ties).
 * The adaptive evaluation settles such splits without measuring them on every sample (eval/adaptive.ts screen),
 * and since the rule reads only bytes, bounds and a bound on quality, exhaustive evaluation decides alike.
 */
import { withinTie } from '../eval/adaptive.js';
import type { MetricName } from '../task/types.js';
import { formatQuality, formatQualityDelta, gain } from './quality.js';
import type { PlanScenarioConfig } from './scenario.js';
import type { ConstraintCheck, ConstraintName, NearestMiss, PlanConfiguration, PlanQos, PlanResult, Recommendation } from './types.js';

/** The scenario's constraints, with the one on quality resolved against the metric (quality.ts qualityConstraint). */
export type Qos = Omit<PlanScenarioConfig['qos'], 'accuracy' | 'quality'> & { quality?: PlanQos['quality'] };
export type Objective = PlanScenarioConfig['objective'];

/** The configuration's quality oriented so that more is better. */
const goodness = (c: PlanConfiguration): number => gain(c.quality.better, c.quality.value);

/** The configuration's latency at a percentile (or the mean), as the QoS names it. */
export const latencyAt = (c: PlanConfiguration, at: string): number => (at === 'mean' ? c.latency.meanMs : at === 'p50' ? c.latency.p50Ms : at === 'p99' ? c.latency.p99Ms : c.latency.p95Ms);

/** Checks of one configuration; a stream the configuration cannot sustain (throughput below the frame rate) misses its latency too. */
export function checkConfiguration(c: PlanConfiguration, qos: Qos, fps: number): ConstraintCheck[] {
  // |limit|: a quality bound may be negative (SNR in dB) or zero
  const max = (constraint: ConstraintName, value: number, limit: number): ConstraintCheck => ({ constraint, value, limit, margin: (limit - value) / (Math.abs(limit) || 1), met: value <= limit });
  const min = (constraint: ConstraintName, value: number, limit: number): ConstraintCheck => ({ constraint, value, limit, margin: (value - limit) / (Math.abs(limit) || 1), met: value >= limit });
  const checks: ConstraintCheck[] = [];
  if (qos.latency) checks.push(max('latency', c.throughputFps < fps ? Infinity : latencyAt(c, qos.latency.at), qos.latency.ms));
  if (qos.quality) checks.push((qos.quality.bound === 'min' ? min : max)('quality', c.quality.value, qos.quality.limit));
  if (qos.edgeMemoryMB !== undefined) checks.push(max('edgeMemory', c.edgeMemoryBytes, qos.edgeMemoryMB * 1e6));
  if (qos.energyJ !== undefined && c.energyJ !== null) checks.push(max('energy', c.energyJ, qos.energyJ));
  if (qos.bytes !== undefined) checks.push(max('bytes', c.bytes, qos.bytes));
  checks.push(min('throughput', c.throughputFps, qos.throughputFps ?? fps));
  return checks;
}

/** The objective as a number to minimise, with latency (then quality) breaking ties. */
function score(c: PlanConfiguration, objective: Objective, at: string): number[] {
  const lat = latencyAt(c, at);
  switch (objective) {
    case 'max-quality':
    case 'max-accuracy':
      return [-goodness(c), lat];
    case 'min-latency':
      return [lat, -goodness(c)];
    case 'min-energy':
      return [c.energyJ ?? Infinity, lat];
    case 'min-bytes':
      return [c.bytes, lat];
    case 'max-throughput':
      return [-c.throughputFps, lat];
  }
}

const byScore = (objective: Objective, at: string) => (a: PlanConfiguration, b: PlanConfiguration) => {
  const [x, y] = [score(a, objective, at), score(b, objective, at)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
};

/** Configurations no other beats on every axis (latency at the constraint's percentile, quality, bytes, energy). */
export function paretoFront(configs: readonly PlanConfiguration[], at: string): PlanConfiguration[] {
  const axes = (c: PlanConfiguration) => [latencyAt(c, at), -goodness(c), c.bytes, c.energyJ ?? 0];
  const dominates = (a: number[], b: number[]) => a.every((v, i) => v <= b[i]!) && a.some((v, i) => v < b[i]!);
  const points = configs.map(axes);
  return configs.filter((_, i) => !points.some((p, j) => j !== i && dominates(p, points[i]!)));
}

const UNITS: Record<Exclude<ConstraintName, 'quality'>, (v: number) => string> = {
  latency: (v) => `${v.toFixed(1)} ms`,
  edgeMemory: (v) => `${(v / 1e6).toFixed(1)} MB`,
  energy: (v) => `${(1000 * v).toFixed(1)} mJ`,
  bytes: (v) => `${Math.round(v).toLocaleString('en-US')} B`,
  throughput: (v) => `${v.toFixed(1)} fps`,
};
/** A constraint's value in its unit; quality in its metric's (`metric`, default accuracy). */
export const formatConstraint = (name: ConstraintName, v: number, metric: MetricName = 'accuracy'): string =>
  name === 'quality' ? formatQuality(metric, v) : Number.isFinite(v) ? UNITS[name](v) : 'unbounded (overloaded)';

/** A check's value and limit as a sentence reads them. */
const checkValue = (c: PlanConfiguration, k: ConstraintCheck, v: number) => formatConstraint(k.constraint, v, c.quality.metric);
/** A constraint's name as a sentence reads it: the metric's label for quality. */
const checkName = (c: PlanConfiguration, k: ConstraintCheck) => (k.constraint === 'quality' ? c.quality.label : k.constraint);

function describe(c: PlanConfiguration, at: string): string {
  const where =
    c.placement === 'local' ? `everything on ${c.devices[0]}`
    : c.placement === 'remote' ? `the input (${c.codec}) sent from ${c.devices[0]} to ${c.devices[1]}`
    : c.placement === 'chain' ? `the model across ${c.devices.join(' -> ')}${c.cuts.length ? ` (cut${c.cuts.length > 1 ? 's' : ''} ${c.cuts.map((x) => `#${x.index}`).join(', ')})` : ''}, ${c.codec} between devices`
    : `split after cut #${c.cuts[0]!.index} (${c.cuts[0]!.id}), ${c.codec} on the wire, ${c.devices[0]} -> ${c.devices[1]}`;
  const exits = c.exits ? `, early exits at tau ${c.exits.threshold} answering ${(100 * c.exits.rates.reduce((a, b) => a + b, 0)).toFixed(0)} % on the device` : '';
  const down = c.downlinkBytes > 0 ? ` up, ${formatConstraint('bytes', c.downlinkBytes)} down` : '';
  return `${where}${exits}: ${at} latency ${formatConstraint('latency', latencyAt(c, at))}, ${c.quality.label} ${formatQuality(c.quality.metric, c.quality.value)}${c.quality.source === 'estimate' ? ' (estimate)' : ''}, ${formatConstraint('bytes', c.bytes)}${down} per inference${c.energyJ !== null ? `, ${formatConstraint('energy', c.energyJ)} on the device` : ''}`;
}

export interface Decision {
  feasible: PlanConfiguration[];
  pareto: PlanConfiguration[];
  recommendation: Recommendation | null;
  nearestMiss: NearestMiss | null;
}

const maxQuality = (objective: Objective) => objective === 'max-quality' || objective === 'max-accuracy';

/**
 * Feasible configurations best first. For max-quality, qualities within `tolerance` of the best count as equal
 * (a difference of a sample or two on a small test set is noise) and the fastest of them leads.
 */
function rank(feasible: PlanConfiguration[], objective: Objective, at: string, tolerance: number): PlanConfiguration[] {
  const sorted = [...feasible].sort(byScore(objective, at));
  if (!maxQuality(objective) || sorted.length === 0) return sorted;
  const top = goodness(sorted[0]!) - tolerance;
  const tied = sorted.filter((c) => goodness(c) >= top).sort(byScore('min-latency', at));
  return [...tied, ...sorted.filter((c) => goodness(c) < top)];
}

/**
 * Mark the splits that `rival` outclasses (module comment): those `beaten` says it beats at every percentile, in
 * bytes and in energy, whose quality leads the rival's by at most `tolerance` — measured, or (`stopped`
 * 'outclassed') bounded so by the adaptive screen. A rival that misses the QoS on quality outclasses nothing.
 */
export function outclass(configs: readonly PlanConfiguration[], rival: Pick<PlanConfiguration, 'id' | 'quality'>, qos: Qos, tolerance: number, beaten: (c: PlanConfiguration) => boolean): void {
  const q = qos.quality;
  if (q && !(q.bound === 'min' ? rival.quality.value >= q.limit : rival.quality.value <= q.limit)) return;
  const rivalGain = goodness(rival as PlanConfiguration);
  for (const c of configs) {
    if (c.placement !== 'split' || c.exits) continue;
    const tie = c.quality.stopped === 'outclassed' || (c.quality.stopped === undefined && withinTie(goodness(c) - rivalGain, tolerance));
    if (tie && beaten(c)) c.outclassedBy = rival.id;
  }
}

/** `tolerance`: of max-quality, in the metric's units. */
export function decide(configs: PlanConfiguration[], qos: Qos, objective: Objective, fps: number, tolerance = 0.005): Decision {
  const at = qos.latency?.at ?? 'p95';
  for (const c of configs) {
    c.checks = checkConfiguration(c, qos, fps);
    c.feasible = c.checks.every((k) => k.met);
  }
  // outclassed configurations rank after every other and stay off the front (module comment)
  const meets = configs.filter((c) => c.feasible);
  const feasible = [...rank(meets.filter((c) => !c.outclassedBy), objective, at, tolerance), ...rank(meets.filter((c) => c.outclassedBy), objective, at, tolerance)];
  if (feasible.length === 0) return { feasible, pareto: [], recommendation: null, nearestMiss: nearestMiss(configs) };
  const [best, runnerUp] = feasible;
  const binding = best!.checks.reduce<ConstraintCheck | null>((m, k) => (m === null || k.margin < m.margin ? k : m), null);
  const explanation = [
    `Recommended: ${describe(best!, at)}.`,
    `Objective ${objective}: the best of ${feasible.length} feasible configurations out of ${configs.length}${maxQuality(objective) ? ` (${best!.quality.label} within ${formatQualityDelta(best!.quality.metric, tolerance).slice(1)} of the best counts as equal; the fastest of those wins)` : ''}.`,
    ...(binding ? [`Binding constraint: ${checkName(best!, binding)}, ${checkValue(best!, binding, binding.value)} against a limit of ${checkValue(best!, binding, binding.limit)} (margin ${(100 * binding.margin).toFixed(1)} %).`] : []),
    ...(runnerUp ? [`Runner-up: ${runnerUp.id} — ${diff(best!, runnerUp, at)}.`] : ['No other configuration is feasible.']),
  ];
  return { feasible, pareto: paretoFront(feasible.filter((c) => !c.outclassedBy), at), recommendation: { id: best!.id, objective, explanation, binding, runnerUp: runnerUp?.id ?? null }, nearestMiss: null };
}

/** What switching from `a` to `b` changes. */
function diff(a: PlanConfiguration, b: PlanConfiguration, at: string): string {
  const dl = latencyAt(b, at) - latencyAt(a, at);
  const db = b.bytes - a.bytes;
  const parts = [`${at} latency ${dl >= 0 ? '+' : ''}${dl.toFixed(1)} ms`, `${a.quality.label} ${formatQualityDelta(a.quality.metric, b.quality.value - a.quality.value)}`, `${db >= 0 ? '+' : ''}${Math.round(db).toLocaleString('en-US')} B`];
  if (a.energyJ !== null && b.energyJ !== null) parts.push(`energy ${b.energyJ >= a.energyJ ? '+' : ''}${(1000 * (b.energyJ - a.energyJ)).toFixed(1)} mJ`);
  return parts.join(', ');
}

/** The configuration whose worst shortfall is smallest, and that shortfall. */
function nearestMiss(configs: readonly PlanConfiguration[]): NearestMiss | null {
  let best: { c: PlanConfiguration; worst: ConstraintCheck } | null = null;
  for (const c of configs) {
    const worst = c.checks.reduce((m, k) => (k.margin < m.margin ? k : m));
    if (!best || worst.margin > best.worst.margin) best = { c, worst };
  }
  if (!best) return null;
  const { c, worst } = best;
  const others = c.checks.filter((k) => !k.met && k !== worst);
  return {
    id: c.id,
    constraint: worst.constraint,
    value: worst.value,
    limit: worst.limit,
    shortBy: -worst.margin,
    explanation: [
      `Nothing meets every constraint. Closest: ${c.id}, whose ${checkName(c, worst)} is ${checkValue(c, worst, worst.value)} against ${checkValue(c, worst, worst.limit)} (${Number.isFinite(worst.margin) ? `${(100 * -worst.margin).toFixed(1)} % off` : 'overloaded'}).`,
      ...(others.length ? [`It also misses ${others.map((k) => `${checkName(c, k)} (${checkValue(c, k, k.value)} vs ${checkValue(c, k, k.limit)})`).join(', ')}.`] : [`Relaxing ${checkName(c, worst)} to ${checkValue(c, worst, worst.value)} would make it feasible.`]),
    ],
  };
}

/**
 * Configurations the adaptive evaluation stopped early (measured on fewer samples) that the decision may rest on:
 * among the first `finalists` feasible ones in rank order, on the Pareto front, the nearest miss, or any that would
 * join the front at the optimistic end of its interval (its point estimate on few samples may keep it off wrongly).
 */
export function stoppedFinalists(d: Decision, configs: readonly PlanConfiguration[], finalists: number, at: string): PlanConfiguration[] {
  const ids = new Set([...d.feasible.slice(0, Math.max(1, finalists)), ...d.pareto].map((c) => c.id));
  if (d.nearestMiss) ids.add(d.nearestMiss.id);
  const optimistic = (c: PlanConfiguration): PlanConfiguration => (c.quality.ci ? { ...c, quality: { ...c.quality, value: c.quality.better === 'higher' ? c.quality.ci[1] : c.quality.ci[0] } } : c);
  // the quality bound is a floor on a higher-is-better metric, a ceiling on a lower-is-better one (quality.ts)
  const meets = (c: PlanConfiguration, k: ConstraintCheck) => k.met || (k.constraint === 'quality' && gain(c.quality.better, c.quality.value) >= gain(c.quality.better, k.limit));
  const couldJoinFront = (c: PlanConfiguration) => {
    const best = optimistic(c);
    return c.checks.every((k) => meets(best, k)) && paretoFront([best, ...d.feasible.filter((f) => f.id !== c.id)], at).some((f) => f.id === c.id);
  };
  // an outclassed configuration is settled: it can neither lead nor join the front, whatever the rest of its samples
  return configs.filter((c) => c.quality.stopped !== undefined && !c.outclassedBy && (ids.has(c.id) || couldJoinFront(c)));
}

/** The configuration a result recommends, or the nearest miss when nothing is feasible. */
export const chosen = (r: PlanResult): PlanConfiguration | undefined => r.configurations.find((x) => x.id === (r.recommendation?.id ?? r.nearestMiss?.id));
