/**
 * Ranking candidate cuts by how well a trained bottleneck there is predicted to keep quality: per candidate its
 * depth, the CUI (I-SPLIT, computed by saliency/), every training-free proxy (proxies.ts), and `predicted`, the
 * score the planner ranks by (docs/BOTTLENECKS.md, "Predicting quality"). Spearman's rank correlation is how every
 * predictor is judged against trained ground truth.
 */
import type { ProxyName } from './proxies.js';

export interface CandidateFigures {
  tensor: string;
  /** Share of the model's MACs computed before the cut (0 at the input, 1 at the output). */
  depth: number;
  /** I-SPLIT's CUI of the tensor (null where saliency did not run or the tensor is not a saliency layer). */
  cui: number | null;
  /** Each proxy's quality (the task's metric, oriented so that higher is better). */
  proxies: Partial<Record<ProxyName, number>>;
}

export interface RankedCandidate extends CandidateFigures {
  predicted: number;
  /** 1 = the cut predicted best. */
  rank: number;
}

/**
 * `predicted`: the best proxy's quality. Each proxy is a fixed linear bottleneck at the ratio, which a trained
 * bottleneck can learn or beat, so the best of them is a floor of what training reaches at that cut; different
 * depths favour different shapes (channel-only where positions matter, spatial where channels do), hence the max.
 */
export function predictedScore(proxies: Partial<Record<ProxyName, number>>): number {
  const values = Object.values(proxies).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length ? Math.max(...values) : NaN;
}

/** Candidates with their predicted score and rank (ties: the shallower cut first, it costs the device less). */
export function rankCandidates(candidates: readonly CandidateFigures[]): RankedCandidate[] {
  const scored = candidates.map((c) => ({ ...c, predicted: predictedScore(c.proxies) }));
  const order = scored.map((c, i) => i).sort((a, b) => scored[b]!.predicted - scored[a]!.predicted || scored[a]!.depth - scored[b]!.depth);
  return scored.map((c, i) => ({ ...c, rank: order.indexOf(i) + 1 }));
}
