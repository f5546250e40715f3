/**
 * I-SPLIT saliency over a dataset: run the saliency model batch by batch (memory stays bounded), accumulate the
 * Grad-CAM maps per class, and report the CUI curve for the chosen classes plus every class's own curve.
 */
import { ImperaError } from '../errors.js';
import { findCuts } from '../cuts/cuts.js';
import { modelInputs, type Dataset } from '../data/dataset.js';
import { tensor, type Graph } from '../graph/graph.js';
import type { OutputSelection } from '../autodiff/backward.js';
import { DataType } from '../onnx/dtype.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run } from '../ort/session.js';
import { CuiAccumulator, type CuiPoint, type SaliencyLayer } from './cui.js';
import { buildSaliencyModel, type SaliencyObjective } from './gradcam.js';
import { channelAxes, tensorLayout } from '../graph/layout.js';

export interface SaliencyOptions {
  /** Candidate layers (tensor names); default: candidateLayers. */
  layers?: readonly string[];
  /** The width of the cuts the default candidates come from (default: the narrowest that has any, 1 to 3). */
  width?: number;
  /**
   * What the maps explain (docs/saliency/OBJECTIVES.md): the target logit (I-SPLIT), the l2 norm of (part of) an
   * output, the fidelity loss against the model's own decision, or a fed output gradient (seed). Default: seed
   * with `outputGrads`, l2 with `select`, the target logit where the first output is class logits [N, K], else fidelity.
   */
  objective?: SaliencyObjective['objective'];
  /** target-logit: explain the labelled class (the default on labelled data) or the predicted one (the default without labels). */
  target?: 'label' | 'pred';
  /** l2, fidelity: the output the objective is on (default: the first). */
  output?: string;
  /** l2: a channel and/or region of the output. */
  select?: OutputSelection;
  /** fidelity on maps: the threshold of the model's own map (default 0.5). */
  threshold?: number;
  /** seed: dL/dy per output, [1, ...] (the same for every image) or [images, ...] (one per image, in order). */
  outputGrads?: Record<string, Tensor>;
  /** Only images of these classes (labels) count: only where the objective's output has classes ([N, K]). */
  classes?: readonly number[];
  /** At most this many images (after the class filter). */
  samples?: number;
  batchSize?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SaliencyResult {
  dataset: string;
  /** The objective the maps explain, in words. */
  objective: string;
  /** target-logit: which class was explained. */
  target?: 'label' | 'pred';
  samples: number;
  /** Images per class among those used (empty when the objective's output has no classes). */
  counts: number[];
  classes: readonly string[];
  /** Classes the curve averages over (empty: every image, the output has no classes). */
  subset: number[];
  layers: SaliencyLayer[];
  curve: CuiPoint[];
  /** log10 CUI per layer for each class's own images (null where CUI is 0 or the class has no images). */
  perClass: Record<string, (number | null)[]>;
  /** target-logit on labelled data: share of the images the model classifies correctly (null without labels). */
  accuracy: number | null;
  seconds: number;
}

/** Cut widths searched for candidates, narrowest first: a recurrent state beside every activation makes cuts of 2 or 3 tensors. */
const CANDIDATE_WIDTHS = [1, 2, 3];

/**
 * Default candidates: tensors of the narrowest cuts that hold any, in depth order, that are computed by at least one
 * weighted layer, hold the batch on axis 0 and have more than one position (graph/layout.ts: H x W of a feature map,
 * T of a sequence [N, T, C] or of a 1-D convolution's [N, C, T], D x H x W above rank 4) — the layers I-SPLIT ranks.
 * Single-tensor cuts (I-SPLIT's) where the model has candidates among them; else (a recurrent state crosses every
 * cut, as in a VAD's LSTM) the activations of cuts of 2, then 3 tensors; `maxWidth` fixes the width instead.
 * Vectors [N, C] have one position, so their CUI is not comparable to a map's: they are candidates only in a model
 * whose cuts hold nothing else (an MLP), and can be passed explicitly anywhere.
 */
export function candidateLayers(g: Graph, maxWidth?: number): string[] {
  const axes = channelAxes(g);
  const depth = new Map(g.order.flatMap((i, k) => g.nodes[i]!.outputs.map((o) => [o, k] as const)));
  // a scalar per sample (a layer norm's mean) is no layer; a tensor holding the batch off axis 0 is a recurrent state
  const positions = (t: string) => {
    const layout = depth.has(t) && (tensor(g, t).batchScale?.indexOf(1) ?? 0) <= 0 ? tensorLayout(g, t, axes) : undefined;
    return layout && layout.channels * layout.positions > 1 ? layout.positions : 0;
  };
  for (const least of [2, 1]) {
    for (const width of maxWidth ? [maxWidth] : CANDIDATE_WIDTHS) {
      const found = new Set(findCuts(g, { maxWidth: width }).filter((c) => c.headCost.macs > 0).flatMap((c) => c.tensors.filter((t) => positions(t) >= least)));
      if (found.size) return [...found].sort((a, b) => depth.get(a)! - depth.get(b)!);
    }
  }
  return [];
}

export async function runSaliency(g: Graph, data: Dataset, options: SaliencyOptions = {}): Promise<SaliencyResult> {
  const started = performance.now();
  const objective = saliencyObjective(g, options, data.labelled);
  const layers = options.layers ?? candidateLayers(g, options.width);
  if (layers.length === 0) throw new ImperaError('BAD_ARGUMENT', `no candidate layers: no cut${options.width ? ` of up to ${options.width} tensors` : ''} holds an activation after a weighted layer with the batch on axis 0`, 'name the layers (--layers)');
  const inputs = modelInputs(g);
  const output = objective.objective === 'target-logit' ? g.outputs[0]!.name! : (objective.outputs?.[0] ?? g.outputs[0]!.name!);
  const shape = tensor(g, output).shape;
  if (objective.objective === 'target-logit' && objective.target === 'label' && !data.labelled) {
    throw new ImperaError('DATASET', `'${data.name}' has no labels to explain the labelled class`, 'explain the predicted class (--target pred), or the fidelity loss (--objective fidelity)');
  }
  // images are grouped by label only where the data has labels and the objective's output classes to match them
  const classCount = shape.length === 2 && objective.objective !== 'seed' && data.labelled ? shape[1]! : 0;
  if (!classCount && options.classes) throw new ImperaError('BAD_ARGUMENT', `a class subset picks images by class, but ${data.labelled ? `output '${output}' [${shape}] has no classes` : `'${data.name}' has no labels`}`, 'leave out --classes');
  const subset = [...(options.classes ?? [...Array(classCount).keys()])];
  const indices = classCount ? imagesOfClasses(data, subset, classCount, options.samples) : [...Array(Math.min(data.size, options.samples ?? Infinity)).keys()];
  const grads = options.outputGrads ? checkOutputGrads(g, options.outputGrads, indices.length) : undefined;

  const model = buildSaliencyModel(g, layers, objective);
  const session = await createSession(model.proto, g.model.dir, { ...(options.threads ? { threads: options.threads } : {}) });
  const axes = channelAxes(g);
  const info = layers.map((l) => ({ tensor: l, shape: [...tensor(g, l).shape.slice(1)], positions: tensorLayout(g, l, axes)!.positions }));
  const acc = new CuiAccumulator(info, Math.max(classCount, 1));
  // a model exported with a fixed batch runs one sample at a time (each sample's maps are its own anyway)
  const batch = inputs.every((i) => !i.dims.includes(-1)) ? 1 : (options.batchSize ?? 8);
  let correct = 0;
  try {
    for (let start = 0; start < indices.length; start += batch) {
      const chunk = indices.slice(start, start + batch);
      const labels = classCount ? chunk.map((i) => data.label(i)) : chunk.map(() => 0);
      const feeds = {
        ...data.feeds(chunk, inputs),
        ...(model.targetsInput ? { [model.targetsInput]: { dtype: DataType.INT64, dims: [chunk.length], data: BigInt64Array.from(labels.map(BigInt)) } } : {}),
        ...Object.fromEntries([...(model.outputGradInputs ?? [])].map(([o, name]) => [name, rowsOf(grads![o]!, start, chunk.length)])),
      };
      const out = await run(session, feeds);
      if (model.logits && classCount) {
        const logits = out[model.logits]!.data as Float32Array;
        labels.forEach((label, n) => {
          const row = logits.subarray(n * classCount, (n + 1) * classCount);
          if (row.indexOf(Math.max(...row)) === label) correct++;
        });
      }
      // group by the image's class (its label): per-class curves and subsets are over images, as in I-SPLIT
      acc.add(layers.map((l) => out[model.maps.get(l)!]!.data as Float32Array), labels);
      options.onProgress?.(Math.min(start + batch, indices.length), indices.length);
    }
  } finally {
    await session.release();
  }
  const classes = data.classes.slice(0, classCount);
  const perClass = Object.fromEntries(classes.map((name, c) => [name, acc.counts[c] ? acc.curve([c]).map((p) => p.log10) : info.map(() => null)]));
  return {
    dataset: data.name,
    objective: describeObjective(objective, output),
    ...(objective.objective === 'target-logit' ? { target: objective.target } : {}),
    samples: indices.length,
    counts: classCount ? acc.counts : [],
    classes,
    subset: classCount ? subset : [],
    layers: info,
    curve: acc.curve(classCount ? subset : [0]),
    perClass,
    // without labels there is nothing to be correct about (the predicted class is explained)
    accuracy: model.logits && classCount ? correct / indices.length : null,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The objective the options ask for; options that belong to another objective are refused. By default the target
 * logit where the first output is class logits [N, K] (I-SPLIT: the labelled class, or the predicted one where the
 * data has no labels), the squared L2 norm of an output of data-dependent length (a detector's kept boxes), else
 * the fidelity loss, which any other model has.
 */
function saliencyObjective(g: Graph, o: SaliencyOptions, labelled: boolean): SaliencyObjective {
  const objective = o.objective ?? defaultObjective(g, o);
  const refuse = (option: string, belongs: string) => {
    throw new ImperaError('BAD_ARGUMENT', `${option} applies to objective ${belongs}, not '${objective}'`);
  };
  if (o.target && objective !== 'target-logit') refuse('the target class (label or pred)', 'target-logit');
  if (o.select && objective !== 'l2') refuse('a channel or region', 'l2');
  if (o.threshold !== undefined && objective !== 'fidelity') refuse('a threshold', 'fidelity');
  if (o.outputGrads && objective !== 'seed') refuse('a fed output gradient', 'seed');
  if (o.output && objective === 'target-logit') refuse('an output', 'l2 or fidelity (target-logit explains the first output)');
  if (objective === 'target-logit') return { objective, target: o.target ?? (labelled ? 'label' : 'pred') };
  if (objective === 'seed') {
    if (!o.outputGrads || !Object.keys(o.outputGrads).length) throw new ImperaError('BAD_ARGUMENT', 'objective seed needs the gradient of at least one output', 'give dL/dy as a .npy file (--output-grad)');
    return { objective, outputs: Object.keys(o.outputGrads) };
  }
  return { objective, ...(o.output ? { outputs: [o.output] } : {}), ...(o.select ? { select: o.select } : {}), ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) };
}

/** What the other options imply (seed, l2, target-logit), else l2 of an output of data-dependent length, the target logit of class logits, else fidelity. */
function defaultObjective(g: Graph, o: SaliencyOptions): SaliencyObjective['objective'] {
  if (o.outputGrads) return 'seed';
  if (o.select) return 'l2';
  // a detector's [K, 4] boxes after NMS are rank 2 too, but K is how many it kept: only their norm means something
  const first = tensor(g, o.output ?? g.outputs[0]!.name!);
  if (first.dataDependent && !o.target && o.threshold === undefined) return 'l2';
  const classLogits = first.shape.length === 2 && !o.output && o.threshold === undefined;
  return o.target || classLogits ? 'target-logit' : 'fidelity';
}

function describeObjective(o: SaliencyObjective, output: string): string {
  if (o.objective === 'target-logit') return `target logit (${o.target === 'label' ? 'labelled class' : 'predicted class'})`;
  if (o.objective === 'seed') return `fed output gradient of ${o.outputs!.map((x) => `'${x}'`).join(', ')}`;
  if (o.objective === 'fidelity') return `fidelity loss of '${output}' against the model's own decision${o.threshold !== undefined ? ` (map threshold ${o.threshold})` : ''}`;
  const { channel, region } = o.select ?? {};
  const part = [channel !== undefined ? `channel ${channel}` : '', region ? `region ${region.map(([a, b]) => `${a}:${b}`).join(',')}` : ''].filter(Boolean).join(', ');
  return `squared L2 norm of '${output}'${part ? ` (${part})` : ''}`;
}

/** Up to `samples` images whose labels are in `subset`, in dataset order. */
function imagesOfClasses(data: Dataset, subset: readonly number[], classCount: number, samples = Infinity): number[] {
  for (const c of subset) {
    if (!Number.isInteger(c) || c < 0 || c >= classCount) throw new ImperaError('BAD_ARGUMENT', `class ${c} is out of range: the model has ${classCount} classes (0-${classCount - 1})`);
  }
  const wanted = new Set(subset);
  const indices: number[] = [];
  for (let i = 0; i < data.size && indices.length < samples; i++) {
    const label = data.label(i);
    if (label >= classCount) throw new ImperaError('DATASET', `'${data.name}' has class index ${label} (${data.classes[label]}), but the model only has ${classCount} classes`);
    if (wanted.has(label)) indices.push(i);
  }
  if (indices.length === 0) throw new ImperaError('DATASET', `'${data.name}' has no images of classes ${subset.join(', ')}`);
  return indices;
}

/** Fed gradients fit their outputs: float32, the output's shape per image, one row for all images or one per image. */
function checkOutputGrads(g: Graph, grads: Record<string, Tensor>, images: number): Record<string, Tensor> {
  for (const [o, t] of Object.entries(grads)) {
    if (!g.tensors.has(o) || !g.outputs.some((x) => x.name === o)) throw new ImperaError('BAD_ARGUMENT', `'${o}' is not an output of the model`, `its outputs: ${g.outputs.map((x) => x.name).join(', ')}`);
    const per = tensor(g, o).shape.slice(1);
    const fits = t.dtype === DataType.FLOAT && t.dims.length === per.length + 1 && t.dims.slice(1).every((d, i) => d === per[i]) && (t.dims[0] === 1 || t.dims[0] === images);
    if (!fits) throw new ImperaError('BAD_ARGUMENT', `the gradient of output '${o}' is ${t.dtype === DataType.FLOAT ? '' : 'not float32, '}[${t.dims}]; it must be float32 [1, ${per.join(', ')}] (every image) or [${images}, ${per.join(', ')}] (one per image)`);
  }
  return grads;
}

/** Rows start..start+n of a fed gradient, or its one row repeated n times. */
function rowsOf(t: Tensor, start: number, n: number): Tensor {
  const data = t.data as Float32Array;
  const per = data.length / t.dims[0]!;
  const rows = t.dims[0] === 1 ? Float32Array.from({ length: n * per }, (_, i) => data[i % per]!) : data.slice(start * per, (start + n) * per);
  return { dtype: DataType.FLOAT, dims: [n, ...t.dims.slice(1)], data: rows };
}
