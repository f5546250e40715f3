/**
 * The protocol codecs against the specifications' own examples (fixtures/spec.ts): requests decode to the tensors
 * the specification describes, responses encode to its layout, binary bodies put the bytes where it says.
 */
import { describe, expect, it } from 'vitest';
import { decodeTensors, joinBody, parseHeaderLength, splitBody } from '../../../src/runtime/protocol/body.js';
import { elementBytes, type Datatype } from '../../../src/runtime/protocol/datatypes.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, rawRequest, wantsBinary } from '../../../src/runtime/protocol/messages.js';
import { BINARY_REQUEST_DATA, BINARY_REQUEST_JSON, BINARY_RESPONSE_JSON, DATATYPE_SIZES, NESTED_DATA, OIP_REQUEST, OIP_REQUEST_AS_PRINTED, OIP_RESPONSE } from '../fixtures/spec.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('Open Inference Protocol, JSON tensors (inference_rest.md)', () => {
  it('decodes the specification\'s inference request', () => {
    const req = decodeRequest(bytes(OIP_REQUEST), undefined);
    expect(req.id).toBe('42');
    expect(req.outputs).toEqual([{ name: 'output0' }]);
    const [a, b] = req.inputs;
    expect(a).toMatchObject({ name: 'input0', datatype: 'UINT32', shape: [2, 2] });
    expect(a!.data).toBeInstanceOf(Uint32Array);
    expect(Array.from(a!.data as Uint32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(b!.data as Uint8Array)).toEqual([1, 0, 1]);
  });

  it('refuses the example as printed, whose data has fewer elements than its shape', () => {
    expect(() => decodeRequest(bytes(OIP_REQUEST_AS_PRINTED), undefined)).toThrow(/shape \[3\] has 3 elements but data has 1/);
  });

  it('encodes the specification\'s response with the id and outputs in its layout', () => {
    const out = encodeResponse({ model_name: 'mymodel', id: '42', outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data: Float64Array.from(OIP_RESPONSE.outputs[0]!.data) }] }, () => false);
    expect(out.headerLength).toBeUndefined(); // no binary data: plain JSON
    const json = JSON.parse(joinBody(out).toString());
    expect(json).toEqual({ model_name: 'mymodel', ...OIP_RESPONSE, outputs: [{ ...OIP_RESPONSE.outputs[0], datatype: 'FP32' }] });
  });

  it('accepts tensor data in its natural (nested) and flattened forms', () => {
    const body = (data: unknown) => bytes(JSON.stringify({ inputs: [{ name: 'm', shape: [2, 2], datatype: 'INT32', data }] }));
    const natural = decodeRequest(body(NESTED_DATA.natural), undefined).inputs[0]!.data;
    const flat = decodeRequest(body(NESTED_DATA.flat), undefined).inputs[0]!.data;
    expect(Array.from(natural as Int32Array)).toEqual(NESTED_DATA.flat);
    expect(Array.from(flat as Int32Array)).toEqual(NESTED_DATA.flat);
  });

  it('has the specification\'s element sizes', () => {
    for (const [d, size] of Object.entries(DATATYPE_SIZES)) expect(elementBytes(d as Datatype)).toBe(size);
  });

  it('round-trips every numeric datatype through JSON', () => {
    const values: Record<string, number[] | boolean[]> = { UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295], INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647], INT64: [-(2 ** 53) + 1, 2 ** 53 - 1], UINT64: [0, 2 ** 53 - 1], FP32: [0.5, -2], FP64: [0.1, 1e300], BOOL: [true, false] };
    for (const [datatype, data] of Object.entries(values)) {
      const req = decodeRequest(bytes(JSON.stringify({ inputs: [{ name: 't', shape: [2], datatype, data }] })), undefined);
      const back = JSON.parse(joinBody(encodeResponse({ model_name: 'm', outputs: req.inputs }, () => false)).toString());
      expect(back.outputs[0].data, datatype).toEqual(data);
    }
  });
});

