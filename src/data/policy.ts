/**
 * Which data an analysis uses, decided here and nowhere else: the labelled images commands default to, how a
 * source splits into training and test images (a dataset with its own splits, or a folder of which a share is
 * held out), and the images codecs are fitted on when none are given. Callers ask; they never name a dataset.
 */
import { isImperaError } from '../errors.js';
import { EXAMPLE_DATA } from '../util/package.js';
import { isFashionMnist, openDataset, type Dataset, type DatasetOptions } from './dataset.js';

/**
 * The built-in labelled sample (200 images): the default images of every command that reads some, and the probes
 * the planner measures agreement with the full model on when a scenario gives no labelled data.
 */
export const DEFAULT_DATA = EXAMPLE_DATA;

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
export function labelledSplits(source: string, baseDir?: string): LabelledSplits {
  if (isFashionMnist(source)) return { train: once(() => openDataset('fashion-mnist:train')), test: once(() => openDataset('fashion-mnist:test')) };
  return { train: once(() => openSource(source, baseDir)), test: null };
}

/**
 * Images to fit codecs on: `source` when given, else the default training split, else (that not installed)
 * `fallback`, with a warning saying so and `hint` (how to give other images).
 */
export function calibrationData(source: string | undefined, fallback: { what: string; data: () => Dataset }, warnings: string[], hint: string, baseDir?: string, options: DatasetOptions = {}): Dataset {
  if (source) return openSource(source, baseDir, options);
  try {
    return openDataset(DEFAULT_CALIBRATION);
  } catch (e) {
    if (!isImperaError(e)) throw e;
    warnings.push(`codecs are fitted on ${fallback.what} (Fashion-MNIST is not installed): ${hint}`);
    return fallback.data();
  }
}
