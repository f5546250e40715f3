/** `impera/data`: real inputs: datasets (image folders, Fashion-MNIST), preprocessing, random feeds, NumPy .npy files. */
export { openDataset, type Dataset, type DatasetOptions, type ImageSpec } from '../data/dataset.js';
export { loadFashionMnist, FASHION_MNIST_CLASSES, type GrayImages } from '../data/fashion-mnist.js';
export { grayToInput, rasterToInput, IMAGENET } from '../data/preprocess.js';
export { sampleFeeds, type SampleFeeds } from '../data/samples.js';
export { readNpy, writeNpy, encodeNpy, decodeNpy } from '../data/npy.js';