describe("Triton's binary tensor data extension (extension_binary_data.md)", () => {
  const body = new Uint8Array([...bytes(BINARY_REQUEST_JSON), ...BINARY_REQUEST_DATA]);

  it('decodes the specification\'s binary request: the JSON length from Inference-Header-Content-Length, then 16 + 3 bytes', () => {
    const headerLength = parseHeaderLength(String(bytes(BINARY_REQUEST_JSON).length), body.length);
    const req = decodeRequest(body, headerLength);
    expect(req.modelName).toBe('mymodel');
    expect(Array.from(req.inputs[0]!.data as Uint32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(req.inputs[1]!.data as Uint8Array)).toEqual([1, 0, 1]);
    expect(req.inputs[0]!.parameters).toBeUndefined(); // binary_data_size is transport, not a tensor parameter
    expect(wantsBinary(req, 'output0')).toBe(true);
  });

  it('encodes a request the same way: binary_data_size per input, the data after the JSON in input order', () => {
    const req = decodeRequest(body, bytes(BINARY_REQUEST_JSON).length);
    const encoded = encodeRequest(req, { binaryInputs: true, binaryOutputs: false });
    const all = joinBody(encoded);
    expect(encoded.byteLength).toBe(encoded.headerLength! + 19);
    expect(Array.from(all.subarray(encoded.headerLength!))).toEqual(Array.from(BINARY_REQUEST_DATA));
    const json = JSON.parse(all.subarray(0, encoded.headerLength).toString());
    expect(json.inputs.map((i: { parameters: { binary_data_size: number } }) => i.parameters.binary_data_size)).toEqual([16, 3]);
    expect(json.inputs.every((i: object) => !('data' in i))).toBe(true);
  });

  it('encodes the specification\'s binary response: 24 bytes of FP32 after the JSON', () => {
    const data = Float32Array.from([1, 1.1, 2, 2.1, 3, 3.1]);
    const out = encodeResponse({ model_name: 'mymodel', outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data }] }, () => true);
    const all = joinBody(out);
    const json = JSON.parse(all.subarray(0, out.headerLength).toString());
    expect(json.outputs).toEqual(BINARY_RESPONSE_JSON.outputs);
    expect(all.length - out.headerLength!).toBe(24);
    const back = decodeResponse(all, out.headerLength);
    expect(Array.from(back.outputs[0]!.data as Float32Array)).toEqual(Array.from(data));
  });

  it('lets "binary_data" on an output override "binary_data_output" on the request', () => {
    const req = { parameters: { binary_data_output: true }, outputs: [{ name: 'a', parameters: { binary_data: false } }, { name: 'b' }] };
    expect(wantsBinary(req, 'a')).toBe(false);
    expect(wantsBinary(req, 'b')).toBe(true);
    expect(wantsBinary({}, 'a')).toBe(false);
  });

  it('carries BYTES elements as a 4-byte little-endian length and the bytes', () => {
    const strings = [new TextEncoder().encode('ab'), new Uint8Array(0), new TextEncoder().encode('xyz')];
    const enc = encodeRequest({ inputs: [{ name: 's', shape: [3], datatype: 'BYTES', data: strings }] });
    const all = joinBody(enc);
    expect(Array.from(all.subarray(enc.headerLength!))).toEqual([2, 0, 0, 0, 97, 98, 0, 0, 0, 0, 3, 0, 0, 0, 120, 121, 122]);
    const back = decodeRequest(all, enc.headerLength).inputs[0]!.data as Uint8Array[];
    expect(back.map((b) => new TextDecoder().decode(b))).toEqual(['ab', '', 'xyz']);
  });

  it('reads a raw binary request (Inference-Header-Content-Length: 0) as batch 1 of the only input', () => {
    const raw = rawRequest(Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]), { name: 'input', datatype: 'UINT32', shape: [-1, 4] }, true);
    expect(raw.inputs[0]!.shape).toEqual([1, 4]);
    expect(raw.parameters).toEqual({ binary_data_output: true }); // the extension returns every output as binary
    const free = rawRequest(new Uint8Array(24), { name: 'input', datatype: 'FP32', shape: [2, -1] }, false);
    expect(free.inputs[0]!.shape).toEqual([2, 3]);
  });

  it('decodes mixed JSON and binary tensors in one body', () => {
    const enc = encodeRequest({ inputs: [{ name: 'a', shape: [2], datatype: 'INT16', data: Int16Array.from([-1, 7]) }] });
    const header = JSON.parse(joinBody(enc).subarray(0, enc.headerLength).toString());
    header.inputs.push({ name: 'b', shape: [1], datatype: 'FP64', data: [2.5] });
    const h = bytes(JSON.stringify(header));
    const tensors = decodeTensors(splitBody(new Uint8Array([...h, ...joinBody(enc).subarray(enc.headerLength!)]), h.length, 'inputs'), 'inputs');
    expect(Array.from(tensors[0]!.data as Int16Array)).toEqual([-1, 7]);
    expect(Array.from(tensors[1]!.data as Float64Array)).toEqual([2.5]);
  });
});
