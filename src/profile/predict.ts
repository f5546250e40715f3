/**
 * A part's latency predicted from a measured profile, without running the part: the sum of its nodes' times in
 * the full model (a node fused into another's kernel carries its standalone time, see attribute.ts), plus what the
 * part pays on its own —
 *  - tensors ORT keeps in its blocked NCHWc layout are converted where the part receives or returns them;
 *  - each run has a fixed cost, and returning an output costs an allocation and a copy that grow with its size.
 * Edge costs come from the profile's boundary probes for the tensor's shape (interpolated by size for shapes
 * not probed). This is the cheap what-if: any head, tail or stage from one profile of the full model.
 */
import { ImperaError } from '../errors.js';
import { numel } from '../onnx/dtype.js';
import { isDataTensor, runtimeNodes, type Graph } from '../graph/graph.js';
import type { BoundaryCost, NodeTiming, Profile } from './profile-file.js';

export interface PartPrediction {
  ms: number;
  /** The sum of the part's node times. */
  nodesMs: number;
  /** Output hand-over and layout conversions at the part's edges. */
  boundaryMs: number;
}

/** Edge costs for a shape: probed, else interpolated linearly in the element count between probed shapes. */
function boundaryLookup(entries: readonly BoundaryCost[]): (shape: readonly number[]) => BoundaryCost {
  const exact = new Map(entries.map((e) => [e.shape.join('x'), e]));
  const bySize = [...entries].sort((a, b) => numel(a.shape) - numel(b.shape));
  return (shape) => {
    const hit = exact.get(shape.join('x'));
    if (hit) return hit;
    const n = numel(shape);
    const above = bySize.findIndex((e) => numel(e.shape) >= n);
    const [lo, hi] = above < 0 ? [bySize[bySize.length - 2], bySize[bySize.length - 1]] : above === 0 ? [bySize[0], bySize[0]] : [bySize[above - 1], bySize[above]];
    if (!lo || !hi) return { shape: [...shape], outputMs: 0, reorderInMs: 0, reorderOutMs: 0 };
    const span = numel(hi.shape) - numel(lo.shape);
    const at = (k: 'outputMs' | 'reorderInMs' | 'reorderOutMs') => Math.max(0, span === 0 ? lo[k] : lo[k] + ((hi[k] - lo[k]) * (n - numel(lo.shape))) / span);
    return { shape: [...shape], outputMs: at('outputMs'), reorderInMs: at('reorderInMs'), reorderOutMs: at('reorderOutMs') };
  };
}

/** What prediction needs from a measured profile. */
export type PredictionInputs = Pick<Profile, 'batch' | 'nodes' | 'boundaries' | 'blockedTensors'>;

/**
 * A predictor for parts of `g` (analysed at the batch to predict) from a measured profile made at that batch.
 * Returns a function of a part's runtime node indices.
 */
export function partPredictor(g: Graph, profile: PredictionInputs): (part: ReadonlySet<number>) => PartPrediction {
  const batch = g.batch?.size ?? profile.batch;
  const records = profile.nodes.filter((n) => (n.batch ?? profile.batch) === batch);
  if (records.length === 0) throw new ImperaError('PROFILE_INVALID', `the profile has no node times at batch ${batch}`, `profile the model with --batch ${batch}`);
  const runtime = new Set(runtimeNodes(g));
  const byName = new Map<string, NodeTiming>(records.map((r) => [r.name, r]));
  const blocked = new Set(profile.blockedTensors ?? []);
  const edges = (profile.boundaries ?? []).filter((b) => b.batch === batch);
  const edge = boundaryLookup(edges);
  const fixedMs = edges.length ? Math.min(...edges.map((e) => e.outputMs)) : 0;
  const graphOutputs = new Set(g.outputs.map((o) => o.name!));
  const isData = (t: string) => isDataTensor(g, t);
  const shape = (t: string) => [...g.tensors.get(t)!.shape];

  return (part) => {
    const nodesMs = [...part].reduce((s, i) => s + (byName.get(g.nodes[i]!.name)?.ms ?? 0), 0);
    const reads = new Set([...part].flatMap((i) => g.nodes[i]!.reads.filter(isData)));
    const inputs = [...reads].filter((t) => !part.has(g.tensors.get(t)!.producer));
    const outputs = [...part].flatMap((i) => g.nodes[i]!.outputs.filter(isData)).filter((t) => graphOutputs.has(t) || g.tensors.get(t)!.consumers.some((c) => !part.has(c) && runtime.has(c)));
    const reorderIn = inputs.filter((t) => blocked.has(t)).reduce((s, t) => s + edge(shape(t)).reorderInMs, 0);
    const reorderOut = outputs.filter((t) => blocked.has(t)).reduce((s, t) => s + edge(shape(t)).reorderOutMs, 0);
    // every output costs at least the run's fixed cost, which is paid once (noisy probes can extrapolate below it)
    const handOver = outputs.reduce((s, t) => s + Math.max(fixedMs, edge(shape(t)).outputMs), 0) - Math.max(0, outputs.length - 1) * fixedMs;
    const boundaryMs = reorderIn + reorderOut + handOver;
    return { ms: nodesMs + boundaryMs, nodesMs, boundaryMs };
  };
}

/** Relative error (predicted / measured - 1) of every head, tail and stage that has both figures. */
export function predictionErrors(profile: Pick<Profile, 'parts'>): number[] {
  return profile.parts.filter((p) => p.kind !== 'full' && p.measured && p.predictedMs !== undefined).map((p) => p.predictedMs! / p.measured!.medianMs - 1);
}
