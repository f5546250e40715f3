/**
 * Labelled image datasets behind one interface, read batch by batch so memory stays bounded: Fashion-MNIST
 * (Debian's IDX files) and image folders (one sub-folder per class, PNG/JPEG, classes in sorted folder order as
 * torchvision's ImageFolder does).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../errors.js';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist.js';
import { decodeImage, IMAGE_EXTENSIONS } from './images.js';
import { grayToInput, IMAGENET, rasterToInput, type Normalisation, type RasterImage } from './preprocess.js';
import { z } from 'zod';
import { readConfigFile } from '../util/config.js';

/** The model's image input: channels, height, width. */
export interface ImageSpec {
  channels: number;
  height: number;
  width: number;
}

export interface Dataset {
  readonly name: string;
  readonly size: number;
  readonly classes: readonly string[];
  label(i: number): number;
  /** Preprocessed images `indices` as one float32 [n, C, H, W] batch. */
  load(indices: readonly number[], spec: ImageSpec): Float32Array;
  /** Image i as the sensor has it (8-bit, native size): what an input-side codec (PNG, JPEG) would send. */
  raster(i: number): RasterImage;
  /** Preprocess one raster exactly as `load` does, into `out` at `offset`. */
  preprocess(img: RasterImage, spec: ImageSpec, out: Float32Array, offset: number, source?: string): void;
}

export interface DatasetOptions {
  /** zoo: [0, 1], bilinear resize, gray copied to channels (default); imagenet: shorter side, centre crop, mean/std. */
  preprocess?: 'zoo' | 'imagenet';
  /** Adapt images whose size or colour does not match the model (resize, RGB -> gray) instead of failing. */
  resize?: boolean;
  /** imagenet: the shorter side before cropping (default H x 256 / 224) and the normalisation. */
  shorterSide?: number;
  normalisation?: Normalisation;
}

const FASHION_MNIST = /^fashion-mnist(?::(train|test))?$/;

/** Whether a data source names Fashion-MNIST (Debian's files, either split) rather than an image folder. */
export const isFashionMnist = (source: string): boolean => FASHION_MNIST.test(source);

/**
 * 'fashion-mnist' (test split), 'fashion-mnist:train', or a folder of class folders. A folder may hold a
 * `dataset.json` with its own defaults ({"preprocess": "zoo", "resize": true}), which `options` override.
 */
export function openDataset(source: string, options: DatasetOptions = {}): Dataset {
  const fm = FASHION_MNIST.exec(source);
  if (fm) return fashionMnist((fm[1] ?? 'test') as 'train' | 'test');
  return imageFolder(source, { ...folderDefaults(source), ...options });
}

/** A folder's `dataset.json`: its own preprocessing defaults (other fields, such as a description, are the user's). */
const folderDefaultsSchema = z.object({ preprocess: z.enum(['zoo', 'imagenet']).optional(), resize: z.boolean().optional() });

function folderDefaults(dir: string): DatasetOptions {
  const file = join(dir, 'dataset.json');
  if (!existsSync(file)) return {};
  const hint = 'see examples/fashion-mnist-sample/dataset.json: {"preprocess": "zoo" or "imagenet", "resize": true or false}';
  const raw = readConfigFile(file, folderDefaultsSchema, { what: 'dataset description', code: 'DATASET', missingHint: hint, invalidHint: hint });
  return { ...(raw.preprocess ? { preprocess: raw.preprocess } : {}), ...(raw.resize !== undefined ? { resize: raw.resize } : {}) };
}

function fashionMnist(split: 'train' | 'test'): Dataset {
  const images = loadFashionMnist(split);
  const size = images.rows * images.cols;
  return {
    name: `Fashion-MNIST ${split}`,
    size: images.count,
    classes: FASHION_MNIST_CLASSES,
    label: (i) => images.labels[i]!,
    load: (indices, spec) => grayToInput(images, indices, spec).data,
    raster: (i) => ({ width: images.cols, height: images.rows, channels: 1, pixels: images.pixels.slice(i * size, (i + 1) * size) }),
    preprocess: (img, spec, out, offset) => rasterToInput(img.channels === 3 ? toGray(img) : img, spec.channels, spec.height, spec.width, out, offset),
  };
}

function imageFolder(dir: string, options: DatasetOptions): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ImperaError('DATASET', `dataset folder '${dir}' does not exist`, 'pass a folder with one sub-folder of images per class, or fashion-mnist');
  }
  const classes = readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort();
  const files: { path: string; label: number }[] = [];
  classes.forEach((c, label) => {
    for (const f of readdirSync(join(dir, c)).filter((f) => IMAGE_EXTENSIONS.test(f)).sort()) files.push({ path: join(dir, c, f), label });
  });
  if (files.length === 0) {
    throw new ImperaError('DATASET', `'${dir}' has no images`, 'expected one sub-folder per class holding PNG or JPEG files');
  }
  const imagenet = options.preprocess === 'imagenet';
  const preprocess = (img: RasterImage, spec: ImageSpec, out: Float32Array, offset: number, source = 'image') => {
    if (!imagenet && !options.resize && (img.height !== spec.height || img.width !== spec.width)) {
      throw new ImperaError('DATASET', `image '${source}' is ${img.width}x${img.height}, the model takes ${spec.width}x${spec.height}`, 'pass --resize to resize images to the model');
    }
    if (img.channels === 3 && spec.channels === 1 && !options.resize) {
      throw new ImperaError('DATASET', `image '${source}' is in colour, the model takes 1 channel`, 'pass --resize to convert images to gray');
    }
    const gray = img.channels === 3 && spec.channels === 1 ? toGray(img) : img;
    rasterToInput(gray, spec.channels, spec.height, spec.width, out, offset, imagenet ? { shorter: options.shorterSide ?? Math.round((spec.height * 256) / 224), norm: options.normalisation ?? IMAGENET } : {});
  };
  return {
    name: dir,
    size: files.length,
    classes,
    label: (i) => files[i]!.label,
    raster: (i) => decodeImage(files[i]!.path),
    preprocess,
    load: (indices, spec) => {
      const plane = spec.height * spec.width * spec.channels;
      const out = new Float32Array(indices.length * plane);
      indices.forEach((i, n) => preprocess(decodeImage(files[i]!.path), spec, out, n * plane, files[i]!.path));
      return out;
    },
  };
}

/** ITU-R 601 luma, as PIL's convert('L'). */
function toGray(img: RasterImage): RasterImage {
  const n = img.width * img.height;
  const pixels = new Uint8Array(n);
  for (let i = 0; i < n; i++) pixels[i] = Math.round(0.299 * img.pixels[3 * i]! + 0.587 * img.pixels[3 * i + 1]! + 0.114 * img.pixels[3 * i + 2]!);
  return { ...img, channels: 1 as const, pixels };
}

/** The images `indices` of `data` as a dataset of their own (image i is data's indices[i]). */
export function subsetDataset(data: Dataset, indices: readonly number[], name = `${data.name} (${indices.length} held out)`): Dataset {
  return {
    name,
    size: indices.length,
    classes: data.classes,
    label: (i) => data.label(indices[i]!),
    load: (idx, spec) => data.load(idx.map((i) => indices[i]!), spec),
    raster: (i) => data.raster(indices[i]!),
    preprocess: data.preprocess,
  };
}
