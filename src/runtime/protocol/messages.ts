/**
 * The protocol's messages: inference request and response objects (inference_rest.md), model and server metadata,
 * and the binary extension's choices - which outputs come back as binary data ("binary_data" on an output, else
 * "binary_data_output" on the request) and the raw binary request (Inference-Header-Content-Length: 0, the body
 * being the bytes of a model's only input).
 */
import { numel } from '../../onnx/dtype.js';
import { z } from 'zod';
import type { Datatype } from './datatypes.js';
import { elementBytes } from './datatypes.js';
import { zodMessage } from '../../util/config.js';
import { dataFromBinary, decodeTensors, encodeBody, parametersSchema, splitBody, type EncodedBody } from './body.js';
import { isProtocolError, ProtocolError } from './errors.js';
import { JSON_LIMITS, type JsonLimits } from './limits.js';
import { type InferTensor, type Parameters } from './tensor.js';

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

export interface InferRequest {
  id?: string;
  parameters?: Parameters;
  inputs: InferTensor[];
  /** Outputs to return; all of the model's when absent. */
  outputs?: RequestedOutput[];
}

export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Parameters;
  outputs: InferTensor[];
}

/** A tensor in model metadata: variable-size dims are -1. */
export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

const requestFields = z.object({
  id: z.string().optional(),
  parameters: parametersSchema.optional(),
  outputs: z.array(z.object({ name: z.string().min(1, 'name must not be empty'), parameters: parametersSchema.optional() })).optional(),
  // Triton's binary-extension example names the model in the body; accepted and checked against the URL
  model_name: z.string().optional(),
  model_version: z.string().optional(),
});

const responseFields = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: parametersSchema.optional(),
});

export interface DecodedRequest extends InferRequest {
  /** The model the body names, if it names one (over HTTP the URL is authoritative). */
  modelName?: string;
  modelVersion?: string;
}

/** Decode a request body within `limits`; a failure carries the request's id when it could be read. */
export function decodeRequest(body: Uint8Array, headerLength: number | undefined, limits: JsonLimits = JSON_LIMITS): DecodedRequest {
  const split = splitBody(body, headerLength, 'inputs', limits);
  const id = typeof split.fields.id === 'string' ? split.fields.id : undefined;
  try {
    const parsed = requestFields.safeParse(split.fields);
    if (!parsed.success) throw new ProtocolError(400, zodMessage('request', parsed.error));
    const { parameters, outputs, model_name, model_version } = parsed.data;
    return {
      inputs: decodeTensors(split, 'inputs'),
      ...(id !== undefined ? { id } : {}),
      ...(parameters ? { parameters } : {}),
      ...(outputs ? { outputs } : {}),
      ...(model_name ? { modelName: model_name } : {}),
      ...(model_version ? { modelVersion: model_version } : {}),
    };
  } catch (e) {
    if (isProtocolError(e)) e.requestId = id;
    throw e;
  }
}

/** A raw binary request: the whole body is the only input's data; batching models get a batch of 1. */
export function rawRequest(body: Uint8Array, input: TensorMetadata, batching: boolean): InferRequest {
  const shape = input.shape.map((d, i) => (i === 0 && batching && d === -1 ? 1 : d));
  const free = shape.filter((d) => d === -1).length;
  if (input.datatype === 'BYTES' || free > 1) {
    throw new ProtocolError(400, `a raw binary request cannot give the shape of '${input.name}' ${input.datatype} [${input.shape.join(', ')}]`, 'send an inference header (Inference-Header-Content-Length > 0)');
  }
  if (free === 1) {
    const known = numel(shape.filter((d) => d !== -1)) * elementBytes(input.datatype);
    if (known === 0 || body.length % known !== 0) throw new ProtocolError(400, `a raw body of ${body.length} bytes is not a whole number of '${input.name}' ${input.datatype} [${input.shape.join(', ')}] tensors`);
    shape[shape.indexOf(-1)] = body.length / known;
  }
  return { inputs: [{ name: input.name, datatype: input.datatype, shape, data: dataFromBinary(input.datatype, shape, body, `raw input '${input.name}'`) }], parameters: { binary_data_output: true } };
}

/** Does the client want output `name` as binary data? */
export function wantsBinary(req: Pick<InferRequest, 'parameters' | 'outputs'>, name: string): boolean {
  const own = req.outputs?.find((o) => o.name === name)?.parameters?.binary_data;
  if (typeof own === 'boolean') return own;
  return req.parameters?.binary_data_output === true;
}

export interface EncodeRequestOptions {
  /** Send input tensors as binary data (default true). */
  binaryInputs?: boolean;
  /** Ask for every output as binary data (default: as binaryInputs). */
  binaryOutputs?: boolean;
  modelName?: string;
  modelVersion?: string;
}

export function encodeRequest(req: InferRequest, o: EncodeRequestOptions = {}): EncodedBody {
  const binaryInputs = o.binaryInputs ?? true;
  const binaryOutputs = o.binaryOutputs ?? binaryInputs;
  const parameters = { ...req.parameters, ...(binaryOutputs ? { binary_data_output: true } : {}) };
  const fields = {
    ...(o.modelName ? { model_name: o.modelName } : {}),
    ...(o.modelVersion ? { model_version: o.modelVersion } : {}),
    ...(req.id !== undefined ? { id: req.id } : {}),
    ...(Object.keys(parameters).length ? { parameters } : {}),
    ...(req.outputs ? { outputs: req.outputs } : {}),
  };
  return encodeBody(fields, 'inputs', req.inputs, () => binaryInputs);
}

export function encodeResponse(res: InferResponse, binary: (name: string) => boolean): EncodedBody {
  const fields = {
    model_name: res.model_name,
    ...(res.model_version !== undefined ? { model_version: res.model_version } : {}),
    ...(res.id !== undefined ? { id: res.id } : {}),
    ...(res.parameters ? { parameters: res.parameters } : {}),
  };
  return encodeBody(fields, 'outputs', res.outputs, (t) => binary(t.name));
}

export function decodeResponse(body: Uint8Array, headerLength: number | undefined): InferResponse {
  const split = splitBody(body, headerLength, 'outputs');
  const parsed = responseFields.safeParse(split.fields);
  if (!parsed.success) throw new ProtocolError(502, `the server's response is not an inference response: ${zodMessage('response', parsed.error)}`);
  return { ...parsed.data, outputs: decodeTensors(split, 'outputs') };
}
