/**
 * Which data an analysis uses, decided here and nowhere else: the labelled images commands default to, how a
 * source splits into training and test images (a dataset with its own splits, or a folder of which a share is
 * held out), and the images codecs are fitted on when none are given. Callers ask; they never name a dataset.
 */
import { ImperaError, isImperaError } from '../errors.js';
import { FASHION_MNIST_CLASSES } from './fashion-mnist.js';
import { EXAMPLE_DATA } from '../util/package.js';
import { seededRandom, shuffledIndices } from '../util/random.js';
import { isFashionMnist, openDataset, subsetDataset, type Dataset, type DatasetOptions, type InputSpec } from './dataset.js';
import { DataType } from '../onnx/dtype.js';
import { resolve } from 'node:path';

/**
 * The built-in labelled sample (200 images): the default images of every command that reads some, and the probes
 * the planner measures agreement with the full model on when a scenario gives no labelled data.
 */
export const DEFAULT_DATA = EXAMPLE_DATA;

/** A model the built-in sample fits: one float image [N, 1|3, H, W] in, its first output [N, 10] classes. */
export function takesBuiltInSample(inputs: readonly InputSpec[], firstOutput: readonly number[]): boolean {
  const [x] = inputs;
  const image = inputs.length === 1 && x!.dtype === DataType.FLOAT && x!.dims.length === 4 && (x!.dims[1] === 1 || x!.dims[1] === 3);
  return image && firstOutput.length === 2 && firstOutput[1] === FASHION_MNIST_CLASSES.length;
}

/**
 * The data a command uses when none is given: the built-in sample for models like the built-in examples (10-class
 * image classifiers); any other model is refused with what it takes and how to give data (`how`, e.g. '--data').
 */
export function defaultData(inputs: readonly InputSpec[], firstOutput: readonly number[], how: string): string {
  if (takesBuiltInSample(inputs, firstOutput)) return DEFAULT_DATA;
  const dims = (d: readonly number[]) => `[${d.map((v) => (v < 0 ? '?' : v)).join(', ')}]`;
  const takes = inputs.map((i) => `${i.name} ${dims(i.dims)}`).join(', ');
  throw new ImperaError('DATASET', `no data given, and the built-in sample (Fashion-MNIST images for 10-class classifiers) does not fit this model: it takes ${takes} and outputs ${dims(firstOutput)}`, `give data: ${how} with an image folder (class sub-folders when labelled), an .npy file or an .npz archive with one array per input`);
}

/** What exit branches train on unless told otherwise: they need many labelled images, more than the sample has. */
export const DEFAULT_TRAINING_DATA = 'fashion-mnist';

/** What codecs are fitted on unless told otherwise: a training split, so no test image is seen while fitting. */
export const DEFAULT_CALIBRATION = 'fashion-mnist:train';

/** The named datasets a source may be instead of a folder, for help texts and hints. */
export const NAMED_SOURCES = ['fashion-mnist', 'fashion-mnist:train'] as const;

/** A source's images for training and testing, opened on first use (loading a split takes a while). */
export interface LabelledSplits {
  train: () => Dataset;
  /** The source's own test split; null for a folder, whose test images are a held-out share of `train`. */
  test: (() => Dataset) | null;
}

const once = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};

/** Open a source: a named dataset, or a folder or array file (relative to `baseDir` when given). */
export function openSource(source: string, baseDir?: string, options: DatasetOptions = {}): Dataset {
  if (isFashionMnist(source) || baseDir === undefined || source.startsWith('/')) return openDataset(source, options);
  return openDataset(`${baseDir}/${source}`, options);
}

/** 'fashion-mnist' (either split named) trains on its training split and tests on its test split; a folder is one set. */
export function labelledSplits(source: string, baseDir?: string, options: DatasetOptions = {}): LabelledSplits {
  if (isFashionMnist(source)) return { train: once(() => openDataset('fashion-mnist:train', options)), test: once(() => openDataset('fashion-mnist:test', options)) };
  return { train: once(() => openSource(source, baseDir, options)), test: null };
}

/**
 * One set split for training and testing, so no figure is measured on samples trained on: a `share` of it, drawn
 * with a fixed seed (the same test samples whatever the training seed; a class-ordered folder is mixed), held out.
 */
export function holdOut(data: Dataset, share = 0.2): { train: Dataset; test: Dataset } {
  if (data.size < 2) throw new ImperaError('BAD_ARGUMENT', `${data.name} has ${data.size} sample(s): training and testing need at least 2`, 'give more data, or a separate test set');
  const order = shuffledIndices(data.size, seededRandom(1));
  const tested = Math.min(data.size - 1, Math.max(1, Math.round(data.size * share)));
  return { train: subsetDataset(data, order.slice(tested), `${data.name} (${data.size - tested} for training)`), test: subsetDataset(data, order.slice(0, tested)) };
}

/**
 * Images to fit codecs on: `source` when given; else, for the built-in examples' data (Fashion-MNIST or the built-in
 * sample: `fallback.source` undefined or naming them), the default training split; else (other data, or that split
 * not installed) `fallback`, the data itself, with a warning saying so and `hint` (how to give other samples).
 */
export function calibrationData(source: string | undefined, fallback: { what: string; data: () => Dataset; source?: string }, warnings: string[], hint: string, baseDir?: string, options: DatasetOptions = {}): Dataset {
  if (source) return openSource(source, baseDir, options);
  const builtIn = fallback.source === undefined || isFashionMnist(fallback.source) || resolve(baseDir ?? '.', fallback.source) === resolve(DEFAULT_DATA);
  if (!builtIn) {
    warnings.push(`codecs are fitted on ${fallback.what}, the data given (the default, Fashion-MNIST's training images, is the built-in examples' own): ${hint}`);
    return fallback.data();
  }
  try {
    return openDataset(DEFAULT_CALIBRATION);
  } catch (e) {
    if (!isImperaError(e)) throw e;
    warnings.push(`codecs are fitted on ${fallback.what} (Fashion-MNIST is not installed): ${hint}`);
    return fallback.data();
  }
}
