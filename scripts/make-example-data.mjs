// Writes examples/fashion-mnist-sample/: the first 20 test images of each Fashion-MNIST class as PNG files in
// one folder per class (sorted folder names keep the label order). Run after `npm run build`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '../dist/src/data/fashion-mnist.js';
import { encodeGrayPng } from '../dist/src/data/images.js';

const PER_CLASS = 20;
const out = new URL('../examples/fashion-mnist-sample/', import.meta.url).pathname;
const test = loadFashionMnist('test');
const taken = FASHION_MNIST_CLASSES.map(() => 0);
for (let i = 0; i < test.count && taken.some((n) => n < PER_CLASS); i++) {
  const label = test.labels[i];
  if (taken[label] >= PER_CLASS) continue;
  const dir = join(out, `${label}_${FASHION_MNIST_CLASSES[label].replace(/\//g, '-').replace(/ /g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const px = test.pixels.subarray(i * 784, (i + 1) * 784);
  writeFileSync(join(dir, `test-${String(i).padStart(5, '0')}.png`), encodeGrayPng(28, 28, px));
  taken[label]++;
}
writeFileSync(
  join(out, 'dataset.json'),
  `${JSON.stringify({ description: 'Fashion-MNIST test images, 20 per class, 28x28 gray; the zoo models take them resized bilinearly to 224x224', preprocess: 'zoo', resize: true }, null, 2)}\n`,
);
console.log(`wrote ${taken.reduce((a, b) => a + b, 0)} images to ${out}`);
