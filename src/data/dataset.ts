/**
 * Datasets behind one interface, read batch by batch so memory stays bounded: Fashion-MNIST (Debian's IDX files),
 * image folders (one sub-folder per class, PNG/JPEG, classes in sorted folder order as torchvision's ImageFolder
 * does; or a flat folder of unlabelled images), `.npy` arrays [N, ...] for one input and `.npz` archives with one
 * array per model input. `feeds` fills every input of a model for a batch: images through the preprocessing spec,
 * arrays by their rows.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ImperaError } from '../errors.js';
import { DataType, dtypeName, numel } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Graph } from '../graph/graph.js';
import { declaredShape } from '../graph/input-shapes.js';
import type { OnnxModel } from '../onnx/io.js';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist.js';
import { decodeImage, IMAGE_EXTENSIONS } from './images.js';
import { imageTarget, imageToInput, type ImageTarget, type RasterImage } from './preprocess.js';
import { PRESETS, resolvePreprocess, type PreprocessInput, type PreprocessSpec } from './preprocess-spec.js';
import { readNpy } from './npy.js';
import { readNpz } from './npz.js';
import { z } from 'zod';
import { readConfigFile } from '../util/config.js';
/** The model's image input: channels, height, width. */
export interface ImageSpec {
  channels: number;
  height: number;
  width: number;
}

/** A model input as data fills it: batch first; a dim the data decides (dynamic, the batch included) is -1. */
export interface InputSpec {
  name: string;
  dtype: DataType;
  dims: readonly number[];
}

export interface Dataset {
  readonly name: string;
  readonly size: number;
  /** Class names; [] when unlabelled. */
  readonly classes: readonly string[];
  /** false: an unlabelled folder or arrays without labels; `label` then throws. */
  readonly labelled: boolean;
  label(i: number): number;
  /** One batch, every input of the model: images preprocessed into each image input, arrays sliced by rows. */
  feeds(indices: readonly number[], inputs: readonly InputSpec[]): Record<string, Tensor>;
  /** Preprocessed images `indices` as one float32 [n, C, H, W] batch. */
  load(indices: readonly number[], spec: ImageSpec): Float32Array;
  /** Image i as the sensor has it (8-bit, native size): what an input-side codec (PNG, JPEG) would send. Images only. */
  raster?(i: number): RasterImage;
  /** Preprocess one raster exactly as `load` does, into `out` at `offset`. Images only. */
  preprocess?(img: RasterImage, spec: ImageSpec, out: Float32Array, offset: number, source?: string): void;
}

export interface DatasetOptions {
  /** A preset (zoo, the default; imagenet), a compact spec (`resize=pad,size=640x640,...`) or a scenario's object. */
  preprocess?: string | PreprocessInput;
  /** Adapt images whose size or colour does not match the model (stretch, RGB -> gray) when the spec does not resize. */
  resize?: boolean;
  /** Labels of an .npy or .npz source (an .npy file of integers), instead of a `labels.npy` beside it. */
  labels?: string;
}

const FASHION_MNIST = /^fashion-mnist(?::(train|test))?$/;

/** Whether a data source names Fashion-MNIST (Debian's files, either split) rather than an image folder. */
export const isFashionMnist = (source: string): boolean => FASHION_MNIST.test(source);

/**
 * The model's inputs as its file declares them, every symbolic dim -1: what data fills before the model is analysed,
 * so that dynamic dims (a detector's height and width) can come from the data (`dataShapes`).
 */
export function declaredInputs(model: OnnxModel): InputSpec[] {
  const initializers = new Set((model.proto.graph?.initializer ?? []).map((t) => t.name));
  return (model.proto.graph?.input ?? [])
    .filter((v) => !initializers.has(v.name!))
    .map((v) => ({ name: v.name!, dtype: (v.type?.tensorType?.elemType ?? 0) as DataType, dims: (declaredShape(v) ?? []).map((d) => (typeof d === 'number' ? d : -1)) }));
}

/**
 * Refuse, in one line, a model with a fixed batch, or one that holds the batch off axis 0 of an input (an RNN state
 * [layers, batch, n]), for `what`: an analysis that stacks samples along axis 0 (the bottleneck predictors; evaluation
 * itself follows each input's batch axis).
 */
