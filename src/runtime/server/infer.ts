/**
 * One inference request from decoded body to response, the same for HTTP and the stream: find the model, unpack
 * packed wire bytes, validate against the metadata, queue (and batch) under a deadline, and build the response
 * with the server's own timing as response parameters (extension "impera_timing").
 */
import { ProtocolError } from '../protocol/errors.js';
import { PACKED_WIRE_INPUT, TIMING } from '../protocol/extensions.js';
import type { InferRequest, InferResponse } from '../protocol/messages.js';
import { inferTensor } from '../protocol/tensor.js';
import { checkRequest } from '../protocol/validate.js';
import { unpackWireInput, type ServedModel } from './model.js';
import type { Scheduler } from './scheduler.js';

/** The models by name, and the lookup the routes share. */
export class ModelTable {
  private readonly byName: Map<string, ServedModel>;

  constructor(readonly models: readonly ServedModel[]) {
    this.byName = new Map(models.map((m) => [m.name, m]));
  }

  get(name: string | undefined, version?: string): ServedModel {
    const model = name === undefined ? undefined : this.byName.get(name);
    if (!model) throw new ProtocolError(404, name === undefined ? 'the request names no model' : `no model '${name}'`, `this server serves ${this.models.map((m) => `'${m.name}'`).join(', ')}`);
    if (version !== undefined && version !== model.version) throw new ProtocolError(404, `model '${model.name}' has no version '${version}'`, `it has version ${model.version}`);
    return model;
  }
}

/**
 * `work` or a 504 after `ms`; `expired` turns true then, so a request still queued is dropped (a running batch
 * cannot be stopped: its answer for this request is discarded).
 */
async function withDeadline<T>(ms: number, work: (expired: () => boolean) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new ProtocolError(504, `the inference did not finish within ${ms} ms`, 'the server is overloaded or the model too slow for its inference timeout'));
    }, ms);
  });
  try {
    return await Promise.race([work(() => expired), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function infer(scheduler: Scheduler, model: ServedModel, req: InferRequest, abandoned: () => boolean, timeoutMs: number): Promise<InferResponse> {
  const packed = req.inputs.find((t) => t.name === PACKED_WIRE_INPUT);
  if (packed && !model.wire) throw new ProtocolError(400, `model '${model.name}' takes no packed wire input`, 'it has no codec.json; send its input tensors');
  if (packed && req.inputs.length > 1) throw new ProtocolError(400, `'${PACKED_WIRE_INPUT}' replaces all of the model's inputs; send it alone`);
  const inputs = packed ? unpackWireInput(model, packed) : req.inputs;
  const checked = checkRequest(model.metadata, { inputs, ...(req.outputs ? { outputs: req.outputs } : {}) }, model.maxBatch);
  const done = await withDeadline(timeoutMs, (expired) => scheduler.submit(model, checked.feeds, checked.batch, checked.outputs, () => expired() || abandoned()));
  return {
    model_name: model.name,
    model_version: model.version,
    ...(req.id !== undefined ? { id: req.id } : {}),
    parameters: { [TIMING.queue]: done.queueMs, [TIMING.compute]: done.computeMs, [TIMING.batch]: done.batchSize },
    outputs: checked.outputs.map((name) => inferTensor(name, done.outputs[name]!)),
  };
}
