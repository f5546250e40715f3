/**
 * Gradients as one call: build the backward graph for the requested tensors and objective, run it once in ONNX
 * Runtime on the given inputs, and return each gradient with the targets it was taken for. The library's
 * `computeGradients` and `impera grad` both go through here.
 */
import type { Graph } from '../graph/graph.js';
import { DataType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run, type Feeds } from '../ort/session.js';
import { buildBackwardGraph } from './backward.js';

export interface GradientOptions {
  /** Tensors to differentiate with respect to: graph inputs, intermediate tensors, initializers. */
  wrt: readonly string[];
  /** target-logit (sum of logit[target] over the batch, the default) or cross-entropy (mean over the batch). */
  objective?: 'target-logit' | 'cross-entropy';
  /** One class per sample, or 'predicted' (each sample's arg-max, the default). */
  targets?: readonly number[] | 'predicted';
}

export interface Gradients {
  /** The gradient of the objective with respect to each `wrt` tensor, in its shape. */
  gradients: Map<string, Tensor>;
  /** The class each sample's objective used. */
  targets: number[];
  /** The mean cross-entropy (objective 'cross-entropy' only). */
  loss?: number;
  /** `wrt` tensors the objective does not depend on: their gradient is zero. */
  unreachable: string[];
}

/** Runs forward and backward once on `inputs` (every graph input, batch N first) and returns the gradients. */
export async function computeGradients(g: Graph, inputs: Feeds, o: GradientOptions): Promise<Gradients> {
  const targets = o.targets ?? 'predicted';
  const bwd = buildBackwardGraph(g, { wrt: o.wrt, objective: o.objective ?? 'target-logit', targets: targets === 'predicted' ? 'predicted' : 'input' });
  const feeds: Feeds = { ...inputs };
  if (bwd.targetsInput && targets !== 'predicted') feeds[bwd.targetsInput] = { dtype: DataType.INT64, dims: [targets.length], data: BigInt64Array.from(targets.map(BigInt)) };
  const session = await createSession(bwd.proto, g.model.dir);
  try {
    const out = await run(session, feeds);
    return {
      gradients: new Map(o.wrt.map((t) => [t, out[bwd.gradients.get(t)!]!])),
      targets: targets === 'predicted' ? Array.from(out[bwd.targetsOutput!]!.data as BigInt64Array, Number) : [...targets],
      ...(bwd.lossOutput ? { loss: (out[bwd.lossOutput]!.data as Float32Array)[0]! } : {}),
      unreachable: bwd.unreachable,
    };
  } finally {
    await session.release();
  }
}
