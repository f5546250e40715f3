/**
 * POPEX on a real model: its "layers" are the stretches between consecutive single-tensor cuts (on a DAG every
 * path crosses each of them, so their heads are nested and the model is a chain of stretches), each timed on the
 * edge and in the cloud from profiles; the hop after a stretch sends that cut's bytes over a link model. Exits sit
 * at cuts. The result names the best cut, E[T], and each path's time (for missed-deadline probabilities).
 */
import { modelCost } from '../cost/part.js';
import { singleTensorCuts, stretches, type Cut } from '../cuts/cuts.js';
import type { Link } from '../net/link.js';
import { pathOf } from '../net/path.js';
import { numel } from '../onnx/dtype.js';
import { transferStats, type Transport } from '../net/transfer.js';
import type { Profile } from '../profile/profile-file.js';
import { partPredictor } from '../profile/predict.js';
import { ImperaError } from '../errors.js';
import { runtimeNodes, type Graph } from '../graph/graph.js';
import type { TrainedExit } from '../exits/pipeline.js';
import { popexBruteForce, popexShortestPath, type PopexPlan, type PopexProblem } from './popex.js';

export interface ModelCosts {
  /** Time of a set of nodes on the edge device and on the server. */
  edgeMs(nodes: readonly number[]): number;
  cloudMs(nodes: readonly number[]): number;
  /** Time to send `bytes` up the link. */
  hopMs(bytes: number): number;
}

export interface ModelExit {
  cut: Cut;
  /** Share of the samples reaching the exit that leave there. */
  probability: number;
  branchMs: number;
}

export interface ModelPopex {
  /** Layer boundaries: the cut after layer i is boundaries[i - 1]; layer n ends at the output. */
  boundaries: Cut[];
  problem: PopexProblem;
  plan: PopexPlan;
  /** The brute-force answer, as a cross-check. */
  bruteForce: PopexPlan;
  /** The chosen cut ('cloud': everything in the cloud; 'edge': everything on the edge). */
  cut: Cut | 'cloud' | 'edge';
}

/** Conditional exit probabilities from the shares of all samples leaving at each exit (in depth order). */
export function conditionalRates(rates: readonly number[]): number[] {
  let left = 1;
  return rates.map((r) => {
    const p = left > 0 ? Math.min(1, r / left) : 0;
    left -= r;
    return p;
  });
}

/**
 * The POPEX problem for `g`: boundaries are the given single-tensor cuts plus the exits' cuts, in depth order.
 * `inputBytes` is what crosses when everything runs in the cloud.
 */
export function modelPopex(g: Graph, cuts: readonly Cut[], exits: readonly ModelExit[], costs: ModelCosts, inputBytes: number): ModelPopex {
  const byIndex = new Map([...cuts, ...exits.map((e) => e.cut)].map((c) => [c.index, c]));
  const boundaries = [...byIndex.values()].filter((c) => c.tensors.length === 1).sort((a, b) => a.index - b.index);
  const layers = stretches(g, boundaries);
  const problem: PopexProblem = {
    edgeMs: layers.map((l) => costs.edgeMs(l)),
    cloudMs: layers.map((l) => costs.cloudMs(l)),
    hopMs: [inputBytes, ...boundaries.map((c) => c.bytes)].map((b) => costs.hopMs(b)),
    exits: exits.map((e) => {
      const at = boundaries.findIndex((c) => c.index === e.cut.index);
      if (at < 0) throw new ImperaError('BAD_ARGUMENT', `exit cut '${e.cut.id}' is not a single-tensor cut (it has ${e.cut.tensors.length} tensors)`, 'POPEX places exits between layers: pick single-tensor cuts (impera inspect lists them)');
      return { before: at + 2, probability: e.probability, branchMs: e.branchMs };
    }),
  };
  const plan = popexShortestPath(problem);
  const cut = plan.cut === 0 ? 'cloud' : plan.cut === layers.length ? 'edge' : boundaries[plan.cut - 1]!;
  return { boundaries, problem, plan, bruteForce: popexBruteForce(problem), cut };
}

