/**
 * Frames for the edge runner: images from a dataset (a named one, an image folder, the built-in sample) or
 * single image files, preprocessed for the head's image input, or seeded synthetic frames; and pacing at a frame
 * rate. Frames are read one at a time, so a long run holds one frame in memory.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ImperaError } from '../../errors.js';
import { openDataset, type Dataset, type ImageSpec } from '../../data/dataset.js';
import { decodeImage, IMAGE_EXTENSIONS } from '../../data/images.js';
import { rasterToInput } from '../../data/preprocess.js';
import { DataType, numel } from '../../onnx/dtype.js';
import type { Feeds } from '../../ort/session.js';
import { seededRandom } from '../../util/random.js';
import type { TensorMetadata } from '../protocol/messages.js';

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
  /** Number of classes of the labels (0: the frames have none). */
  classes: number;
  frame(index: number): Frame;
}

/** The [N, C, H, W] image the head takes, batch 1. */
function imageSpec(input: TensorMetadata): ImageSpec {
  const [, c, h, w] = input.shape;
  if (input.shape.length !== 4 || input.datatype !== 'FP32' || !(c! > 0 && h! > 0 && w! > 0)) {
    throw new ImperaError('BAD_ARGUMENT', `the head's input '${input.name}' is ${input.datatype} [${input.shape.join(', ')}], not a float image [N, C, H, W]`, "use --source synthetic");
  }
  return { channels: c!, height: h!, width: w! };
}

const imageFeeds = (input: TensorMetadata, spec: ImageSpec, data: Float32Array): Feeds => ({ [input.name]: { dtype: DataType.FLOAT, dims: [1, spec.channels, spec.height, spec.width], data } });

function fromDataset(d: Dataset, input: TensorMetadata): FrameSource {
  const spec = imageSpec(input);
  return { name: d.name, size: d.size, classes: d.classes.length, frame: (index) => ({ index, feeds: imageFeeds(input, spec, d.load([index % d.size], spec)), label: d.label(index % d.size) }) };
}

function fromFiles(files: readonly string[], input: TensorMetadata): FrameSource {
  const spec = imageSpec(input);
  return {
    name: `${files.length} image file${files.length > 1 ? 's' : ''}`,
    size: files.length,
    classes: 0,
    frame: (index) => {
      const out = new Float32Array(spec.channels * spec.height * spec.width);
      rasterToInput(decodeImage(files[index % files.length]!), spec.channels, spec.height, spec.width, out, 0);
      return { index, feeds: imageFeeds(input, spec, out) };
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
    classes: 0,
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

/** 'synthetic', a dataset (a named one or an image folder), or comma-separated image files. */
export function frameSource(source: string, inputs: readonly TensorMetadata[]): FrameSource {
  if (source === 'synthetic') return synthetic(inputs);
  if (inputs.length !== 1) throw new ImperaError('BAD_ARGUMENT', `the head takes ${inputs.length} inputs; images feed one`, 'use --source synthetic');
  const files = source.split(',');
  if (files.every((f) => IMAGE_EXTENSIONS.test(f))) return fromFiles(files, inputs[0]!);
  return fromDataset(openDataset(source), inputs[0]!);
}

/** Wait until frame `index` is due at `fps` frames per second from `startMs` (no wait without a rate). */
export async function pace(index: number, fps: number | undefined, startMs: number): Promise<void> {
  if (!fps) return;
  const due = startMs + (index * 1000) / fps;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
}