export function requireBatchFirst(g: Graph, what: string): void {
  const inputs = modelInputs(g);
  const fixed = inputs.every((i) => !i.dims.includes(-1));
  if (fixed && inputs.length > 0) {
    const first = inputs[0]!;
    throw new ImperaError('BAD_ARGUMENT', `${what} runs batches of samples (and codecs side by side along the batch), but input '${first.name}' [${first.dims.join(', ')}] has a fixed batch`, 'export the model with a dynamic batch dim (e.g. torch.onnx.export(..., dynamic_axes={name: {0: "batch"}}))');
  }
  const off = inputs.find((i) => i.dims.indexOf(-1) > 0);
  if (!off) return;
  throw new ImperaError('BAD_ARGUMENT', `${what} stacks samples along axis 0, but input '${off.name}' [${off.dims.map((d) => (d < 0 ? 'N' : d)).join(', ')}] holds the batch on axis ${off.dims.indexOf(-1)} (a recurrent state): not supported yet`, 'split --verify, serve and edge run this model; evaluate codecs on a model whose inputs are batch-first');
}

/**
 * The inputs of an analysed model as data fills them: the analysed dims, with the batch (each dim that follows the
 * batch one to one) as -1, so every batch of data has the shapes the analysis measured.
 */
export function modelInputs(g: Graph): InputSpec[] {
  return [...g.inputShapes].map(([name, info]) => {
    const scale = g.tensors.get(name)?.batchScale;
    const dims = info.shape.map((d, i) => ((scale ? scale[i] === 1 : i === 0 && g.batch !== undefined) ? -1 : d));
    return { name, dtype: info.dtype, dims };
  });
}

/** The shapes `data` gives `inputs` at batch 1 (dynamic dims decided by the data): `inputShapes` for analysing the model. */
export function dataShapes(data: Dataset, inputs: readonly InputSpec[]): Record<string, number[]> {
  return Object.fromEntries(Object.entries(data.feeds([0], inputs)).map(([name, t]) => [name, [...t.dims]]));
}

/** The input spec of a [N, C, H, W] float image input (for callers that know only the image geometry). */
export const imageInput = (name: string, spec: ImageSpec): InputSpec => ({ name, dtype: DataType.FLOAT, dims: [-1, spec.channels, spec.height, spec.width] });

/**
 * 'fashion-mnist' (test split), 'fashion-mnist:train', a folder of class folders or of images, an `.npy` file or an
 * `.npz` archive. A folder may hold a `dataset.json` with its own defaults ({"preprocess": "zoo", "resize": true}),
 * which `options` override.
 */
