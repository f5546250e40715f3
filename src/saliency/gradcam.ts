/**
 * The saliency model: forward + backward to every candidate layer, with each layer's Grad-CAM map computed inside
 * the same ONNX graph (METHODS.md §2), so only the small maps leave ONNX Runtime.
 *
 * For an activation A with gradient G = d y_c / d A:
 *  - images [N, C, H, W]: alpha_k = mean_ij G[k,i,j]; M[i,j] = ReLU(mean_k alpha_k A[k,i,j]).
 *  - tokens [N, T, C] (transformers): the analogue with tokens as positions: alpha_k = mean_t G[t,k];
 *    M[t] = ReLU(mean_k alpha_k A[t,k]); every token counts, the class token included.
 *  - vectors [N, C]: one position: M = ReLU(mean_k G[k] A[k]).
 *  - any other rank the same way, with the positions every axis but the batch and the channels (graph/layout.ts): a
 *    1-D convolution's [N, C, T] (audio) has T positions, a volume [N, C, D, H, W] D x H x W.
 * G is the gradient of the chosen objective: the target logit (I-SPLIT), or, for any model, the l2 norm of (part of)
 * an output, the fidelity loss against the model's own decision, or a fed output gradient (autodiff/backward.ts).
 */
import { buildBackwardGraph, gradientName, TARGETS_INPUT, type BackwardSpec } from '../autodiff/backward.js';
import { Emitter } from '../onnx/emitter.js';
import { ImperaError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import { channelAxes, tensorLayout } from '../graph/layout.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';
import { onnx, type ModelProto } from '../onnx/proto.js';

/**
 * What the maps explain: the labelled or predicted class's logit (`target`, METHODS.md §2), or any other objective
 * of the backward graph but cross-entropy (a batch mean, so a sample's map would depend on its batch).
 */
export type SaliencyObjective = { objective: 'target-logit'; target: 'label' | 'pred' } | (Pick<BackwardSpec, 'outputs' | 'select' | 'threshold'> & { objective: 'l2' | 'fidelity' | 'seed' });

export interface SaliencyModel {
  proto: ModelProto;
  /** Output name of each layer's map: [N, ...positions] ([N, H, W], [N, T] or [N]). */
  maps: Map<string, string>;
  /** target-logit: the class each sample was explained for (labels fed, or predictions). */
  targetsOutput?: string;
  /** Input for the labels when explaining the labelled class. */
  targetsInput?: string;
  /** seed: per output, the input its gradient is fed to. */
  outputGradInputs?: Map<string, string>;
  /** target-logit: the class logits (for the accuracy the saliency run reports). */
  logits?: string;
}

/** `objective`: 'label' or 'pred' is short for the target logit of that class. */
export function buildSaliencyModel(g: Graph, layers: readonly string[], objective: SaliencyObjective | 'label' | 'pred'): SaliencyModel {
  const axes = channelAxes(g);
  for (const l of layers) {
    const t = g.tensors.get(l);
    if (!t) throw new ImperaError('BAD_ARGUMENT', `layer '${l}' is not a tensor of the model`);
    if (!tensorLayout(g, l, axes)) throw new ImperaError('BAD_ARGUMENT', `layer '${l}' has shape [${t.shape}]; Grad-CAM needs a batch and channels (rank 2 or more)`);
  }
  const { objective: kind, ...rest } = typeof objective === 'string' ? ({ objective: 'target-logit', target: objective } as const) : objective;
  const spec: BackwardSpec = 'target' in rest ? { wrt: layers, targets: rest.target === 'label' ? 'input' : 'predicted' } : { wrt: layers, objective: kind, ...rest };
  const bwd = buildBackwardGraph(g, spec);
  const e = new Emitter(bwd.opset, 'gradcam'); // the backward model's opset, raised above the model's if a rule needed it
  const maps = new Map<string, string>();
  for (const l of layers) {
    const { channelAxis, positionAxes } = tensorLayout(g, l, axes)!;
    const grad = gradientName(l);
    // channels first: GlobalAveragePool is the same mean, and runs in ORT's NCHWc layout (no reorder of the gradient)
    const channelsFirst = channelAxis === 1 && positionAxes.length > 0 && positionAxes.every((a, i) => a === i + 2);
    const alpha = channelsFirst ? e.op('GlobalAveragePool', [grad]) : positionAxes.length ? e.reduceMean(grad, positionAxes, true) : grad;
    const weighted = e.reduceMean(e.mul(alpha, l), [channelAxis], false);
    maps.set(l, e.op('Relu', [weighted], {}, { output: `${l}::gradcam` }));
  }
  const classes = kind === 'target-logit';
  const logits = g.outputs[0]!.name!;
  const targetsOutput = classes ? (bwd.targetsOutput ?? e.op('Identity', [TARGETS_INPUT], {}, { output: 'impera::targets_used' })) : undefined;
  const graph = bwd.proto.graph!;
  const mapOutputs = [...maps.values()].map((m) => valueInfo(m, DataType.FLOAT));
  const outputs = targetsOutput ? [valueInfo(logits, DataType.FLOAT), valueInfo(targetsOutput, DataType.INT64), ...mapOutputs] : mapOutputs;
  const proto = onnx.ModelProto.create({
    ...bwd.proto,
    // gradients are no graph outputs any more: ONNX Runtime frees each as soon as its map is computed
    graph: { ...graph, node: [...(graph.node ?? []), ...e.nodes], initializer: [...(graph.initializer ?? []), ...e.initializers], output: outputs },
  });
  return {
    proto,
    maps,
    ...(targetsOutput ? { targetsOutput, logits } : {}),
    ...(bwd.targetsInput ? { targetsInput: bwd.targetsInput } : {}),
    ...(bwd.outputGradInputs ? { outputGradInputs: bwd.outputGradInputs } : {}),
  };
}
