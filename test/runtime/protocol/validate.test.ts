/** A request checked against the model's metadata before ONNX Runtime sees it: each refusal names what is wrong. */
import { describe, expect, it } from 'vitest';
import { DataType } from '../../../src/onnx/dtype.js';
import { isProtocolError } from '../../../src/runtime/protocol/errors.js';
import type { ModelMetadata } from '../../../src/runtime/protocol/messages.js';
import type { InferTensor } from '../../../src/runtime/protocol/tensor.js';
import { checkRequest } from '../../../src/runtime/protocol/validate.js';

const model: ModelMetadata = {
  name: 'm',
  platform: 'onnx_onnxv1',
  inputs: [{ name: 'a', datatype: 'FP32', shape: [-1, 2] }, { name: 'b', datatype: 'INT64', shape: [-1] }],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }, { name: 'z', datatype: 'FP32', shape: [-1] }],
};
const a = (batch: number): InferTensor => ({ name: 'a', datatype: 'FP32', shape: [batch, 2], data: new Float32Array(batch * 2) });
const b = (batch: number): InferTensor => ({ name: 'b', datatype: 'INT64', shape: [batch], data: new BigInt64Array(batch) });

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (!isProtocolError(e)) throw e;
    expect(e.status).toBe(400);
    return e.oneLine();
  }
  throw new Error('expected a refusal');
}

describe('checking a request against the model', () => {
  it('gives ONNX Runtime feeds in the model input order, the batch, and the requested outputs in model order', () => {
    const checked = checkRequest(model, { inputs: [b(3), a(3)], outputs: [{ name: 'z' }, { name: 'y' }] }, 8);
    expect(Object.keys(checked.feeds)).toEqual(['a', 'b']);
    expect(checked.feeds.b).toMatchObject({ dtype: DataType.INT64, dims: [3] });
    expect(checked.batch).toBe(3);
    expect(checked.outputs).toEqual(['y', 'z']);
    expect(checkRequest(model, { inputs: [a(1), b(1)] }, 8).outputs).toEqual(['y', 'z']);
  });

  it.each([
    ['an input given twice', { inputs: [a(1), a(1), b(1)] }, /input 'a' is given twice/],
    ['a missing input', { inputs: [a(1)] }, /model 'm' needs input 'b'/],
    ['no inputs', { inputs: [] }, /needs inputs 'a', 'b'/],
    ['an unknown input', { inputs: [a(1), b(1), { ...a(1), name: 'c' }] }, /model 'm' has no input 'c'.*its inputs are 'a', 'b'/],
    ['a wrong rank', { inputs: [{ ...a(1), shape: [2] }, b(1)] }, /has shape \[-1, 2\], got \[2\] \(rank 1, not 2\)/],
    ['a wrong fixed dim', { inputs: [{ ...a(1), shape: [1, 3] }, b(1)] }, /has shape \[-1, 2\] \(-1: any size >= 1\), got \[1, 3\]/],
    ['batch 0', { inputs: [a(0), b(0)] }, /got \[0, 2\]/],
    ['batch sizes that disagree', { inputs: [a(2), b(3)] }, /disagree on the batch size \(dim 0\): 2 vs 3/],
    ['a batch over the limit', { inputs: [a(9), b(9)] }, /batch 9 is larger than the server allows for model 'm' \(8\).*split the request/],
    ['an unknown output', { inputs: [a(1), b(1)], outputs: [{ name: 'w' }] }, /model 'm' has no output 'w'.*its outputs are 'y', 'z'/],
    ['an output requested twice', { inputs: [a(1), b(1)], outputs: [{ name: 'y' }, { name: 'y' }] }, /an output is requested twice/],
  ])('refuses %s with a 400 saying what is wrong', (_what, req, message) => {
    expect(refusal(() => checkRequest(model, req, 8))).toMatch(message);
  });
});