export function openDataset(source: string, options: DatasetOptions = {}): Dataset {
  const fm = FASHION_MNIST.exec(source);
  if (fm) return fashionMnist((fm[1] ?? 'test') as 'train' | 'test', options);
  if (/\.npy$/i.test(source)) return npyDataset(source, options);
  if (/\.npz$/i.test(source)) return npzDataset(source, options);
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

/** The options' spec; `resize` turns the zoo's strict sizes into a stretch with colour conversion. */
function specOf(options: DatasetOptions, fallback: PreprocessSpec = PRESETS.zoo): PreprocessSpec {
  const spec = options.preprocess === undefined ? fallback : resolvePreprocess(options.preprocess);
  return options.resize && spec.resize === 'none' ? { ...spec, resize: 'stretch', gray: 'convert' } : spec;
}

/** What every dataset shares: `load` is `feeds` for one image input. */
function withLoad(d: Omit<Dataset, 'load'>): Dataset {
  return { ...d, load: (indices, spec) => d.feeds(indices, [imageInput('image', spec)]).image!.data as Float32Array };
}

/** A label reader for data that has none. */
const noLabels = (name: string) => (): number => {
  throw new ImperaError('DATASET', `'${name}' has no labels`, 'give labelled data (class sub-folders, labels.npy beside an .npy file, or labels in the .npz), or use a metric that compares with the full model');
};

/**
 * A dataset of images: `feeds` preprocesses them into the one image input the model has (the target size
 * resolved once from the input's dims, the spec and the first image).
 */
function imageDataset(d: { name: string; size: number; classes: readonly string[]; label: ((i: number) => number) | null; raster: (i: number) => RasterImage; source: (i: number) => string; spec: PreprocessSpec }): Dataset {
  const targets = new Map<string, ImageTarget>();
  const targetOf = (input: InputSpec): ImageTarget => {
    const key = `${input.name}:${input.dims.join(',')}`;
    if (!targets.has(key)) targets.set(key, imageTarget(input.name, input.dims, d.spec, () => d.raster(0)));
    return targets.get(key)!;
  };
  const preprocess = (img: RasterImage, spec: ImageSpec, out: Float32Array, offset: number, source = 'image') => imageToInput(img, d.spec, { ...spec, layout: 'nchw' }, out, offset, source);
  return withLoad({
    name: d.name,
    size: d.size,
    classes: d.classes,
    labelled: d.label !== null,
    label: d.label ?? noLabels(d.name),
    raster: d.raster,
    preprocess,
    feeds: (indices, inputs) => {
      if (inputs.length !== 1) throw new ImperaError('DATASET', `'${d.name}' holds images, which fill one input; the model takes ${inputs.length}: ${inputs.map((i) => i.name).join(', ')}`, 'give an .npz archive with one array per input, named as the inputs');
      const input = inputs[0]!;
      if (input.dtype !== DataType.FLOAT) throw new ImperaError('DATASET', `input '${input.name}' takes ${dtypeName(input.dtype)}, images become float32`, 'give its data as .npy or .npz arrays of that type');
      const t = targetOf(input);
      const per = t.channels * t.height * t.width;
      const data = new Float32Array(indices.length * per);
      indices.forEach((i, n) => imageToInput(d.raster(i), d.spec, t, data, n * per, d.source(i)));
      const dims = t.layout === 'nchw' ? [indices.length, t.channels, t.height, t.width] : [indices.length, t.height, t.width, t.channels];
      return { [input.name]: { dtype: DataType.FLOAT, dims, data } };
    },
  });
}

function fashionMnist(split: 'train' | 'test', options: DatasetOptions): Dataset {
  const images = loadFashionMnist(split);
  const size = images.rows * images.cols;
  // the zoo was trained on bilinear-resized Fashion-MNIST: resizing it is the built-in example's own preprocessing
  const spec = specOf(options, { ...PRESETS.zoo, resize: 'stretch', gray: 'convert' });
  return imageDataset({
    name: `Fashion-MNIST ${split}`,
    size: images.count,
    classes: FASHION_MNIST_CLASSES,
    label: (i) => images.labels[i]!,
    raster: (i) => ({ width: images.cols, height: images.rows, channels: 1, pixels: images.pixels.slice(i * size, (i + 1) * size) }),
    source: (i) => `Fashion-MNIST ${split} #${i}`,
    spec,
  });
}

const imagesIn = (dir: string): string[] => readdirSync(dir).filter((f) => IMAGE_EXTENSIONS.test(f) && statSync(join(dir, f)).isFile()).sort();

/** Class sub-folders when some hold images (labelled), else the folder's own images (unlabelled). */
function imageFolder(dir: string, options: DatasetOptions): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ImperaError('DATASET', `dataset folder '${dir}' does not exist`, 'pass a folder of images (one sub-folder per class when labelled), an .npy or .npz file, or fashion-mnist');
  }
  const classes = readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort();
  const files: { path: string; label: number }[] = [];
  classes.forEach((c, label) => {
    for (const f of imagesIn(join(dir, c))) files.push({ path: join(dir, c, f), label });
  });
  const labelled = files.length > 0;
  if (!labelled) files.push(...imagesIn(dir).map((f) => ({ path: join(dir, f), label: -1 })));
  if (files.length === 0) {
    throw new ImperaError('DATASET', `'${dir}' has no images`, 'expected PNG or JPEG files, in one sub-folder per class when labelled');
  }
  return imageDataset({
    name: dir,
    size: files.length,
    classes: labelled ? classes : [],
    label: labelled ? (i) => files[i]!.label : null,
    raster: (i) => decodeImage(files[i]!.path),
    source: (i) => files[i]!.path,
    spec: specOf(options),
  });
}

