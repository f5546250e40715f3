/**
 * The fallback for ops impera has no shape rule for: ask ONNX Runtime. The model is run once on synthetic
 * inputs of the analysed shapes with the unknown tensors added as outputs, and their types, shapes and (small)
 * values are read back. Shapes of data-dependent ops (NonZero, ...) are those of this one run.
 */
import { DataType, isFloatType, numel } from '../onnx/dtype.js';
import type { ModelProto } from '../onnx/proto.js';
import { exposeTensors } from '../onnx/expose.js';
import { toNumbers, typedArrayFrom, type Tensor } from '../onnx/tensor.js';
import { createSession, run } from '../ort/session.js';
import type { TensorInfo } from '../ops/types.js';
import { seededRandom } from '../util/random.js';
import { FOLD_LIMIT, type Probed } from './infer.js';

/** Synthetic feeds: uniform [0, 1) for float inputs (images), zeros for integer inputs (ids, masks). */
export function syntheticFeeds(inputs: ReadonlyMap<string, TensorInfo>, seed = 1): Record<string, Tensor> {
  const rand = seededRandom(seed);
  return Object.fromEntries(
    [...inputs].map(([name, { dtype, shape }]) => {
      const n = numel(shape);
      const values = isFloatType(dtype) ? Array.from({ length: n }, rand) : new Array<number>(n).fill(0);
      return [name, { dtype, dims: [...shape], data: typedArrayFrom(dtype === DataType.FLOAT16 ? DataType.FLOAT : dtype, values) }];
    }),
  );
}

export async function probeShapes(proto: ModelProto, dir: string, inputs: ReadonlyMap<string, TensorInfo>, names: readonly string[]): Promise<Map<string, Probed>> {
  const session = await createSession(exposeTensors(proto, names), dir, { optimization: 'disabled' });
  try {
    const result = await run(session, syntheticFeeds(inputs), names);
    return new Map(
      Object.entries(result).map(([name, t]) => {
        const info = { dtype: t.dtype, shape: t.dims };
        const small = numel(t.dims) <= FOLD_LIMIT && t.dtype !== DataType.FLOAT16 && t.dtype !== DataType.BFLOAT16;
        return [name, small ? { info, value: { dtype: t.dtype, dims: t.dims, data: toNumbers(t.data) } } : { info }];
      }),
    );
  } finally {
    await session.release();
  }
}
