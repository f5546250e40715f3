/**
 * Deploying early exits: the head (or the whole model, for all-on-device) gains one output per exit — the trained
 * branch's logits already divided by the exit's temperature — so the edge runner reads the exits' confidences from
 * the same ONNX Runtime run that produces the cut tensor. `exits.json` tells the runner the policy.
 */
import { Emitter } from '../onnx/emitter.js';
import { paramTensors } from './branch.js';
import { emitPool } from './features.js';
import { checkPolicy, type Policy } from './policy.js';
import type { TrainedExit } from './pipeline.js';
import { ImperaError } from '../errors.js';
import { tensor, type Graph } from '../graph/graph.js';
import { tensorLayout } from '../graph/layout.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';
import { onnx } from '../onnx/proto.js';
import type { ExportedPart } from '../export/extract.js';

export const exitOutput = (k: number): string => `exit${k}.logits`;

/** What the edge runner needs to apply the exits (written as exits.json). */
export interface ExitsDescription {
  policy: Policy['kind'];
  classes: number;
  exits: { output: string; cut: string; tensor: string; threshold: number; temperature: number }[];
}

/** The part with every exit's (temperature-scaled) logits as extra outputs; each exit tensor must be computed in it. */
export function attachExits(g: Graph, part: ExportedPart, exits: readonly TrainedExit[]): ExportedPart {
  const graph = part.proto.graph!;
  const inside = new Set([...(graph.node ?? []).flatMap((n) => n.output ?? []), ...(graph.input ?? []).map((i) => i.name!)]);
  const e = new Emitter(g.opsets.get('') ?? 13, 'exits');
  const outputs = exits.map((x, k) => {
    if (!inside.has(x.tensor)) {
      throw new ImperaError('BAD_ARGUMENT', `the exit at '${x.cut.id}' is not computed in ${part.name}`, 'exits run on the edge: split at a cut at or after the deepest exit');
    }
    const input = x.branch.spec.kind === 'conv' ? x.tensor : emitPool(e, x.tensor, tensor(g, x.tensor).shape, tensorLayout(g, x.tensor));
    const logits = x.branch.emit(e, input, (p) => p.name);
    return e.op('Div', [logits, e.scalar(x.temperature)], {}, { output: exitOutput(k) });
  });
  const proto = onnx.ModelProto.create({
    ...part.proto,
    graph: {
      ...graph,
      node: [...(graph.node ?? []), ...e.nodes],
      initializer: [...(graph.initializer ?? []), ...e.initializers, ...exits.flatMap((x) => paramTensors(x.branch, x.values))],
      output: [...(graph.output ?? []), ...exits.map((x, k) => valueInfo(outputs[k]!, DataType.FLOAT, ['batch', x.branch.classes]))],
    },
  });
  return { ...part, proto, outputs: [...part.outputs, ...outputs] };
}

export function describeExits(exits: readonly TrainedExit[], policy: Policy): ExitsDescription {
  // an unchecked policy would write exits.json with missing or out-of-range thresholds for the runner to trip on
  checkPolicy(policy, exits.length);
  return {
    policy: policy.kind,
    classes: exits[0]?.branch.classes ?? 0,
    exits: exits.map((x, k) => ({ output: exitOutput(k), cut: x.cut.id, tensor: x.tensor, threshold: policy.thresholds[k]!, temperature: x.temperature })),
  };
}
