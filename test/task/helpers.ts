/** Small tensors for the task layer's tests: float32 batches from nested rows. */
import { DataType } from '../../src/onnx/dtype.js';
import type { Tensor } from '../../src/onnx/tensor.js';

export const f32 = (dims: number[], values: number[]): Tensor => ({ dtype: DataType.FLOAT, dims, data: Float32Array.from(values) });
