/**
 * impera's WebSocket stream (extension "impera_stream", route /v2/stream): one binary WebSocket message per
 * request or response, laid out as the binary extension's HTTP body with the JSON length in front -
 * `[u32 little-endian JSON length][JSON object][binary tensor data]` - so the same encoders and decoders serve
 * HTTP and the stream. A request's JSON names its model ("model_name", optional "model_version") since there is
 * no URL; every message carries an "id" and responses may arrive out of order. An error is
 * `{"id": ..., "error": "...", "status": <HTTP status>}`.
 */
import type { EncodedBody } from './body.js';
import { ProtocolError } from './errors.js';

export const STREAM_PATH = '/v2/stream';

/** One WebSocket message from an encoded body (no Buffer: the browser edge frames its requests with it too). */
export function frameMessage(body: EncodedBody): Uint8Array {
  const message = new Uint8Array(4 + body.byteLength);
  new DataView(message.buffer).setUint32(0, body.headerLength ?? body.byteLength, true);
  let at = 4;
  for (const chunk of body.chunks) {
    message.set(chunk, at);
    at += chunk.length;
  }
  return message;
}

/** A message's body and JSON length. */
export function unframeMessage(message: Uint8Array): { body: Uint8Array; headerLength: number } {
  if (message.length < 4) throw new ProtocolError(400, `a stream message must start with a 4-byte JSON length; got ${message.length} bytes`);
  const headerLength = new DataView(message.buffer, message.byteOffset, 4).getUint32(0, true);
  const body = message.subarray(4);
  if (headerLength > body.length) throw new ProtocolError(400, `the stream message's JSON length is ${headerLength} but only ${body.length} bytes follow`);
  return { body, headerLength };
}

/** The error message of the stream. */
export function errorMessage(id: string | undefined, e: ProtocolError): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ ...(id !== undefined ? { id } : {}), error: e.oneLine(), status: e.status, ...(e.retryAfterS !== undefined ? { retry_after_s: e.retryAfterS } : {}) }));
  return frameMessage({ chunks: [json], headerLength: undefined, byteLength: json.length });
}