/**
 * Time of each path through the partition after layer `cut`: leaving at each exit (in problem order), or running
 * to the end. As in the closed form, an exit runs on the edge when it lies before the cut (or everything is on the
 * edge); an edge exit answers after the edge layers and the branches up to it, a cloud exit after the hop and the
 * cloud layers up to it (its branch time in the cloud is not modelled).
 */
export function pathTimes(p: PopexProblem, cut: number): number[] {
  const n = p.edgeMs.length;
  const onEdge = (before: number) => before <= cut || cut === n;
  const sum = (xs: readonly number[], from: number, to: number) => xs.slice(from, to).reduce((a, b) => a + b, 0);
  const branches = (upTo: number) => p.exits.filter((b) => onEdge(b.before) && b.before <= upTo).reduce((s, b) => s + b.branchMs, 0);
  const viaCloud = (lastLayer: number) => sum(p.edgeMs, 0, cut) + branches(cut) + p.hopMs[cut]! + sum(p.cloudMs, cut, lastLayer);
  const exitPaths = p.exits.map((b) => (onEdge(b.before) ? sum(p.edgeMs, 0, b.before - 1) + branches(b.before) : viaCloud(b.before - 1)));
  return [...exitPaths, cut === n ? sum(p.edgeMs, 0, n) + branches(n + 1) : viaCloud(n)];
}

/** POPEX for a model with trained exits between two profiled machines and a link; `run` takes the exits' shares. */
export interface PopexSetup {
  run(rates: readonly number[]): ModelPopex;
  device: string;
  server: string;
  link: string;
}

export interface PopexSummary {
  /** 'cloud', 'edge', or the cut's tensor. */
  cut: string;
  cutIndex: number | null;
  expectedMs: number;
  bruteForceMs: number;
  layers: number;
}

export const popexSummary = (p: ModelPopex): PopexSummary => ({
  cut: typeof p.cut === 'string' ? p.cut : p.cut.id,
  cutIndex: typeof p.cut === 'string' ? null : p.cut.index,
  expectedMs: p.plan.expectedMs,
  bruteForceMs: p.bruteForce.expectedMs,
  layers: p.problem.edgeMs.length,
});

/**
 * Layer times are the profiles' node times summed per stretch (part boundaries excluded: the stretches run back to
 * back); the hop is the link model's mean transfer time of the cut's float32 bytes; an exit branch, tiny next to the
 * backbone, costs its FLOPs at the edge's average speed on the whole model.
 */
export function profilePopex(g: Graph, exits: readonly TrainedExit[], edge: Profile, cloud: Profile, link: Link, transport: Transport): PopexSetup {
  const [edgePart, cloudPart] = [partPredictor(g, edge), partPredictor(g, cloud)];
  const edgeMs = (nodes: readonly number[]) => edgePart(new Set(nodes)).nodesMs;
  const cloudMs = (nodes: readonly number[]) => cloudPart(new Set(nodes)).nodesMs;
  const up = pathOf(link, 'up');
  const hops = new Map<number, number>();
  const hopMs = (bytes: number) => hops.get(bytes) ?? hops.set(bytes, transferStats(up, transport, bytes, { samples: 500 }).time.mean).get(bytes)!;
  const cuts = singleTensorCuts(g);
  const inputBytes = [...g.inputShapes.values()].reduce((s, i) => s + numel(i.shape) * 4, 0);
  const edgeMsPerFlop = edgeMs(runtimeNodes(g)) / Math.max(1, modelCost(g).flops);
  const branchFlops = (e: TrainedExit) => 2 * e.branch.macs + numel(e.cut.detail[0]!.shape);
  return {
    device: `${edge.device.name} (${edge.device.kind})`,
    server: `${cloud.device.name} (${cloud.device.kind})`,
    link: link.name,
    run: (rates) => {
      const probabilities = conditionalRates(rates);
      const modelExits = exits.map((e, k) => ({ cut: e.cut, probability: probabilities[k] ?? 0, branchMs: branchFlops(e) * edgeMsPerFlop }));
      return modelPopex(g, cuts, modelExits, { edgeMs, cloudMs, hopMs }, inputBytes);
    },
  };
}
