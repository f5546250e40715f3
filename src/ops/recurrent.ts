/**
 * Recurrent layers: RNN, GRU and LSTM (X [T, B, I]; ONNX Runtime runs no layout 1). Their outputs' shapes follow from
 * the input's and hidden_size, and their cost from the gates each step computes, so PyTorch's GRU and LSTM exports
 * are shaped without an ONNX Runtime run and their layers count in latency predictions.
 */
import { attrInt, attrString } from '../onnx/attributes.js';
import type { RuleList } from '../onnx/op-table.js';
import { badNode, type OpContext, type OpRule } from './types.js';

/** Gate pre-activations per step, and element-wise operations per hidden unit per step (activations and the state update). */
const CELLS = { RNN: { gates: 1, elementwise: 2 }, GRU: { gates: 3, elementwise: 10 }, LSTM: { gates: 4, elementwise: 12 } } as const;

/** Steps, batch, input size, hidden size and directions of a recurrent node. */
function recurrentDims(ctx: OpContext) {
  const x = ctx.input(0).shape;
  if (x.length !== 3) throw badNode(ctx, `X must have rank 3, got [${x}]`);
  if (attrInt(ctx.node.proto, 'layout', 0) !== 0) throw badNode(ctx, 'layout 1 (batch first), which ONNX Runtime does not run');
  const hidden = attrInt(ctx.node.proto, 'hidden_size', 0) || ctx.input(2).shape[2]!;
  const directions = attrString(ctx.node.proto, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
  const w = ctx.input(1).shape;
  if (w[2] !== x[2]) throw badNode(ctx, `W [${w}] does not take inputs of size ${x[2]}`);
  // initial states [directions, batch, hidden] must have X's batch (a state whose batch dim did not grow with X's)
  for (const k of [5, 6]) {
    const state = ctx.node.inputs[k] ? ctx.inputs[k]?.shape : undefined;
    if (state && state[1] !== x[1]) throw badNode(ctx, `initial state ${k === 5 ? 'h' : 'c'} [${state}] has batch ${state[1]}, X [${x}] has ${x[1]}`);
  }
  return { steps: x[0]!, batch: x[1]!, input: x[2]!, hidden, directions };
}

function recurrentRule(op: keyof typeof CELLS): OpRule {
  const cell = CELLS[op];
  return {
    infer: (ctx) => {
      const { steps, batch, hidden, directions } = recurrentDims(ctx);
      const dtype = ctx.input(0).dtype;
      return ctx.node.outputs.map((_, k) => ({ dtype, shape: k === 0 ? [steps, directions, batch, hidden] : [directions, batch, hidden] }));
    },
    cost: (ctx) => {
      const { steps, batch, input, hidden, directions } = recurrentDims(ctx);
      const units = steps * batch * directions * hidden;
      const macs = units * cell.gates * (input + hidden);
      return { macs, flops: 2 * macs + units * cell.elementwise };
    },
  };
}

export const recurrentRules: RuleList<OpRule> = [
  ['RNN', recurrentRule('RNN')],
  ['GRU', recurrentRule('GRU')],
  ['LSTM', recurrentRule('LSTM')],
];
