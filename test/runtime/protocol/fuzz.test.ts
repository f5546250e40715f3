/**
 * Property-based fuzzing of the protocol's readers: whatever bytes a client sends as a request body (JSON, binary
 * extension, raw), and whatever a server answers, decoding ends in a value or a `ProtocolError` with a 4xx status
 * (5xx for a response: the server is at fault) — never a TypeError, a RangeError or a stack overflow, which the
 * server would answer as 500. Mutations of valid bodies reach deeper than random bytes, so both are generated.
 * Seeded: a failure prints the seed and the counterexample to replay.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, rawRequest, type ModelMetadata } from '../../../src/runtime/protocol/messages.js';
import { isProtocolError } from '../../../src/runtime/protocol/errors.js';
import { checkRequest } from '../../../src/runtime/protocol/validate.js';

const model: ModelMetadata = {
  name: 'tail',
  platform: 'onnxruntime_onnx',
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2, 3] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 10] }],
};
const x = { name: 'x', datatype: 'FP32' as const, shape: [1, 2, 3], data: Float32Array.from({ length: 6 }, (_, i) => i / 7) };
const joined = (b: { chunks: Uint8Array[] }) => Buffer.concat(b.chunks);
const validJson = joined(encodeRequest({ id: 'r1', inputs: [x] }, { binaryInputs: false, modelName: 'tail' }));
const binary = encodeRequest({ id: 'r2', inputs: [x] }, { binaryInputs: true, modelName: 'tail' });
const validBinary = joined(binary);
const response = encodeResponse({ model_name: 'tail', id: 'r3', outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 10], data: new Float32Array(10) }] }, () => true);
const validResponse = joined(response);

/** A valid body with bytes flipped, cut, or spliced in. */
const mutated = (valid: Uint8Array) =>
  fc.oneof(
    fc.record({ at: fc.nat(valid.length - 1), byte: fc.integer({ min: 0, max: 255 }) }).map(({ at, byte }) => Uint8Array.from(valid, (v, i) => (i === at ? byte : v))),
    fc.nat(valid.length).map((n) => valid.subarray(0, n)),
    fc.tuple(fc.nat(valid.length), fc.string({ maxLength: 40 })).map(([at, s]) => Buffer.concat([valid.subarray(0, at), Buffer.from(s), valid.subarray(at)])),
  );

/** JSON-ish text: the protocol's keys with values of every JSON type, so decoding gets past parsing. */
const jsonish = fc
  .record({
    id: fc.jsonValue(),
    inputs: fc.oneof(fc.jsonValue(), fc.array(fc.record({ name: fc.oneof(fc.constant('x'), fc.jsonValue()), shape: fc.jsonValue(), datatype: fc.oneof(fc.constantFrom('FP32', 'INT64', 'BYTES', 'BOOL', 'FP16'), fc.jsonValue()), data: fc.jsonValue(), parameters: fc.jsonValue() }, { requiredKeys: [] }), { maxLength: 3 })),
    outputs: fc.jsonValue(),
    parameters: fc.jsonValue(),
  }, { requiredKeys: [] })
  .map((o) => Buffer.from(JSON.stringify(o)));

/** Runs `decode`; true when it returned or threw a ProtocolError with a status in `statuses`. */
function clean(decode: () => unknown, statuses: [number, number]): boolean {
  try {
    decode();
    return true;
  } catch (e) {
    if (isProtocolError(e) && e.status >= statuses[0] && e.status <= statuses[1]) return true;
    throw e;
  }
}

const headerLengths = (body: Uint8Array) => fc.oneof(fc.constant(undefined), fc.nat(body.length + 8), fc.integer());
const RUNS = { numRuns: 1500, seed: 20261207 };

describe('protocol readers under generated malformed bodies', () => {
  it('a request body decodes and passes the model check, or is refused with a 4xx', () => {
    const bodies = fc.oneof(mutated(validJson), mutated(validBinary), jsonish, fc.uint8Array({ maxLength: 200 }));
    fc.assert(
      fc.property(bodies.chain((b) => fc.tuple(fc.constant(b), headerLengths(b))), ([body, headerLength]) =>
        clean(() => checkRequest(model, decodeRequest(body, headerLength), 8), [400, 499]),
      ),
      RUNS,
    );
  });

  it('a raw binary body is one input of the right size, or a 4xx', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (body, batching) => clean(() => rawRequest(body, model.inputs[0]!, batching), [400, 499])), RUNS);
  });

  it('a response decodes, or is refused as a server error the edge runner falls back from', () => {
    const bodies = fc.oneof(mutated(validResponse), jsonish, fc.uint8Array({ maxLength: 200 }));
    fc.assert(fc.property(bodies.chain((b) => fc.tuple(fc.constant(b), headerLengths(b))), ([body, headerLength]) => clean(() => decodeResponse(body, headerLength), [400, 599])), RUNS);
  });

  it('the valid bodies the mutations start from decode', () => {
    expect(decodeRequest(validJson, undefined).inputs[0]!.shape).toEqual([1, 2, 3]);
    expect(decodeRequest(validBinary, binary.headerLength).id).toBe('r2');
    expect(decodeResponse(validResponse, response.headerLength).outputs[0]!.name).toBe('y');
  });
});
