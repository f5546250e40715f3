/**
 * QoS matching (METHODS.md §4): every configuration checked against the constraints, the feasible set, its
 * Pareto front over latency, accuracy, bytes and energy, the pick by the stated objective with a plain-language
 * explanation (the binding constraint and its margin, what the runner-up would change) — or, when nothing is
 * feasible, the constraint closest to being met and by how much.
 */
import type { PlanScenarioConfig } from './scenario.js';
import type { ConstraintCheck, ConstraintName, NearestMiss, PlanConfiguration, PlanResult, Recommendation } from './types.js';

export type Qos = PlanScenarioConfig['qos'];
export type Objective = PlanScenarioConfig['objective'];

/** The configuration's latency at a percentile (or the mean), as the QoS names it. */
export const latencyAt = (c: PlanConfiguration, at: string): number => (at === 'mean' ? c.latency.meanMs : at === 'p50' ? c.latency.p50Ms : at === 'p99' ? c.latency.p99Ms : c.latency.p95Ms);

/** Checks of one configuration; a stream the configuration cannot sustain (throughput below the frame rate) misses its latency too. */
export function checkConfiguration(c: PlanConfiguration, qos: Qos, fps: number): ConstraintCheck[] {
  const max = (constraint: ConstraintName, value: number, limit: number): ConstraintCheck => ({ constraint, value, limit, margin: (limit - value) / limit, met: value <= limit });
  const min = (constraint: ConstraintName, value: number, limit: number): ConstraintCheck => ({ constraint, value, limit, margin: (value - limit) / limit, met: value >= limit });
  const checks: ConstraintCheck[] = [];
  if (qos.latency) checks.push(max('latency', c.throughputFps < fps ? Infinity : latencyAt(c, qos.latency.at), qos.latency.ms));
  if (qos.accuracy !== undefined) checks.push(min('accuracy', c.accuracy.value, qos.accuracy));
  if (qos.edgeMemoryMB !== undefined) checks.push(max('edgeMemory', c.edgeMemoryBytes, qos.edgeMemoryMB * 1e6));
  if (qos.energyJ !== undefined && c.energyJ !== null) checks.push(max('energy', c.energyJ, qos.energyJ));
  if (qos.bytes !== undefined) checks.push(max('bytes', c.bytes, qos.bytes));
  checks.push(min('throughput', c.throughputFps, qos.throughputFps ?? fps));
  return checks;
}

