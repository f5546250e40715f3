/**
 * How much structure a request's JSON may have, checked on the raw bytes before JSON.parse: nesting depth (tensor
 * data needs one level per dim; a million levels take seconds to parse and overflow the stack of anything that
 * walks them recursively) and the number of tensors under "inputs" / "outputs" (each costs a validation and a
 * typed array; 300,000 of them block the event loop for seconds). The scan also finds the top-level "id", so a
 * refusal on the stream still names the request it answers.
 */
import { ProtocolError } from './errors.js';

/** UTF-8 as Buffer's toString reads it (a BOM kept, bad bytes replaced), in Node and in browsers alike. */
export const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

export interface JsonLimits {
  /** Deepest nesting of arrays and objects (the top-level object is level 1). */
  maxDepth: number;
  /** Most tensors a body may list under "inputs", and most under "outputs". */
  maxTensors: number;
}

export const JSON_LIMITS: JsonLimits = { maxDepth: 32, maxTensors: 1024 };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** The text of a JSON string token (quotes included), decoded; undefined if it is not valid JSON. */
function stringToken(bytes: Uint8Array, from: number, to: number): string | undefined {
  try {
    return JSON.parse(UTF8.decode(bytes.subarray(from, to))) as string;
  } catch {
    return undefined;
  }
}

/**
 * Refuse JSON that nests deeper or lists more tensors than `limits` allow (400), without parsing it. Malformed JSON
 * passes (JSON.parse reports it). The refusal carries the request's top-level "id" when it came before the fault.
 */
export function checkJsonLimits(bytes: Uint8Array, limits: JsonLimits): void {
  let depth = 0;
  let key: string | undefined; // the top-level key whose value is being read
  let expectKey = false; // at depth 1, the next string is a key
  let id: string | undefined;
  const tensors: Record<string, number> = { inputs: 0, outputs: 0 };
  const refuse = (message: string, hint: string): never => {
    const e = new ProtocolError(400, message, hint);
    e.requestId = id;
    throw e;
  };
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      const start = i;
      for (i++; i < bytes.length && bytes[i] !== QUOTE; i++) if (bytes[i] === BACKSLASH) i++;
      if (depth !== 1) continue;
      if (expectKey) {
        key = stringToken(bytes, start, i + 1);
        expectKey = false;
      } else if (key === 'id') id = stringToken(bytes, start, i + 1);
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > limits.maxDepth) refuse(`the JSON nests deeper than ${limits.maxDepth} levels`, 'tensor data needs one level per dim; send large tensors as binary data');
      if (depth === 1) expectKey = c === OPEN_OBJECT;
      else if (depth === 3 && c === OPEN_OBJECT && key !== undefined && key in tensors && ++tensors[key]! > limits.maxTensors) {
        refuse(`the request lists more than ${limits.maxTensors} tensors under "${key}"`, `the server takes at most ${limits.maxTensors}`);
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    else if (depth === 1 && c === COMMA) expectKey = true;
  }
}
