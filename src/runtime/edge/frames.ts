/**
 * Frames for the edge runner: samples of a dataset (a named one, an image folder, the built-in sample, .npy/.npz
 * arrays) or single image files, fed to every input of the head through `Dataset.feeds`, or seeded synthetic frames; and pacing at a frame
 * rate. Frames are read one at a time, so a long run holds one frame in memory.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ImperaError } from '../../errors.js';
import { imageFiles, openDataset, type Dataset, type DatasetOptions, type InputSpec } from '../../data/dataset.js';
import { IMAGE_EXTENSIONS } from '../../data/images.js';
import { DataType, numel } from '../../onnx/dtype.js';
import type { Feeds } from '../../ort/session.js';
import { seededRandom } from '../../util/random.js';
import type { TensorMetadata } from '../protocol/messages.js';
import { onnxType } from '../protocol/datatypes.js';

export interface Frame {
  index: number;
  feeds: Feeds;
  label?: number;
}

export interface FrameSource {
  /** What the frames are, for reports. */
  name: string;
  /** Frames available (Infinity for synthetic ones). */
  size: number;
  frame(index: number): Frame;
}

/** The head's inputs as data fills them (a dim of -1 is the batch or one the data decides). */
const inputSpecs = (inputs: readonly TensorMetadata[]): InputSpec[] => inputs.map((i) => ({ name: i.name, dtype: onnxType(i.datatype), dims: i.shape }));

function fromDataset(d: Dataset, inputs: readonly TensorMetadata[]): FrameSource {
  const specs = inputSpecs(inputs);
  return {
    name: d.name,
    size: d.size,
    frame: (index) => {
      const i = index % d.size;
      return { index, feeds: d.feeds([i], specs), ...(d.labelled ? { label: d.label(i) } : {}) };
    },
  };
}

/** Seeded uniform [0, 1) frames for every input (dims of -1 taken as 1). */
function synthetic(inputs: readonly TensorMetadata[]): FrameSource {
  const bad = inputs.find((i) => i.datatype !== 'FP32');
  if (bad) throw new ImperaError('BAD_ARGUMENT', `synthetic frames are float32; the head's input '${bad.name}' is ${bad.datatype}`, 'pass --source with real inputs');
  return {
    name: 'synthetic frames (seeded uniform [0, 1))',
    size: Infinity,
    frame: (index) => {
      const rand = seededRandom(index + 1);
      const feeds: Feeds = Object.fromEntries(inputs.map((i) => {
        const dims = i.shape.map((d) => (d === -1 ? 1 : d));
        return [i.name, { dtype: DataType.FLOAT, dims, data: Float32Array.from({ length: numel(dims) }, rand) }];
      }));
      return { index, feeds };
    },
  };
}

/**
 * 'synthetic', a dataset (a named one, an image folder, an .npy or .npz file), or comma-separated image files (resized
 * to the head unless `options` say otherwise).
 */
export function frameSource(source: string, inputs: readonly TensorMetadata[], options: DatasetOptions = {}): FrameSource {
  if (source === 'synthetic') return synthetic(inputs);
  const files = source.split(',');
  if (files.every((f) => IMAGE_EXTENSIONS.test(f))) return fromDataset(imageFiles(files, { resize: true, ...options }), inputs);
  return fromDataset(openDataset(source, options), inputs);
}

/** Wait until frame `index` is due at `fps` frames per second from `startMs` (no wait without a rate). */
export async function pace(index: number, fps: number | undefined, startMs: number): Promise<void> {
  if (!fps) return;
  const due = startMs + (index * 1000) / fps;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
}
