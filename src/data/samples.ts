/**
 * Sample inputs for checking a model: real Fashion-MNIST test images when the model takes one image tensor
 * [N, 1|3, H, W] and the dataset is installed (preprocessed as the zoo was trained), seeded uniform noise otherwise.
 */
import { DataType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import type { TensorInfo } from '../ops/types.js';
import { syntheticFeeds } from '../graph/probe.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { grayToInput } from './preprocess.js';
import { isImperaError } from '../errors.js';

/** What `sampleFeeds` gives when no data is named, for help texts and reports (decided here, in data/). */
export const DEFAULT_SAMPLES = 'the first Fashion-MNIST test images for an image input when installed, else seeded random inputs';

export interface SampleFeeds {
  feeds: Record<string, Tensor>;
  /** What the samples are, for reports. */
  source: string;
  labels?: number[];
}

/** `count` samples for `inputs`, stacked along each input's batch axis (`batchAxis`: dim 0, or an RNN state's dim 1). */
export function sampleFeeds(inputs: ReadonlyMap<string, TensorInfo>, count: number, batchAxis: (input: string) => number = () => 0): SampleFeeds {
  const only = inputs.size === 1 ? [...inputs][0]! : undefined;
  const [name, info] = only ?? ['', undefined];
  const imageLike = info && info.dtype === DataType.FLOAT && info.shape.length === 4 && (info.shape[1] === 1 || info.shape[1] === 3);
  if (imageLike) {
    try {
      const images = loadFashionMnist('test', count);
      const indices = [...Array(images.count).keys()];
      const x = grayToInput(images, indices, { height: info.shape[2]!, width: info.shape[3]!, channels: info.shape[1]! });
      return {
        feeds: { [name]: { dtype: DataType.FLOAT, dims: x.dims, data: x.data } },
        source: `the first ${images.count} Fashion-MNIST test images`,
        labels: Array.from(images.labels),
      };
    } catch (e) {
      if (!isImperaError(e)) throw e;
    }
  }
  return randomSampleFeeds(inputs, count, batchAxis);
}

/** `count` seeded random samples of the inputs (uniform [0, 1) floats, zero integers), stacked along each input's batch axis. */
export function randomSampleFeeds(inputs: ReadonlyMap<string, TensorInfo>, count: number, batchAxis: (input: string) => number = () => 0): SampleFeeds {
  const batched = new Map([...inputs].map(([n, i]) => [n, { ...i, shape: i.shape.map((d, axis) => (axis === batchAxis(n) ? count : d)) }]));
  return { feeds: syntheticFeeds(batched), source: `${count} seeded random inputs (uniform [0, 1) floats, zero integers)` };
}
