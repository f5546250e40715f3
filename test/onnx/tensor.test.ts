import { describe, expect, it } from 'vitest';
import { DataType } from '../../src/onnx/dtype.js';
import { onnx } from '../../src/onnx/proto.js';
import { makeTensorProto, readTensor, toNumbers, typedArrayFrom } from '../../src/onnx/tensor.js';

describe('readTensor', () => {
  it('reads raw little-endian data', () => {
    const t = makeTensorProto('t', DataType.FLOAT, [2, 2], Float32Array.from([1, -2, 3.5, 4]));
    const r = readTensor(t);
    expect(r.dims).toEqual([2, 2]);
    expect(Array.from(r.data as Float32Array)).toEqual([1, -2, 3.5, 4]);
  });

  it('copies raw data that is not aligned for its element type', () => {
    const buf = new Uint8Array(13);
    new DataView(buf.buffer).setFloat32(1, 7.25, true);
    const t = onnx.TensorProto.create({ name: 't', dataType: DataType.FLOAT, dims: [1], rawData: buf.subarray(1, 5) });
    expect(Array.from(readTensor(t).data as Float32Array)).toEqual([7.25]);
  });

  it('reads typed fields (float_data, int64_data, int32_data)', () => {
    expect(toNumbers(readTensor(onnx.TensorProto.create({ dataType: DataType.FLOAT, dims: [3], floatData: [1, 2, 3] })).data)).toEqual([1, 2, 3]);
    expect(toNumbers(readTensor(onnx.TensorProto.create({ dataType: DataType.INT64, dims: [2], int64Data: [-5, 9] })).data)).toEqual([-5, 9]);
    expect(toNumbers(readTensor(onnx.TensorProto.create({ dataType: DataType.INT8, dims: [2], int32Data: [-3, 4] })).data)).toEqual([-3, 4]);
  });

  it('rejects a payload shorter than its shape', () => {
    const t = makeTensorProto('t', DataType.FLOAT, [4], Float32Array.from([1, 2]));
    expect(() => readTensor(t)).toThrow(/holds 8 bytes but its shape \[4\] needs 16/);
  });

  it('round-trips int64 through typed arrays', () => {
    const t = makeTensorProto('i', DataType.INT64, [3], typedArrayFrom(DataType.INT64, [1, -1, 224]));
    expect(toNumbers(readTensor(t).data)).toEqual([1, -1, 224]);
  });
});
