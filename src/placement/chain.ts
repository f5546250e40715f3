/**
 * Partitioning a model over a chain of k heterogeneous devices joined by k - 1 links (METHODS.md §7, Mukherjee &
 * Dey): device j runs the j-th of k consecutive stages and sends what it hands on over link j to device j + 1.
 * Stages are unions of consecutive stretches between single-tensor cuts (on a DAG every path crosses each such cut,
 * their heads are nested, and the model is a chain of stretches: `stretches` in cuts/cuts.ts).
 *
 * Two objectives: the latency of one inference (every stage and hop in turn) and the throughput of a pipelined
 * stream (1000 / the slowest stage or hop, in frames per second). A stage needs its weights plus its peak
 * activations in memory (`partCost`); a stage that does not fit its device is infeasible. Exact dynamic
 * programming over the boundary positions, O(k m^2) for m stretches; `bruteForceChain` enumerates every choice.
 * For throughput, ties on the slowest stage are broken by latency (a second pass bounded by the best bottleneck).
 *
 * Empty stages are allowed, so the plan tells when fewer devices are better. The input sits on device 1 and the
 * result is delivered by the last device that computes. A device that computes nothing *relays* in the middle of
 * the chain (it holds the tensor it forwards, and both its links carry it; device 1 relaying sends the raw input),
 * and is *idle* after the last computing device (its link is not used).
 */
import { singleTensorCuts, stretches, type Cut } from '../cuts/cuts.js';
import { partCost } from '../cost/part.js';
import { ImperaError } from '../errors.js';
import { runtimeNodes, tensor, type Graph } from '../graph/graph.js';

export interface ChainDevice {
  name: string;
  /** Time (ms) of one stage: its runtime node indices (non-empty, in a topological order). */
  ms(nodes: readonly number[]): number;
  /** Memory for a stage's weights and peak activations, bytes. */
  memoryBytes: number;
}

export interface ChainLink {
  name: string;
  /** Time (ms) to send `bytes` to the next device. */
  ms(bytes: number): number;
}

export interface ChainProblem {
  graph: Graph;
  devices: readonly ChainDevice[];
  /** links[j] joins devices[j] and devices[j + 1]: exactly devices.length - 1 of them. */
  links: readonly ChainLink[];
  /** Where stages may end: single-tensor cuts in depth order (default: `singleTensorCuts(graph)`). */
  boundaries?: readonly Cut[];
  /** Bytes sent across a boundary (default: the cut's bytes at its own type; e.g. `(c) => c.wireBytes.int8`). */
  cutBytes?: (cut: Cut) => number;
}

export type ChainObjective = 'latency' | 'throughput';

export interface ChainStage {
  device: string;
  role: 'compute' | 'relay' | 'idle';
  /** Stretches [from, to) of the model run here (from === to when relaying or idle). */
  from: number;
  to: number;
  nodes: number;
  ms: number;
  /** Weights + peak activations (a relay holds the tensor it forwards), and what the device has. */
  memoryBytes: number;
  capacityBytes: number;
}

export interface ChainHop {
  link: string;
  /** What crosses: the graph input(s) or the cut's tensor. */
  tensor: string;
  bytes: number;
  ms: number;
}

export interface ChainPlan {
  objective: ChainObjective;
  /** End of each stage but the last, as a stretch count (0: before the first stretch; m: after the last). */
  positions: number[];
  /** The cuts whose tensors cross a link, in chain order. */
  cuts: Cut[];
  stages: ChainStage[];
  /** The links used, in chain order (none after the last computing device). */
  hops: ChainHop[];
  latencyMs: number;
  /** The slowest stage or hop, and the pipelined frame rate it allows (1000 / bottleneckMs). */
  bottleneckMs: number;
  throughputFps: number;
  /** Devices that compute a stage. */
  devicesUsed: number;
  /** Stretches the model was divided into (boundaries + 1). */
  stretches: number;
}

