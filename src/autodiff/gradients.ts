/**
 * Gradients as one call: build the backward graph for the requested tensors and objective, run it once in ONNX
 * Runtime on the given inputs, and return each gradient with the targets it was taken for. The library's
 * `computeGradients` and `impera grad` both go through here.
 */
import type { Graph } from '../graph/graph.js';
import { DataType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run, type Feeds } from '../ort/session.js';
import { ImperaError } from '../errors.js';
import { buildBackwardGraph, type Objective, type OutputSelection } from './backward.js';

export interface GradientOptions {
  /** Tensors to differentiate with respect to: graph inputs, intermediate tensors, initializers. */
  wrt: readonly string[];
  /** What is differentiated (BackwardSpec.objective): target-logit (the default), cross-entropy, l2, fidelity or seed. */
  objective?: Objective;
  /** One class per sample, or 'predicted' (each sample's arg-max, the default): target-logit and cross-entropy. */
  targets?: readonly number[] | 'predicted';
  /** The output the objective is on (default: the first); seed: the outputs of `outputGrads`. */
  output?: string;
  /** l2: a channel and/or region of the output. */
  select?: OutputSelection;
  /** fidelity on maps: the threshold of the model's own map (default 0.5). */
  threshold?: number;
  /** seed: dL/dy per output, each in its output's shape. */
  outputGrads?: Record<string, Tensor>;
}

export interface Gradients {
  /** The gradient of the objective with respect to each `wrt` tensor, in its shape. */
  gradients: Map<string, Tensor>;
  /** The class each sample's objective used (target-logit, cross-entropy, fidelity on [N, K]); otherwise empty. */
  targets: number[];
  /** The objective's value: mean cross-entropy, or the l2 / fidelity sum over the batch. */
  loss?: number;
  /** `wrt` tensors the objective does not depend on: their gradient is zero. */
  unreachable: string[];
}

/** Runs forward and backward once on `inputs` (every graph input, batch N first) and returns the gradients. */
export async function computeGradients(g: Graph, inputs: Feeds, o: GradientOptions): Promise<Gradients> {
  const targets = o.targets ?? 'predicted';
  const objective = o.objective ?? 'target-logit';
  if (objective === 'seed' && !o.outputGrads) throw new ImperaError('BAD_ARGUMENT', 'objective seed needs the gradient of each output (outputGrads)', 'give dL/dy per output, e.g. from a .npy file');
  const outputs = objective === 'seed' ? Object.keys(o.outputGrads!) : o.output ? [o.output] : undefined;
  const bwd = buildBackwardGraph(g, {
    wrt: o.wrt,
    objective,
    targets: targets === 'predicted' ? 'predicted' : 'input',
    ...(outputs ? { outputs } : {}),
    ...(o.select ? { select: o.select } : {}),
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
  });
  const feeds: Feeds = { ...inputs };
  if (bwd.targetsInput && targets !== 'predicted') feeds[bwd.targetsInput] = { dtype: DataType.INT64, dims: [targets.length], data: BigInt64Array.from(targets.map(BigInt)) };
  for (const [output, input] of bwd.outputGradInputs ?? []) feeds[input] = o.outputGrads![output]!;
  const session = await createSession(bwd.proto, g.model.dir);
  try {
    const out = await run(session, feeds);
    return {
      gradients: new Map(o.wrt.map((t) => [t, out[bwd.gradients.get(t)!]!])),
      targets: bwd.targetsOutput ? Array.from(out[bwd.targetsOutput]!.data as BigInt64Array, Number) : bwd.targetsInput && targets !== 'predicted' ? [...targets] : [],
      ...(bwd.lossOutput ? { loss: (out[bwd.lossOutput]!.data as Float32Array)[0]! } : {}),
      unreachable: bwd.unreachable,
    };
  } finally {
    await session.release();
  }
}
