/**
 * Fashion-MNIST from Debian's `dataset-fashion-mnist` package (or IMPERA_FASHION_MNIST pointing at a folder with
 * the four IDX files).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../errors.js';
import { readIdx } from './idx.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** Gray images, one byte per pixel, with their labels. */
export interface GrayImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
  labels: Uint8Array;
}

export function fashionMnistDir(): string {
  const dir = process.env.IMPERA_FASHION_MNIST ?? DEBIAN_DIR;
  if (!existsSync(join(dir, 't10k-images-idx3-ubyte.gz')) && !existsSync(join(dir, 't10k-images-idx3-ubyte'))) {
    throw new ImperaError('DATASET', `Fashion-MNIST is not installed at ${dir}`, 'apt-get install dataset-fashion-mnist, or set IMPERA_FASHION_MNIST to a folder with its IDX files');
  }
  return dir;
}

function file(dir: string, stem: string): string {
  const gz = join(dir, `${stem}.gz`);
  return existsSync(gz) ? gz : join(dir, stem);
}

/** The train or test split; `limit` keeps the first images. */
export function loadFashionMnist(split: 'train' | 'test', limit?: number): GrayImages {
  const dir = fashionMnistDir();
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdx(file(dir, `${prefix}-images-idx3-ubyte`));
  const labels = readIdx(file(dir, `${prefix}-labels-idx1-ubyte`));
  const [total, rows, cols] = images.dims as [number, number, number];
  const count = Math.min(total, labels.dims[0]!, limit ?? Infinity);
  return { count, rows, cols, pixels: images.data.subarray(0, count * rows * cols), labels: labels.data.subarray(0, count) };
}
