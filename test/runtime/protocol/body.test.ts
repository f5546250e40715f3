/** Bodies that must be refused, each with a message saying what is wrong (the server turns them into 400s). */
import { describe, expect, it } from 'vitest';
import { joinBody, parseHeaderLength } from '../../../src/runtime/protocol/body.js';
import { isProtocolError } from '../../../src/runtime/protocol/errors.js';
import { decodeRequest, encodeRequest, rawRequest } from '../../../src/runtime/protocol/messages.js';
import { frameMessage, unframeMessage } from '../../../src/runtime/protocol/stream.js';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const input = (over: Record<string, unknown> = {}) => ({ inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 2], ...over }] });

/** The decode error's status, message and the request id it carries. */
function refusal(f: () => unknown): { status: number; message: string; requestId: string | undefined } {
  try {
    f();
  } catch (e) {
    if (!isProtocolError(e)) throw e;
    return { status: e.status, message: e.oneLine(), requestId: e.requestId };
  }
  throw new Error('expected a refusal');
}

const binaryBody = () => {
  const enc = encodeRequest({ id: 'r7', inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: Float32Array.from([1, 2, 3]) }] });
  return { all: joinBody(enc), headerLength: enc.headerLength! };
};

describe('request bodies', () => {
  it.each([
    ['malformed JSON', new TextEncoder().encode('{"inputs": ['), /not valid JSON/],
    ['a JSON array', json([1, 2]), /must be a JSON object/],
    ['no inputs', json({}), /"inputs" must be an array/],
    ['an unknown datatype', json(input({ datatype: 'FP33' })), /inputs\[0\]\.datatype: 'FP33' is not a protocol data type/],
    ['a negative dim', json(input({ shape: [-2] })), /inputs\.0\.shape\.0|inputs\[0\]\.shape/],
    ['a fractional dim', json(input({ shape: [1.5] })), /integers/],
    ['too few elements', json(input({ data: [1] })), /has 2 elements but data has 1/],
    ['a string for a number', json(input({ data: [1, 'two'] })), /data\[1\] must be a number/],
    ['an out-of-range int8', json(input({ datatype: 'INT8', data: [1, 300] })), /integer in \[-128, 127\]/],
    ['a fraction for an integer', json(input({ datatype: 'INT32', data: [1, 2.5] })), /must be an integer/],
    ['a number for a BOOL', json(input({ datatype: 'BOOL', data: [1, 0] })), /must be true or false/],
    ['FP16 as JSON numbers', json(input({ datatype: 'FP16' })), /FP16 data cannot be sent as JSON.*binary/],
    ['no data', json({ inputs: [{ name: 'x', shape: [2], datatype: 'FP32' }] }), /has no data/],
    ['both data and binary_data_size', json(input({ parameters: { binary_data_size: 8 } })), /both data and binary_data_size/],
    ['an unnamed input', json(input({ name: '' })), /name must not be empty/],
    ['a non-string id', json({ ...input(), id: 7 }), /request\.id/],
  ])('refuses %s with a 400 that says what is wrong', (_what, body, message) => {
    const r = refusal(() => decodeRequest(body, undefined));
    expect(r.status).toBe(400);
    expect(r.message).toMatch(message);
  });

  it('refuses binary data shorter or longer than binary_data_size says', () => {
    const { all, headerLength } = binaryBody();
    expect(refusal(() => decodeRequest(all.subarray(0, all.length - 1), headerLength)).message).toMatch(/binary_data_size is 12 but only 11 bytes/);
    expect(refusal(() => decodeRequest(Buffer.concat([all, Buffer.from([0])]), headerLength)).message).toMatch(/13 bytes of binary data after the JSON but .* add up to 12/);
  });

  it('refuses an Inference-Header-Content-Length that is not a byte count or exceeds the body', () => {
    for (const bad of ['-1', 'abc', '1e3', '']) expect(refusal(() => parseHeaderLength(bad, 100)).message).toMatch(/must be a byte count/);
    expect(refusal(() => parseHeaderLength('101', 100)).message).toMatch(/body has only 100 bytes/);
    expect(parseHeaderLength(undefined, 100)).toBeUndefined();
  });

  it('refuses a header length that cuts the JSON, and says which request failed when it can', () => {
    const { all, headerLength } = binaryBody();
    expect(refusal(() => decodeRequest(all, headerLength - 1)).message).toMatch(/not valid JSON/);
    expect(refusal(() => decodeRequest(Buffer.concat([all, Buffer.from([1, 2])]), headerLength)).requestId).toBe('r7');
  });

  it('refuses BOOL binary data other than 0 and 1, and binary data that does not fit the datatype', () => {
    const h = json({ inputs: [{ name: 'b', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }] });
    expect(refusal(() => decodeRequest(Buffer.concat([h, Buffer.from([1, 2])]), h.length)).message).toMatch(/BOOL binary data must be bytes 0 or 1/);
    const f = json({ inputs: [{ name: 'f', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 6 } }] });
    expect(refusal(() => decodeRequest(Buffer.concat([f, Buffer.alloc(6)]), f.length)).message).toMatch(/binary_data_size is 6 bytes but FP32 \[2\] takes 8/);
  });

  it('refuses BYTES elements whose lengths run past the data', () => {
    const h = json({ inputs: [{ name: 's', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 6 } }] });
    expect(refusal(() => decodeRequest(Buffer.concat([h, Buffer.from([9, 0, 0, 0, 65, 66])]), h.length)).message).toMatch(/claims 9 bytes but only 2 remain/);
  });

  it('refuses a raw body that is not a whole number of tensors, or a raw request whose shape cannot be known', () => {
    expect(refusal(() => rawRequest(new Uint8Array(10), { name: 'x', datatype: 'FP32', shape: [-1, 4] }, true)).message).toMatch(/binary_data_size is 10 bytes but FP32 \[1, 4\] takes 16/);
    expect(refusal(() => rawRequest(new Uint8Array(8), { name: 'x', datatype: 'FP32', shape: [-1, -1] }, false)).message).toMatch(/cannot give the shape/);
  });

  it('refuses hostile nesting without exhausting the stack', () => {
    const text = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
    const body = new TextEncoder().encode(`{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":${text}}]}`);
    const r = refusal(() => decodeRequest(body, undefined));
    expect(r.status).toBe(400);
  });
});

describe('stream messages', () => {
  it('frames a body with its JSON length and reads it back', () => {
    const enc = encodeRequest({ id: '1', inputs: [{ name: 'x', shape: [1], datatype: 'INT32', data: Int32Array.from([5]) }] }, { modelName: 'm' });
    const { body, headerLength } = unframeMessage(frameMessage(enc));
    expect(headerLength).toBe(enc.headerLength);
    const req = decodeRequest(body, headerLength);
    expect(req.modelName).toBe('m');
    expect(Array.from(req.inputs[0]!.data as Int32Array)).toEqual([5]);
  });

  it('refuses a message shorter than its prefix or its JSON length', () => {
    expect(refusal(() => unframeMessage(new Uint8Array(3))).message).toMatch(/4-byte JSON length/);
    expect(refusal(() => unframeMessage(Uint8Array.from([200, 0, 0, 0, 123]))).message).toMatch(/JSON length is 200 but only 1 bytes follow/);
  });
});