/** Single image files as an unlabelled dataset, in the order given. */
export function imageFiles(paths: readonly string[], options: DatasetOptions = {}): Dataset {
  return imageDataset({
    name: `${paths.length} image file${paths.length > 1 ? 's' : ''}`,
    size: paths.length,
    classes: [],
    label: null,
    raster: (i) => decodeImage(paths[i]!),
    source: (i) => paths[i]!,
    spec: specOf(options),
  });
}

/** Integer labels, one per sample, from an .npy array (or an .npz's `labels`). */
function labelsOf(t: Tensor, source: string, size: number): number[] {
  const ints = [DataType.INT64, DataType.INT32, DataType.INT8, DataType.UINT8];
  if (!ints.includes(t.dtype) || t.dims.length !== 1) throw new ImperaError('DATASET', `labels '${source}' are ${dtypeName(t.dtype)} [${t.dims.join(', ')}]; labels are one integer per sample`, 'save them as a 1-d integer array');
  if (t.dims[0] !== size) throw new ImperaError('DATASET', `labels '${source}' hold ${t.dims[0]} labels for ${size} samples`, 'give one label per sample');
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Labels given by `--labels`, else a `labels.npy` beside an .npy file, else none. */
function sideLabels(file: string, options: DatasetOptions, size: number): number[] | null {
  const beside = join(dirname(file), 'labels.npy');
  const path = options.labels ?? (existsSync(beside) && basename(file) !== 'labels.npy' ? beside : undefined);
  return path === undefined ? null : labelsOf(readNpy(path), path, size);
}

/** Rows `indices` of a sample-major array, with the sample axis moved to `axis`. */
function rows(t: Tensor, indices: readonly number[], axis: number): Tensor {
  const per = numel(t.dims.slice(1));
  const Ctor = t.data.constructor as new (n: number) => typeof t.data;
  const [outer, inner] = [numel(t.dims.slice(1, axis + 1)), numel(t.dims.slice(axis + 1))];
  const data = new Ctor(indices.length * per);
  // out[o, n, i] = t[indices[n], o, i]: the sample's block of `outer` slabs of `inner` values each
  indices.forEach((row, n) => {
    for (let o = 0; o < outer; o++) {
      const from = row * per + o * inner;
      (data as { set(a: ArrayLike<number | bigint>, at: number): void }).set(t.data.subarray(from, from + inner) as ArrayLike<number | bigint>, (o * indices.length + n) * inner);
    }
  });
  const dims = [...t.dims.slice(1, axis + 1), indices.length, ...t.dims.slice(axis + 1)];
  return { dtype: t.dtype, dims, data };
}

/**
 * An array `t` (from `source`) as input `input` for a batch: fed whole when it already has the input's shape and the
 * input has no dim the batch decides (a scalar such as a sample rate), else sample-major [N, ...] rows with the
 * sample axis put where the input's batch is (its first dynamic dim).
 */
function arrayFeed(t: Tensor, input: InputSpec, indices: readonly number[], source: string): Tensor {
  if (t.dtype !== input.dtype) throw new ImperaError('DATASET', `${source} is ${dtypeName(t.dtype)}, input '${input.name}' takes ${dtypeName(input.dtype)}`, `save it as ${dtypeName(input.dtype)} (numpy: a.astype(...))`);
  const fits = (dims: readonly number[]) => dims.length === input.dims.length && dims.every((d, i) => input.dims[i]! < 0 || input.dims[i] === d);
  const batchAxis = input.dims.findIndex((d) => d < 0);
  if (batchAxis < 0 && fits(t.dims) && (t.dims.length === 0 || t.dims[0] !== indices.length || input.dims[0] === t.dims[0])) return t;
  const axis = Math.max(0, batchAxis);
  const perSample = [...input.dims.slice(0, axis), ...input.dims.slice(axis + 1)];
  const expected = `[N, ${perSample.map((d) => (d < 0 ? '?' : d)).join(', ')}]`;
  // a fixed batch (no dynamic dim: [1, T, C] as exported) is still the sample axis; its runner feeds it batch by batch
  const batched = batchAxis < 0 ? [input.dims[0]!, ...t.dims.slice(1)] : [...t.dims.slice(1, axis + 1), indices.length, ...t.dims.slice(axis + 1)];
  if (t.dims.length !== input.dims.length || !fits(batched)) {
    throw new ImperaError('DATASET', `${source} is [${t.dims.join(', ')}], input '${input.name}' takes [${input.dims.map((d) => (d < 0 ? '?' : d)).join(', ')}]: give it one row per sample, ${expected}`, 'save the array with one sample per row (the first axis)');
  }
  return rows(t, indices, axis);
}

/** Arrays by input name: one dataset of `size` samples whose `feeds` slices them. */
function arrayDataset(name: string, size: number, arrays: ReadonlyMap<string, Tensor>, labels: number[] | null, single: boolean): Dataset {
  return withLoad({
    name,
    size,
    classes: labels ? [...Array(Math.max(...labels) + 1).keys()].map(String) : [],
    labelled: labels !== null,
    label: labels ? (i) => labels[i]! : noLabels(name),
    feeds: (indices, inputs) => {
      if (single && inputs.length !== 1) throw new ImperaError('DATASET', `'${name}' holds one array; the model takes ${inputs.length} inputs: ${inputs.map((i) => i.name).join(', ')}`, `give an .npz archive with one array per input: numpy.savez(file, ${inputs.map((i) => `${i.name}=...`).join(', ')})`);
      return Object.fromEntries(
        inputs.map((input) => {
          const t = single ? [...arrays.values()][0]! : arrays.get(input.name);
          if (!t) throw new ImperaError('DATASET', `'${name}' has no array '${input.name}' for the model's input of that name (it holds ${[...arrays.keys()].join(', ')})`, `save one array per input, named as the inputs: ${inputs.map((i) => i.name).join(', ')}`);
          return [input.name, arrayFeed(t, input, indices, single ? `'${name}'` : `array '${input.name}' of '${name}'`)];
        }),
      );
    },
  });
}

function npyDataset(file: string, options: DatasetOptions): Dataset {
  const t = readNpy(file);
  if (t.dims.length === 0) throw new ImperaError('DATASET', `'${file}' holds a scalar; data arrays are [N, ...], one sample per row`, 'save one sample per row');
  return arrayDataset(file, t.dims[0]!, new Map([[basename(file, '.npy'), t]]), sideLabels(file, options, t.dims[0]!), true);
}

/** Samples of an .npz: the first axis of its biggest array (others may be fed whole, e.g. a scalar); labels must count them. */
function npzDataset(file: string, options: DatasetOptions): Dataset {
  const arrays = readNpz(file);
  const inputs = new Map([...arrays].filter(([k]) => k !== 'labels'));
  const biggest = [...inputs.values()].filter((t) => t.dims.length > 0).sort((a, b) => numel(b.dims) - numel(a.dims))[0];
  const given = arrays.get('labels');
  const size = biggest?.dims[0] ?? given?.dims[0];
  if (size === undefined) throw new ImperaError('DATASET', `'${file}' holds no array with samples`, 'save arrays [N, ...] with one sample per row');
  const labels = options.labels ? labelsOf(readNpy(options.labels), options.labels, size) : given ? labelsOf(given, `${file}:labels`, size) : null;
  return arrayDataset(file, size, inputs, labels, false);
}

/** The images `indices` of `data` as a dataset of their own (image i is data's indices[i]). */
export function subsetDataset(data: Dataset, indices: readonly number[], name = `${data.name} (${indices.length} held out)`): Dataset {
  return {
    name,
    size: indices.length,
    classes: data.classes,
    labelled: data.labelled,
    label: (i) => data.label(indices[i]!),
    feeds: (idx, inputs) => data.feeds(idx.map((i) => indices[i]!), inputs),
    load: (idx, spec) => data.load(idx.map((i) => indices[i]!), spec),
    ...(data.raster ? { raster: (i: number) => data.raster!(indices[i]!) } : {}),
    ...(data.preprocess ? { preprocess: data.preprocess } : {}),
  };
}
