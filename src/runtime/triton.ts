/**
 * NVIDIA Triton's model repository (model_repository.md, model_configuration.md): `REPO/<name>/config.pbtxt`
 * and `REPO/<name>/<version>/model.onnx`. The configuration is a ModelConfig protobuf in text format: platform
 * "onnxruntime_onnx", max_batch_size (0: the model has no batch dim Triton may use; otherwise the full shape is
 * [-1] + dims), input/output with name, data_type (TYPE_FP32, ...) and dims, optionally dynamic_batching
 * (max_queue_delay_microseconds) and instance_group. impera writes one for an exported tail so Triton serves it
 * unchanged, and reads the fields it honours (max_batch_size, dynamic_batching) when it serves such a repository.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../errors.js';
import { saveModel, type OnnxModel } from '../onnx/io.js';
import type { ModelMetadata, TensorMetadata } from './protocol/messages.js';
import { isBatched } from './protocol/validate.js';

export const TRITON_PLATFORM = 'onnxruntime_onnx';

export interface TritonOptions {
  /** Largest batch Triton may form (0: no batching). Ignored (0) when the model has no dynamic batch dim. */
  maxBatch: number;
  /** Dynamic batching with this queue delay (microseconds); undefined: off. */
  batchDelayUs?: number;
  /** CPU instances of the model. */
  instances?: number;
}

/** Can every input and output be batched along dim 0? */
export const batchable = (m: Pick<ModelMetadata, 'inputs' | 'outputs'>): boolean => [...m.inputs, ...m.outputs].every(isBatched);

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const dataType = (t: TensorMetadata): string => `TYPE_${t.datatype === 'BYTES' ? 'STRING' : t.datatype}`;

/** config.pbtxt for a model. */
export function tritonConfig(meta: ModelMetadata, o: TritonOptions): string {
  const batching = batchable(meta) && o.maxBatch > 0;
  const tensors = (ts: readonly TensorMetadata[]) =>
    ts.map((t) => `  {\n    name: ${quote(t.name)}\n    data_type: ${dataType(t)}\n    dims: [ ${(batching ? t.shape.slice(1) : t.shape).join(', ')} ]\n  }`).join(',\n');
  const lines = [
    `name: ${quote(meta.name)}`,
    `platform: ${quote(TRITON_PLATFORM)}`,
    `max_batch_size: ${batching ? o.maxBatch : 0}`,
    `input [\n${tensors(meta.inputs)}\n]`,
    `output [\n${tensors(meta.outputs)}\n]`,
    ...(batching && o.batchDelayUs !== undefined ? [`dynamic_batching {\n  max_queue_delay_microseconds: ${Math.round(o.batchDelayUs)}\n}`] : []),
    `instance_group [\n  {\n    count: ${o.instances ?? 1}\n    kind: KIND_CPU\n  }\n]`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Write `REPO/<name>/config.pbtxt` and `REPO/<name>/1/model.onnx` (self-contained). Returns the model folder. */
export function writeTritonModel(model: OnnxModel, meta: ModelMetadata, repo: string, o: TritonOptions): string {
  const dir = join(repo, meta.name);
  mkdirSync(join(dir, '1'), { recursive: true });
  saveModel(model, join(dir, '1', 'model.onnx'));
  writeFileSync(join(dir, 'config.pbtxt'), tritonConfig(meta, o));
  return dir;
}

/** A text-format protobuf message: every field as the list of its values (repeated or not). */
export interface TextMessage {
  [field: string]: (string | number | boolean | TextMessage)[];
}

const TOKEN = /\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[{}[\]:,;<>]|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[A-Za-z_][\w.]*/y;

function tokenize(text: string, source: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new ImperaError('BAD_REPOSITORY', `${source}: unexpected character '${text[at]}' at offset ${at}`);
    if (!/^\s|^#/.test(m[0])) tokens.push(m[0]);
  }
  return tokens;
}

function scalar(token: string): string | number | boolean {
  if (/^["']/.test(token)) return token.slice(1, -1).replace(/\\(.)/g, '$1');
  if (token === 'true' || token === 'True') return true;
  if (token === 'false' || token === 'False') return false;
  const n = Number(token);
  return Number.isNaN(n) ? token : n; // enum values stay names
}

/** Deepest nesting of messages a configuration may have (model configurations use 3; recursion needs a bound). */
const MAX_TEXT_DEPTH = 100;

/** Parse protobuf text format (the subset model configurations use: messages, lists, scalars, enums, comments). */
export function parseTextProto(text: string, source = 'config.pbtxt'): TextMessage {
  const tokens = tokenize(text, source);
  let i = 0;
  let depth = 0;
  const fail = (why: string): never => {
    throw new ImperaError('BAD_REPOSITORY', `${source}: ${why} (near token ${i}: '${tokens[i] ?? 'end of file'}')`, 'see Triton\'s model configuration documentation');
  };
  const value = (): string | number | boolean | TextMessage => {
    const t = tokens[i];
    if (t === '{' || t === '<') {
      if (++depth > MAX_TEXT_DEPTH) fail(`messages nest deeper than ${MAX_TEXT_DEPTH} levels`);
      i++;
      const m = message(t === '{' ? '}' : '>');
      depth--;
      return m;
    }
    if (t === undefined || /^[{}[\]:,;<>]$/.test(t)) return fail('expected a value');
    i++;
    return scalar(t);
  };
  const message = (close: string | undefined): TextMessage => {
    const out: TextMessage = {};
    for (;;) {
      const t = tokens[i];
      if (t === undefined) return close ? fail(`missing '${close}'`) : out;
      if (t === close) {
        i++;
        return out;
      }
      if (!/^[A-Za-z_]/.test(t)) fail('expected a field name');
      i++;
      if (tokens[i] === ':') i++;
      const values: (string | number | boolean | TextMessage)[] = [];
      if (tokens[i] === '[') {
        i++;
        while (tokens[i] !== ']') {
          if (tokens[i] === undefined) fail("missing ']'");
          values.push(value());
          if (tokens[i] === ',') i++;
        }
        i++;
      } else values.push(value());
      (out[t] ??= []).push(...values);
      if (tokens[i] === ',' || tokens[i] === ';') i++;
    }
  };
  return message(undefined);
}

/** What impera's server takes from a Triton model configuration. */
export interface TritonServing {
  name?: string;
  maxBatch: number;
  /** Dynamic batching's queue delay in microseconds, when the configuration turns it on. */
  batchDelayUs?: number;
}

/** The serving fields of a parsed configuration; `source` names the file in errors. */
export function readTritonServing(config: TextMessage, source = 'config.pbtxt'): TritonServing {
  const first = <T>(m: TextMessage, k: string): T | undefined => m[k]?.[0] as T | undefined;
  // a count that is not one (max_batch_size: -1, "8", an enum name) would otherwise slip through as NaN limits
  const count = (m: TextMessage, k: string): number | undefined => {
    const v = first<unknown>(m, k);
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0)) {
      throw new ImperaError('BAD_REPOSITORY', `${source}: ${k} must be a whole number >= 0, got ${JSON.stringify(v)}`, "see Triton's model configuration documentation");
    }
    return v;
  };
  const dynamic = first<TextMessage>(config, 'dynamic_batching');
  const name = first<string>(config, 'name');
  const delay = dynamic ? (count(dynamic, 'max_queue_delay_microseconds') ?? 0) : undefined;
  return { ...(name !== undefined ? { name } : {}), maxBatch: count(config, 'max_batch_size') ?? 0, ...(delay !== undefined ? { batchDelayUs: delay } : {}) };
}
