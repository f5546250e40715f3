/**
 * The task layer's contract: how the quality of a split model is measured, for any output. Every analysis that
 * scores a configuration (evaluation, the planner, exits, the edge runner's summaries) asks a `Task` for per-sample
 * scores instead of taking an argmax; which metric fits is decided from the outputs and the data (`chooseTask`),
 * or set by the user, and a metric that does not fit is refused with an error naming the one that does.
 */
import type { Tensor } from '../onnx/tensor.js';

/** Built-in metrics; a user's metric module is `custom:<file>`. */
export type BuiltinMetric =
  | 'accuracy' // labels: share of top-1 predictions equal to the label
  | 'top1-agreement' // no labels: share of top-1 predictions equal to the full model's
  | 'top5-agreement' // share where the full model's top-1 is among the split's top 5
  | 'rel-l2' // ||y - y_full|| / ||y_full||, per sample (lower is better)
  | 'cosine' // cosine similarity of y and y_full, per sample
  | 'snr-db' // 10 log10(||y_full||^2 / ||y - y_full||^2)
  | 'psnr-db' // 10 log10(peak^2 / mse), peak = max |y_full| over the sample
  | 'map-iou' // IoU of (y > threshold) and (y_full > threshold), per sample
  | 'map-f1' // F1 of the thresholded maps, per sample
  | 'class-map-miou' // [N, C, H, W] class scores per pixel: mean IoU over classes of the argmax maps, per sample
  | 'pixel-agreement' // share of pixels whose argmax class is the full model's, per sample
  | 'sequence-agreement' // greedy (CTC-collapsed) decode of [N, T, K] equal to the full model's
  | 'token-error-rate'; // edit distance of the greedy decodes / length of the full model's (lower is better)

export type MetricName = BuiltinMetric | `custom:${string}`;

/** What an output looks like, as the task layer sees it (from the graph: name, concrete dims with batch first). */
export interface OutputInfo {
  name: string;
  dims: readonly number[];
  /** Least and greatest value seen on a first batch, when known: maps are taken for probabilities only in [0, 1]. */
  range?: readonly [number, number];
  /**
   * What made the output, when the graph is known (graph/producers.ts): an op type, 'linear' (a projection with a
   * bias) or 'normalized' (a layer norm or an L2 normalisation). Class and token scores come from projections and
   * softmaxes; a normalised output is an embedding or a hidden state, whose argmax means nothing.
   */
  producer?: string;
  /**
   * Its shape depends on the values (a detector's boxes, scores and labels after NMS): each sample has its own
   * length, so no built-in metric, which compares tensors of one shape element by element, fits it.
   */
  variableLength?: boolean;
}

/** The data's side of the choice. */
export interface DataInfo {
  labelled: boolean;
  /** Number of classes of the labels (0 when unlabelled). */
  classes: number;
}

/** How to choose or set the metric: from a scenario's `quality:` block or the CLI (`--metric`, `--threshold`, `--metric-module`). */
export interface TaskOptions {
  metric?: MetricName;
  /** Outputs scored (default: every output for fidelity metrics, the first for class and sequence metrics). */
  outputs?: readonly string[];
  /** Threshold of map metrics (default 0.5). */
  threshold?: number;
  /** Token id CTC uses as blank (default 0), for sequence metrics. */
  blank?: number;
  /** A user's metric: path to a JS module exporting `score` (see UserMetricModule); resolved relative to `baseDir`. */
  module?: string;
  baseDir?: string;
}

/** A user's metric module: `export default { name, better, score }` or the same as named exports. */
export interface UserMetricModule {
  name?: string;
  better: 'higher' | 'lower';
  /** One sample: the split model's outputs, the full model's, and the label if any. Returns a finite number. */
  score(split: Record<string, Tensor>, full: Record<string, Tensor>, label: number | null): number | Promise<number>;
}

export interface Metric {
  name: MetricName;
  /** Plain-language name for tables and reports ('top-1 accuracy', 'map IoU @0.5', ...). */
  label: string;
  better: 'higher' | 'lower';
  /** 'rate': per-sample 0/1 (Wilson interval); 'mean': per-sample real values (bootstrap interval). */
  kind: 'rate' | 'mean';
  /** Whether the metric needs labels. */
  needsLabels: boolean;
  /** Outputs it reads. */
  outputs: readonly string[];
}

/** One batch to score: outputs batched along dim 0 (n samples), the full model's outputs, labels when labelled. */
export interface ScoreBatch {
  n: number;
  split: Record<string, Tensor>;
  full: Record<string, Tensor>;
  labels: readonly number[] | null;
}

export interface Task {
  metric: Metric;
  /** Why this metric: 'chosen: [1, 10] logits and labelled data' or 'set by --metric'. Printed and reported. */
  reason: string;
  /** Per-sample scores of a batch (length n). Throws a METRIC error if a user's metric throws or returns NaN. */
  score(batch: ScoreBatch): Promise<number[]>;
  /** The full model's own score on a batch (labels needed for accuracy; fidelity metrics score the reference itself). */
  scoreFull(batch: Omit<ScoreBatch, 'split'>): Promise<number[]>;
  /**
   * What the scores do not say, from the batches given to `scoreFull` (e.g. a map metric whose reference map was
   * empty on most samples, where IoU is 1 by convention): sentences for the report, empty when nothing is amiss.
   */
  notes?(): string[];
  /** Where the metric reads class scores: the predicted class of each of n samples (for agreement and per-image predictions). */
  predict?(outputs: Record<string, Tensor>, n: number): number[];
}

/** A summary of per-sample scores: the mean and a 95 % interval (Wilson for rates, seeded bootstrap for means). */
export interface QualityFigure {
  metric: MetricName;
  label: string;
  better: 'higher' | 'lower';
  value: number;
  ci: [number, number];
  samples: number;
}
