/**
 * Checking a request against the model's metadata before anything reaches ONNX Runtime: every input present once,
 * no unknown ones, the model's datatype, rank and fixed dims, one batch size shared by the batched inputs and
 * within the limit, and only outputs the model has. What passes is a set of feeds ONNX Runtime accepts.
 */
import type { Tensor, TypedArray } from '../../onnx/tensor.js';
import { onnxType } from './datatypes.js';
import { ProtocolError } from './errors.js';
import type { InferRequest, ModelMetadata, TensorMetadata } from './messages.js';
import type { InferTensor } from './tensor.js';

export interface CheckedRequest {
  feeds: Record<string, Tensor>;
  /** The batch size (dim 0 of the batched inputs), 1 for models without a batch dim. */
  batch: number;
  /** Outputs to compute, in the model's order. */
  outputs: string[];
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** Is dim 0 of this tensor the batch (variable in the model)? */
export const isBatched = (t: TensorMetadata): boolean => t.shape.length > 0 && t.shape[0] === -1;

function checkTensor(model: ModelMetadata, meta: TensorMetadata, t: InferTensor): void {
  const where = `input '${t.name}'`;
  if (t.datatype !== meta.datatype) throw new ProtocolError(400, `${where} of model '${model.name}' is ${meta.datatype}, got ${t.datatype}`);
  if (t.shape.length !== meta.shape.length) throw new ProtocolError(400, `${where} of model '${model.name}' has shape ${fmt(meta.shape)}, got ${fmt(t.shape)} (rank ${t.shape.length}, not ${meta.shape.length})`);
  meta.shape.forEach((d, i) => {
    const got = t.shape[i]!;
    if (d === -1 ? got < 1 : got !== d) throw new ProtocolError(400, `${where} of model '${model.name}' has shape ${fmt(meta.shape)} (-1: any size >= 1), got ${fmt(t.shape)}`);
  });
}

/** Validate the inputs and requested outputs of a request; `maxBatch` bounds dim 0 of batched inputs. */
export function checkRequest(model: ModelMetadata, req: Pick<InferRequest, 'inputs' | 'outputs'>, maxBatch: number): CheckedRequest {
  const byName = new Map<string, InferTensor>();
  for (const t of req.inputs) {
    if (byName.has(t.name)) throw new ProtocolError(400, `input '${t.name}' is given twice`);
    const meta = model.inputs.find((m) => m.name === t.name);
    if (!meta) throw new ProtocolError(400, `model '${model.name}' has no input '${t.name}'`, `its inputs are ${model.inputs.map((m) => `'${m.name}'`).join(', ')}`);
    checkTensor(model, meta, t);
    byName.set(t.name, t);
  }
  const missing = model.inputs.filter((m) => !byName.has(m.name));
  if (missing.length) throw new ProtocolError(400, `model '${model.name}' needs input${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m.name}'`).join(', ')}`);
  const batches = new Set(model.inputs.filter(isBatched).map((m) => byName.get(m.name)!.shape[0]!));
  if (batches.size > 1) throw new ProtocolError(400, `the batched inputs of model '${model.name}' disagree on the batch size (dim 0): ${[...batches].join(' vs ')}`);
  const batch = batches.size ? [...batches][0]! : 1;
  if (batch > maxBatch) throw new ProtocolError(400, `batch ${batch} is larger than the server allows for model '${model.name}' (${maxBatch})`, 'split the request');
  const requested = req.outputs?.map((o) => o.name) ?? model.outputs.map((o) => o.name);
  for (const name of requested) {
    if (!model.outputs.some((o) => o.name === name)) throw new ProtocolError(400, `model '${model.name}' has no output '${name}'`, `its outputs are ${model.outputs.map((m) => `'${m.name}'`).join(', ')}`);
  }
  if (new Set(requested).size !== requested.length) throw new ProtocolError(400, 'an output is requested twice');
  const feeds = Object.fromEntries(model.inputs.map((m) => {
    const t = byName.get(m.name)!;
    return [m.name, { dtype: onnxType(m.datatype), dims: t.shape, data: t.data as TypedArray }];
  }));
  return { feeds, batch, outputs: model.outputs.map((o) => o.name).filter((n) => requested.includes(n)) };
}