/** What crosses at a position: the graph inputs (0) or a boundary's tensor. */
interface Crossing {
  tensor: string;
  bytes: number;
  cut: Cut | null;
}

/** The problem with stage and hop figures computed on demand, each once. */
interface Table {
  problem: ChainProblem;
  k: number;
  m: number;
  crossing: Crossing[];
  /** Memory of the stage [a, b) (b > a); time of that stage on device j; time of sending position p over link j. */
  memory(a: number, b: number): number;
  stageMs(j: number, a: number, b: number): number;
  hopMs(j: number, p: number): number;
  nodes(a: number, b: number): number;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 3 : 1)} MB`;

function memoized(size: number, compute: (i: number) => number): (i: number) => number {
  const cache = new Float64Array(size).fill(NaN);
  return (i) => {
    if (Number.isNaN(cache[i]!)) cache[i] = compute(i);
    return cache[i]!;
  };
}

function checkProblem(p: ChainProblem, boundaries: readonly Cut[]): void {
  const k = p.devices.length;
  if (k === 0) throw new ImperaError('BAD_ARGUMENT', 'a chain needs at least one device', 'list the devices from the one holding the input onwards');
  if (p.links.length !== k - 1) {
    throw new ImperaError('BAD_ARGUMENT', `a chain of ${k} devices needs ${k - 1} link${k === 2 ? '' : 's'} between them, got ${p.links.length}`, 'links[j] joins devices[j] and devices[j + 1]');
  }
  for (const d of p.devices) {
    if (!(Number.isFinite(d.memoryBytes) && d.memoryBytes > 0)) throw new ImperaError('BAD_ARGUMENT', `device '${d.name}': memory must be a positive number of bytes, got ${d.memoryBytes}`);
  }
  boundaries.forEach((c, i) => {
    if (c.tensors.length !== 1) throw new ImperaError('INVALID_CUT', `boundary '${c.id}' has ${c.tensors.length} tensors: chain stages end at single-tensor cuts`, 'use singleTensorCuts(g)');
    const prev = boundaries[i - 1];
    if (prev && !(c.head.size > prev.head.size && [...prev.head].every((n) => c.head.has(n)))) {
      throw new ImperaError('INVALID_CUT', `boundary '${c.id}' does not lie after '${prev.id}'`, 'list boundaries in increasing depth, each after the previous');
    }
  });
}

function buildTable(p: ChainProblem): Table {
  const g = p.graph;
  const boundaries = p.boundaries ?? singleTensorCuts(g);
  checkProblem(p, boundaries);
  const layers = stretches(g, boundaries);
  const [k, m] = [p.devices.length, layers.length];
  const runtime = new Set(runtimeNodes(g));
  const inputs = g.inputs.map((v) => v.name!).filter((n) => g.tensors.get(n)?.consumers.some((c) => runtime.has(c)));
  const cutBytes = p.cutBytes ?? ((c: Cut) => c.bytes);
  const crossing: Crossing[] = [
    { tensor: inputs.join('+'), bytes: inputs.reduce((s, n) => s + tensor(g, n).bytes, 0), cut: null },
    ...boundaries.map((c) => ({ tensor: c.id, bytes: cutBytes(c), cut: c })),
  ];
  const span = m + 1;
  const nodesOf = (i: number) => layers.slice(Math.floor(i / span), i % span).flat();
  const memory = memoized(span * span, (i) => {
    const cost = partCost(g, new Set(nodesOf(i)));
    return cost.paramBytes + cost.peakActivationBytes;
  });
  const stageMs = memoized(k * span * span, (i) => p.devices[Math.floor(i / (span * span))]!.ms(nodesOf(i % (span * span))));
  const hopMs = memoized(Math.max(1, k - 1) * m, (i) => p.links[Math.floor(i / m)]!.ms(crossing[i % m]!.bytes));
  const sizes = layers.map((l) => l.length);
  return {
    problem: p,
    k,
    m,
    crossing,
    memory: (a, b) => memory(a * span + b),
    stageMs: (j, a, b) => stageMs((j * span + a) * span + b),
    hopMs: (j, q) => hopMs(j * m + q),
    nodes: (a, b) => sizes.slice(a, b).reduce((s, n) => s + n, 0),
  };
}

/** Memory a stage [a, b) on any device needs: its part, the tensor it relays, or nothing when idle. */
const stageMemory = (t: Table, a: number, b: number) => (a < b ? t.memory(a, b) : a < t.m ? t.crossing[a]!.bytes : 0);

/** Time of stage [a, b) on device j, Infinity when it does not fit. */
function stageTime(t: Table, j: number, a: number, b: number): number {
  if (stageMemory(t, a, b) > t.problem.devices[j]!.memoryBytes) return Infinity;
  return a < b ? t.stageMs(j, a, b) : 0;
}

/** Cost of a stage or hop for one pass of the dynamic programme; combine is a monotone sum or max. */
interface Pass {
  stage(j: number, a: number, b: number): number;
  hop(j: number, p: number): number;
  combine(x: number, y: number): number;
}

/**
 * Minimum over 0 <= c_1 <= ... <= c_{k-1} <= m of the stages' and used hops' costs combined; the hop after device j
 * carries position c_{j+1} and is used while c_{j+1} < m. Returns the value and the positions.
 */
function solve(t: Table, pass: Pass): { value: number; positions: number[] } {
  const { k, m } = t;
  let best = Array.from({ length: m + 1 }, (_, q) => pass.stage(0, 0, q));
  const from: number[][] = [];
  for (let j = 1; j < k; j++) {
    const next = new Array<number>(m + 1).fill(Infinity);
    const arg = new Array<number>(m + 1).fill(m);
    for (let q = 0; q <= m; q++) {
      for (let p = 0; p <= q; p++) {
        if (best[p] === Infinity) continue;
        const step = p < m ? pass.combine(pass.hop(j - 1, p), pass.stage(j, p, q)) : pass.stage(j, m, m);
        const v = pass.combine(best[p]!, step);
        if (v < next[q]!) [next[q], arg[q]] = [v, p];
      }
    }
    from.push(arg);
    best = next;
  }
  const positions: number[] = [];
  for (let j = k - 2, q = m; j >= 0; j--) positions.unshift((q = from[j]![q]!));
  return { value: best[m]!, positions };
}

const sum = (x: number, y: number) => x + y;

/** The plan for given stage ends, with every figure. */
function evaluate(t: Table, objective: ChainObjective, positions: readonly number[]): ChainPlan {
  const { devices, links } = t.problem;
  const bounds = [0, ...positions, t.m];
  const stages = devices.map((d, j): ChainStage => {
    const [a, b] = [bounds[j]!, bounds[j + 1]!];
    const role = a < b ? 'compute' : a < t.m ? 'relay' : 'idle';
    return { device: d.name, role, from: a, to: b, nodes: t.nodes(a, b), ms: a < b ? t.stageMs(j, a, b) : 0, memoryBytes: stageMemory(t, a, b), capacityBytes: d.memoryBytes };
  });
  const hops = links.flatMap((l, j): ChainHop[] => {
    const q = bounds[j + 1]!;
    return q < t.m ? [{ link: l.name, tensor: t.crossing[q]!.tensor, bytes: t.crossing[q]!.bytes, ms: t.hopMs(j, q) }] : [];
  });
  const cuts = [...new Set(positions.filter((q) => q > 0 && q < t.m).map((q) => t.crossing[q]!.cut!))];
  const times = [...stages.map((s) => s.ms), ...hops.map((h) => h.ms)];
  const bottleneckMs = Math.max(...times);
  return {
    objective,
    positions: [...positions],
    cuts,
    stages,
    hops,
    latencyMs: times.reduce(sum, 0),
    bottleneckMs,
    throughputFps: 1000 / bottleneckMs,
    devicesUsed: stages.filter((s) => s.role === 'compute').length,
    stretches: t.m,
  };
}

/**
 * Nothing fits: the stage ends that come closest (least memory missing on any device), named in the error.
 * Times play no part here: every device's capacity is compared with the stage it would run.
 */
function doesNotFit(t: Table): ImperaError {
  const { devices } = t.problem;
  const excess = (j: number, a: number, b: number) => stageMemory(t, a, b) - devices[j]!.memoryBytes;
  const closest = solve(t, { stage: excess, hop: () => -Infinity, combine: Math.max });
  const bounds = [0, ...closest.positions, t.m];
  const worst = devices.map((_, j) => j).reduce((w, j) => (excess(j, bounds[j]!, bounds[j + 1]!) > excess(w, bounds[w]!, bounds[w + 1]!) ? j : w));
  const [a, b] = [bounds[worst]!, bounds[worst + 1]!];
  const need = stageMemory(t, a, b);
  const device = devices[worst]!;
  const what = a < b ? `its stage from '${t.crossing[a]!.tensor}' to '${b < t.m ? t.crossing[b]!.tensor : 'the output'}'` : `relaying '${t.crossing[a]!.tensor}'`;
  return new ImperaError(
    'DOES_NOT_FIT',
    `the model does not fit the chain of ${devices.length} device${devices.length === 1 ? '' : 's'}: device '${device.name}' is too small by ${mb(need - device.memoryBytes)} (${Math.ceil(need - device.memoryBytes)} bytes)${devices.length > 1 ? ' even in the closest split' : ''} (it would need ${mb(need)} for ${what}, it has ${mb(device.memoryBytes)})`,
    `give '${device.name}' more memory, add a device to the chain, or shrink the model (e.g. lower-precision weights)`,
  );
}

/** The exact optimum by dynamic programming; throws DOES_NOT_FIT when no split fits the devices' memory. */
export function planChain(problem: ChainProblem, objective: ChainObjective): ChainPlan {
  const t = buildTable(problem);
  const time = (j: number, a: number, b: number) => stageTime(t, j, a, b);
  const latency = (bound: number) =>
    solve(t, {
      stage: (j, a, b) => (time(j, a, b) <= bound ? time(j, a, b) : Infinity),
      hop: (j, p) => (t.hopMs(j, p) <= bound ? t.hopMs(j, p) : Infinity),
      combine: sum,
    });
  const bottleneck = objective === 'throughput' ? solve(t, { stage: time, hop: (j, p) => t.hopMs(j, p), combine: Math.max }).value : Infinity;
  const best = latency(bottleneck);
  if (best.value === Infinity) throw doesNotFit(t);
  return evaluate(t, objective, best.positions);
}

/** Every non-decreasing sequence of `length` positions in [from, m]. */
function* stageEnds(length: number, m: number, from = 0): Generator<number[]> {
  if (length === 0) yield [];
  else for (let q = from; q <= m; q++) for (const rest of stageEnds(length - 1, m, q)) yield [q, ...rest];
}

/** Every choice of stage ends, evaluated: the cross-check of `planChain` (same optimum, same errors). */
export function bruteForceChain(problem: ChainProblem, objective: ChainObjective): ChainPlan {
  const t = buildTable(problem);
  const better = (a: ChainPlan, b: ChainPlan) =>
    objective === 'latency' ? a.latencyMs < b.latencyMs : a.bottleneckMs < b.bottleneckMs || (a.bottleneckMs === b.bottleneckMs && a.latencyMs < b.latencyMs);
  let best: ChainPlan | null = null;
  for (const positions of stageEnds(t.k - 1, t.m)) {
    const plan = evaluate(t, objective, positions);
    if (plan.stages.every((s) => s.memoryBytes <= s.capacityBytes) && (!best || better(plan, best))) best = plan;
  }
  if (!best) throw doesNotFit(t);
  return best;
}