/** The objective as a number to minimise, with latency (then accuracy) breaking ties. */
function score(c: PlanConfiguration, objective: Objective, at: string): number[] {
  const lat = latencyAt(c, at);
  switch (objective) {
    case 'max-accuracy':
      return [-c.accuracy.value, lat];
    case 'min-latency':
      return [lat, -c.accuracy.value];
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

/** Configurations no other beats on every axis (latency at the constraint's percentile, accuracy, bytes, energy). */
export function paretoFront(configs: readonly PlanConfiguration[], at: string): PlanConfiguration[] {
  const axes = (c: PlanConfiguration) => [latencyAt(c, at), -c.accuracy.value, c.bytes, c.energyJ ?? 0];
  const dominates = (a: number[], b: number[]) => a.every((v, i) => v <= b[i]!) && a.some((v, i) => v < b[i]!);
  const points = configs.map(axes);
  return configs.filter((_, i) => !points.some((p, j) => j !== i && dominates(p, points[i]!)));
}

const UNITS: Record<ConstraintName, (v: number) => string> = {
  latency: (v) => `${v.toFixed(1)} ms`,
  accuracy: (v) => `${(100 * v).toFixed(1)} %`,
  edgeMemory: (v) => `${(v / 1e6).toFixed(1)} MB`,
  energy: (v) => `${(1000 * v).toFixed(1)} mJ`,
  bytes: (v) => `${Math.round(v).toLocaleString('en-US')} B`,
  throughput: (v) => `${v.toFixed(1)} fps`,
};
export const formatConstraint = (name: ConstraintName, v: number): string => (Number.isFinite(v) ? UNITS[name](v) : 'unbounded (overloaded)');

function describe(c: PlanConfiguration, at: string): string {
  const where =
    c.placement === 'local' ? `everything on ${c.devices[0]}`
    : c.placement === 'remote' ? `the input (${c.codec}) sent from ${c.devices[0]} to ${c.devices[1]}`
    : c.placement === 'chain' ? `the model across ${c.devices.join(' -> ')}${c.cuts.length ? ` (cut${c.cuts.length > 1 ? 's' : ''} ${c.cuts.map((x) => `#${x.index}`).join(', ')})` : ''}, ${c.codec} between devices`
    : `split after cut #${c.cuts[0]!.index} (${c.cuts[0]!.id}), ${c.codec} on the wire, ${c.devices[0]} -> ${c.devices[1]}`;
  const exits = c.exits ? `, early exits at tau ${c.exits.threshold} answering ${(100 * c.exits.rates.reduce((a, b) => a + b, 0)).toFixed(0)} % on the device` : '';
  return `${where}${exits}: ${at} latency ${formatConstraint('latency', latencyAt(c, at))}, accuracy ${formatConstraint('accuracy', c.accuracy.value)}${c.accuracy.source === 'estimate' ? ' (estimate)' : ''}, ${formatConstraint('bytes', c.bytes)} per inference${c.energyJ !== null ? `, ${formatConstraint('energy', c.energyJ)} on the device` : ''}`;
}

export interface Decision {
  feasible: PlanConfiguration[];
  pareto: PlanConfiguration[];
  recommendation: Recommendation | null;
  nearestMiss: NearestMiss | null;
}

/**
 * Feasible configurations best first. For max-accuracy, accuracies within `tolerance` of the best count as equal
 * (a difference of an image or two on a small test set is noise) and the fastest of them leads.
 */
function rank(feasible: PlanConfiguration[], objective: Objective, at: string, tolerance: number): PlanConfiguration[] {
  const sorted = [...feasible].sort(byScore(objective, at));
  if (objective !== 'max-accuracy' || sorted.length === 0) return sorted;
  const top = sorted[0]!.accuracy.value - tolerance;
  const tied = sorted.filter((c) => c.accuracy.value >= top).sort(byScore('min-latency', at));
  return [...tied, ...sorted.filter((c) => c.accuracy.value < top)];
}

export function decide(configs: PlanConfiguration[], qos: Qos, objective: Objective, fps: number, accuracyTolerance = 0.005): Decision {
  const at = qos.latency?.at ?? 'p95';
  for (const c of configs) {
    c.checks = checkConfiguration(c, qos, fps);
    c.feasible = c.checks.every((k) => k.met);
  }
  const feasible = rank(configs.filter((c) => c.feasible), objective, at, accuracyTolerance);
  if (feasible.length === 0) return { feasible, pareto: [], recommendation: null, nearestMiss: nearestMiss(configs) };
  const [best, runnerUp] = feasible;
  const binding = best!.checks.reduce<ConstraintCheck | null>((m, k) => (m === null || k.margin < m.margin ? k : m), null);
  const explanation = [
    `Recommended: ${describe(best!, at)}.`,
    `Objective ${objective}: the best of ${feasible.length} feasible configurations out of ${configs.length}${objective === 'max-accuracy' ? ` (accuracies within ${(100 * accuracyTolerance).toFixed(1)} points of the best count as equal; the fastest of those wins)` : ''}.`,
    ...(binding ? [`Binding constraint: ${binding.constraint}, ${formatConstraint(binding.constraint, binding.value)} against a limit of ${formatConstraint(binding.constraint, binding.limit)} (margin ${(100 * binding.margin).toFixed(1)} %).`] : []),
    ...(runnerUp ? [`Runner-up: ${runnerUp.id} — ${diff(best!, runnerUp, at)}.`] : ['No other configuration is feasible.']),
  ];
  return { feasible, pareto: paretoFront(feasible, at), recommendation: { id: best!.id, objective, explanation, binding, runnerUp: runnerUp?.id ?? null }, nearestMiss: null };
}

/** What switching from `a` to `b` changes. */
function diff(a: PlanConfiguration, b: PlanConfiguration, at: string): string {
  const dl = latencyAt(b, at) - latencyAt(a, at);
  const da = 100 * (b.accuracy.value - a.accuracy.value);
  const db = b.bytes - a.bytes;
  const parts = [`${at} latency ${dl >= 0 ? '+' : ''}${dl.toFixed(1)} ms`, `accuracy ${da >= 0 ? '+' : ''}${da.toFixed(2)} points`, `${db >= 0 ? '+' : ''}${Math.round(db).toLocaleString('en-US')} B`];
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
      `Nothing meets every constraint. Closest: ${c.id}, whose ${worst.constraint} is ${formatConstraint(worst.constraint, worst.value)} against ${formatConstraint(worst.constraint, worst.limit)} (${Number.isFinite(worst.margin) ? `${(100 * -worst.margin).toFixed(1)} % off` : 'overloaded'}).`,
      ...(others.length ? [`It also misses ${others.map((k) => `${k.constraint} (${formatConstraint(k.constraint, k.value)} vs ${formatConstraint(k.constraint, k.limit)})`).join(', ')}.`] : [`Relaxing ${worst.constraint} to ${formatConstraint(worst.constraint, worst.value)} would make it feasible.`]),
    ],
  };
}

/** The configuration a result recommends, or the nearest miss when nothing is feasible. */
export const chosen = (r: PlanResult): PlanConfiguration | undefined => r.configurations.find((x) => x.id === (r.recommendation?.id ?? r.nearestMiss?.id));
