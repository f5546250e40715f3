/**
 * The candidate ranking the planner and `impera rank` share: per single-tensor cut its depth, I-SPLIT's CUI
 * (saliency/), the training-free bottleneck proxies (bottlenecks/) and `predicted`, the score cuts are ranked by.
 */
import { measureProxies, singleTensor, type ProxyReport } from '../bottlenecks/proxies.js';
import { rankCandidates, type RankedCandidate } from '../bottlenecks/rank.js';
import type { Cut } from '../cuts/cuts.js';
import type { Dataset } from '../data/dataset.js';
import type { Graph } from '../graph/graph.js';
import { channelAxes } from '../graph/layout.js';
import { runSaliency } from '../saliency/dataset-saliency.js';

export interface RankOptions {
  data: Dataset;
  /** Images the proxies' PCAs are fitted on. */
  calibration: Dataset;
  /** Share of the cut tensor's elements a bottleneck sends (default 1/64). */
  ratio?: number;
  samples?: number;
  calibrationSamples?: number;
  /** false: no saliency pass (CUI null), e.g. for a model saliency cannot explain. */
  cui?: boolean;
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface RankReport {
  ratio: number;
  samples: number;
  task: ProxyReport['task'];
  full: ProxyReport['full'];
  /** In depth order, each with the cut's index (as `impera inspect` numbers it). */
  candidates: (RankedCandidate & { cut: number; proxyRatios: Record<string, number> })[];
}

export async function rankCuts(g: Graph, cuts: readonly Cut[], o: RankOptions): Promise<RankReport> {
  const axes = channelAxes(g);
  for (const cut of cuts) singleTensor(g, cut, axes); // refuse a wider cut before any pass runs
  const samples = Math.min(o.samples ?? 200, o.data.size);
  const saliency = o.cui === false ? null : await runSaliency(g, o.data, { layers: cuts.map((c) => c.tensors[0]!), samples, onProgress: (d, t) => o.onProgress?.('saliency', d, t) });
  const proxies = await measureProxies(g, cuts, { data: o.data, calibration: o.calibration, samples, ...(o.ratio ? { ratio: o.ratio } : {}), ...(o.calibrationSamples ? { calibrationSamples: o.calibrationSamples } : {}), onProgress: (phase, d, t) => o.onProgress?.(phase, d, t) });
  const sign = proxies.task.better === 'higher' ? 1 : -1;
  const ranked = rankCandidates(
    cuts.map((cut, c) => ({
      tensor: cut.tensors[0]!,
      depth: cut.headCost.macs / (cut.headCost.macs + cut.tailCost.macs),
      cui: saliency ? saliency.curve[c]!.cui : null,
      proxies: Object.fromEntries(proxies.cuts[c]!.proxies.map((p) => [p.name, sign * p.quality.value])),
    })),
  );
  return {
    ratio: proxies.ratio,
    samples: proxies.samples,
    task: proxies.task,
    full: proxies.full,
    candidates: ranked.map((r, c) => ({ ...r, cut: cuts[c]!.index, proxyRatios: Object.fromEntries(proxies.cuts[c]!.proxies.map((p) => [p.name, p.ratio])) })),
  };
}
