/**
 * What training on impera's backward graphs shares (exit branches, learned bottlenecks): the Adam update in
 * JavaScript, in place, and feeding the whole training set once so that Gather picks each mini-batch inside ONNX
 * Runtime (no copying per step).
 */
import { valueInfo, type Dim } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';
import { onnx, type ModelProto } from '../onnx/proto.js';

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;

/** One Adam step in place; a predefined-sparse weight keeps its absent connections at zero. */
export function adamStep(w: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, lr: number, step: number, mask?: Float32Array): void {
  // w -= lr m^ / (sqrt(v^) + eps), with m^ = m / (1 - b1^t) and v^ = v / (1 - b2^t) folded into two constants
  const rate = lr / (1 - BETA1 ** step);
  const scale = 1 / Math.sqrt(1 - BETA2 ** step);
  for (let i = 0; i < w.length; i++) {
    const g = grad[i]!;
    const mi = BETA1 * m[i]! + (1 - BETA1) * g;
    const vi = BETA2 * v[i]! + (1 - BETA2) * g * g;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i]! - (rate * mi) / (Math.sqrt(vi) * scale + EPS);
  }
  if (mask) for (let i = 0; i < w.length; i++) if (mask[i] === 0) w[i] = 0;
}

/** Input of the row numbers of one mini-batch. */
export const BATCH_ROWS = 'train::rows';

/** A per-sample input of the model fed whole: `whole` (every sample) replaces `input`, picked by BATCH_ROWS. */
export interface WholeSetInput {
  input: string;
  whole: string;
  dtype: DataType;
  /** Dims of one sample. */
  sampleDims: readonly Dim[];
}

/** `model` with each listed input fed for the whole set and Gather picking the mini-batch's rows inside ORT. */
export function pickRows(model: ModelProto, inputs: readonly WholeSetInput[]): ModelProto {
  const graph = model.graph!;
  const pick = (from: string, to: string) => onnx.NodeProto.create({ opType: 'Gather', input: [from, BATCH_ROWS], output: [to], name: `pick ${to}`, attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] });
  const replaced = new Set(inputs.map((i) => i.input));
  return onnx.ModelProto.create({
    ...model,
    graph: {
      ...graph,
      node: [...inputs.map((i) => pick(i.whole, i.input)), ...(graph.node ?? [])],
      input: [
        ...inputs.map((i) => valueInfo(i.whole, i.dtype, ['samples', ...i.sampleDims])),
        valueInfo(BATCH_ROWS, DataType.INT32, ['batch']),
        ...(graph.input ?? []).filter((i) => !replaced.has(i.name!)),
      ],
    },
  });
}
