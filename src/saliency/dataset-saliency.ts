/**
 * I-SPLIT saliency over a dataset: run the saliency model batch by batch (memory stays bounded), accumulate the
 * Grad-CAM maps per class, and report the CUI curve for the chosen classes plus every class's own curve.
 */
import { ImperaError } from '../errors.js';
import { findCuts } from '../cuts/cuts.js';
import { modelInputs, type Dataset } from '../data/dataset.js';
import { tensor, type Graph } from '../graph/graph.js';
import { DataType } from '../onnx/dtype.js';
import { createSession, run } from '../ort/session.js';
import { CuiAccumulator, type CuiPoint, type SaliencyLayer } from './cui.js';
import { buildSaliencyModel } from './gradcam.js';
import { channelAxes, tensorLayout } from '../graph/layout.js';

export interface SaliencyOptions {
  /** Candidate layers (tensor names); default: every single-tensor cut with a Grad-CAM layout. */
  layers?: readonly string[];
  /** Explain the labelled class (default) or the predicted one. */
  target?: 'label' | 'pred';
  /** Only images of these classes (labels) count. */
  classes?: readonly number[];
  /** At most this many images (after the class filter). */
  samples?: number;
  batchSize?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SaliencyResult {
  dataset: string;
  target: 'label' | 'pred';
  samples: number;
  /** Images per class among those used. */
  counts: number[];
  classes: readonly string[];
  /** Classes the curve averages over. */
  subset: number[];
  layers: SaliencyLayer[];
  curve: CuiPoint[];
  /** log10 CUI per layer for each class's own images (null where CUI is 0 or the class has no images). */
  perClass: Record<string, (number | null)[]>;
  /** Share of the images the model classifies correctly. */
  accuracy: number;
  seconds: number;
}

/**
 * Default candidates: single-tensor cuts, in depth order, that are feature maps ([N, C, H, W]) or token sequences
 * ([N, T, C]) with more than one position, computed by at least one weighted layer — the layers I-SPLIT ranks.
 * Pooled vectors have one position, so their CUI is not comparable; pass them explicitly to include them.
 */
export function candidateLayers(g: Graph): string[] {
  const axes = channelAxes(g);
  return findCuts(g, { maxWidth: 1 })
    .filter((c) => c.headCost.macs > 0 && [3, 4].includes(tensor(g, c.tensors[0]!).shape.length) && tensorLayout(g, c.tensors[0]!, axes)!.positions > 1)
    .map((c) => c.tensors[0]!);
}

export async function runSaliency(g: Graph, data: Dataset, options: SaliencyOptions = {}): Promise<SaliencyResult> {
  const started = performance.now();
  const target = options.target ?? 'label';
  const layers = options.layers ?? candidateLayers(g);
  if (layers.length === 0) throw new ImperaError('BAD_ARGUMENT', 'no candidate layers: the model has no cut tensor of shape [N, C, H, W], [N, T, C] or [N, C]');
  const input = [...g.inputShapes.entries()];
  if (input.length !== 1 || input[0]![1].shape.length !== 4) throw new ImperaError('BAD_ARGUMENT', 'saliency needs a model with one image input [N, C, H, W]');
  const inputs = modelInputs(g);
  const classCount = tensor(g, g.outputs[0]!.name!).shape[1]!;
  const subset = [...(options.classes ?? [...Array(classCount).keys()])];
  for (const c of subset) {
    if (!Number.isInteger(c) || c < 0 || c >= classCount) throw new ImperaError('BAD_ARGUMENT', `class ${c} is out of range: the model has ${classCount} classes (0-${classCount - 1})`);
  }
  const wanted = new Set(subset);
  const indices: number[] = [];
  for (let i = 0; i < data.size && indices.length < (options.samples ?? Infinity); i++) {
    const label = data.label(i);
    if (label >= classCount) throw new ImperaError('DATASET', `'${data.name}' has class index ${label} (${data.classes[label]}), but the model only has ${classCount} classes`);
    if (wanted.has(label)) indices.push(i);
  }
  if (indices.length === 0) throw new ImperaError('DATASET', `'${data.name}' has no images of classes ${subset.join(', ')}`);

  const model = buildSaliencyModel(g, layers, target);
  const session = await createSession(model.proto, g.model.dir, { ...(options.threads ? { threads: options.threads } : {}) });
  const axes = channelAxes(g);
  const info = layers.map((l) => ({ tensor: l, shape: [...tensor(g, l).shape.slice(1)], positions: tensorLayout(g, l, axes)!.positions }));
  const acc = new CuiAccumulator(info, classCount);
  const batch = options.batchSize ?? 8;
  let correct = 0;
  try {
    for (let start = 0; start < indices.length; start += batch) {
      const chunk = indices.slice(start, start + batch);
      const labels = chunk.map((i) => data.label(i));
      const feeds = {
        ...data.feeds(chunk, inputs),
        ...(model.targetsInput ? { [model.targetsInput]: { dtype: DataType.INT64, dims: [chunk.length], data: BigInt64Array.from(labels.map(BigInt)) } } : {}),
      };
      const out = await run(session, feeds);
      const logits = out[model.logits]!.data as Float32Array;
      labels.forEach((label, n) => {
        const row = logits.subarray(n * classCount, (n + 1) * classCount);
        if (row.indexOf(Math.max(...row)) === label) correct++;
      });
      // group by the image's class (its label): per-class curves and subsets are over images, as in I-SPLIT
      acc.add(layers.map((l) => out[model.maps.get(l)!]!.data as Float32Array), labels);
      options.onProgress?.(Math.min(start + batch, indices.length), indices.length);
    }
  } finally {
    await session.release();
  }
  const perClass = Object.fromEntries(data.classes.slice(0, classCount).map((name, c) => [name, acc.counts[c] ? acc.curve([c]).map((p) => p.log10) : info.map(() => null)]));
  return {
    dataset: data.name,
    target,
    samples: indices.length,
    counts: acc.counts,
    classes: data.classes.slice(0, classCount),
    subset,
    layers: info,
    curve: acc.curve(subset),
    perClass,
    accuracy: correct / indices.length,
    seconds: (performance.now() - started) / 1000,
  };
}
