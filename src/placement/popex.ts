/**
 * POPEX (METHODS.md §5): the partition of a model with early exits between an edge device and the cloud that
 * minimises expected inference time, as the shortest path on a graph with an edge copy and a cloud copy of every
 * layer. Layer i (1..n) runs on the edge in edgeMs[i-1] or in the cloud in cloudMs[i-1]; exits sit before layers
 * and let a share p of the samples that reach them leave; P_i is the chance to reach layer i. Edge layer i weighs
 * P_i t_e(i), the hop to the cloud after layer s weighs P_s D_s / B (s = 0: sending the input), cloud layer i
 * weighs P_i t_c(i), and an exit branch b on the edge P_b t_e(b) — exactly the closed form
 *   E[T(s)] = sum_{i<=s} P_i t_e(i) + sum_{b<=s} P_b t_e(b) + P_s D_s / B + sum_{i>s} P_i t_c(i)
 * (as in POPEX, cloud layers keep the exits' reductions). `popexBruteForce` evaluates that formula for every s.
 */
import { ImperaError } from '../errors.js';

export interface PopexExit {
  /** The exit sits before layer `before` (2..n+1; n+1 = after the last layer), on the edge. */
  before: number;
  /** Share of the samples reaching the exit that leave there. */
  probability: number;
  /** Time of the exit branch on the edge. */
  branchMs: number;
}

export interface PopexProblem {
  edgeMs: readonly number[];
  cloudMs: readonly number[];
  /**
   * Time to send what crosses if the model is cut after layer s, s = 0 (the input) .. n - 1: D_s / B on an ideal
   * link, or a link model's transfer time (framing, propagation, TCP dynamics) for D_s bytes.
   */
  hopMs: readonly number[];
  exits: readonly PopexExit[];
}

export interface PopexPlan {
  /** Layers run on the edge (0: everything in the cloud; n: everything on the edge). */
  cut: number;
  expectedMs: number;
  /** The chance to reach each layer, P_1..P_n. */
  reach: number[];
}

function check(p: PopexProblem): number {
  const n = p.edgeMs.length;
  if (p.cloudMs.length !== n) throw new ImperaError('BAD_ARGUMENT', `POPEX: ${n} edge times but ${p.cloudMs.length} cloud times`);
  if (p.hopMs.length !== n) throw new ImperaError('BAD_ARGUMENT', `POPEX: transfer times must be given for cuts after layers 0..${n - 1}, got ${p.hopMs.length}`);
  if (p.hopMs.some((t) => !(t >= 0))) throw new ImperaError('BAD_ARGUMENT', 'POPEX: transfer times must be >= 0');
  for (const e of p.exits) {
    if (!(e.probability >= 0 && e.probability <= 1)) throw new ImperaError('BAD_ARGUMENT', `POPEX: exit probability ${e.probability} is outside [0, 1]`);
    if (!Number.isInteger(e.before) || e.before < 2 || e.before > n + 1) throw new ImperaError('BAD_ARGUMENT', `POPEX: an exit before layer ${e.before} does not exist (layers 1..${n})`);
  }
  return n;
}

/** P_i for i = 1..n+1 (index i - 1): the chance to get past every exit before layer i. */
function reach(p: PopexProblem, n: number): number[] {
  return Array.from({ length: n + 1 }, (_, idx) => p.exits.filter((e) => e.before <= idx + 1).reduce((prod, e) => prod * (1 - e.probability), 1));
}

/** The chance to reach exit b (past every exit before it). */
const exitReach = (p: PopexProblem, b: PopexExit) => p.exits.filter((e) => e.before < b.before).reduce((prod, e) => prod * (1 - e.probability), 1);

/** The closed form for one cut s: layers 1..s on the edge, s+1..n in the cloud. */
export function expectedTime(p: PopexProblem, s: number): number {
  const n = check(p);
  const P = reach(p, n);
  let t = 0;
  for (let i = 1; i <= s; i++) t += P[i - 1]! * p.edgeMs[i - 1]!;
  for (const b of p.exits) if (b.before <= s || s === n) t += exitReach(p, b) * b.branchMs;
  if (s < n) t += P[s === 0 ? 0 : s - 1]! * p.hopMs[s]!;
  for (let i = s + 1; i <= n; i++) t += P[i - 1]! * p.cloudMs[i - 1]!;
  return t;
}

export function popexBruteForce(p: PopexProblem): PopexPlan {
  const n = check(p);
  let best = { cut: 0, expectedMs: Infinity };
  for (let s = 0; s <= n; s++) {
    const t = expectedTime(p, s);
    if (t < best.expectedMs) best = { cut: s, expectedMs: t };
  }
  return { ...best, reach: reach(p, n).slice(0, n) };
}

/**
 * Shortest path from the input to the output on the two-copy graph (a DAG in layer order, so one relaxation pass
 * in topological order is Dijkstra's result). Nodes: edge_i and cloud_i after layer i (edge_0 = the input).
 */
export function popexShortestPath(p: PopexProblem): PopexPlan {
  const n = check(p);
  const P = reach(p, n);
  // edge branches sit on the edge chain: an exit before layer i is paid when the edge goes on past layer i - 1
  const branchBefore = (i: number) => p.exits.filter((b) => b.before === i).reduce((s, b) => s + exitReach(p, b) * b.branchMs, 0);
  const edge = new Array<number>(n + 1).fill(Infinity);
  const cloud = new Array<number>(n + 1).fill(Infinity);
  const cutAt = new Array<number>(n + 1).fill(-1);
  edge[0] = 0;
  for (let i = 0; i < n; i++) {
    // hop to the cloud after layer i, then stay in the cloud
    const viaHop = edge[i]! + P[i === 0 ? 0 : i - 1]! * p.hopMs[i]!;
    if (viaHop < cloud[i]!) {
      cloud[i] = viaHop;
      cutAt[i] = i;
    }
    const onEdge = edge[i]! + (i >= 1 ? branchBefore(i + 1) : 0) + P[i]! * p.edgeMs[i]!;
    edge[i + 1] = Math.min(edge[i + 1]!, onEdge);
    const inCloud = cloud[i]! + P[i]! * p.cloudMs[i]!;
    if (inCloud < cloud[i + 1]!) {
      cloud[i + 1] = inCloud;
      cutAt[i + 1] = cutAt[i]!;
    }
  }
  const allEdge = edge[n]! + branchBefore(n + 1);
  const [cut, expectedMs] = allEdge <= cloud[n]! ? [n, allEdge] : [cutAt[n]!, cloud[n]!];
  return { cut, expectedMs, reach: P.slice(0, n) };
}
