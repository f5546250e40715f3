/**
 * What a plan is: every configuration explored with its figures, the feasible set, the Pareto front and the
 * recommendation. `plan.json` is this object; the HTML report renders it and nothing else.
 */
import type { StopReason } from '../eval/adaptive.js';
import type { MetricName, QualityFigure } from '../task/types.js';
import type { SwitchingPlan } from './switching.js';

/** Where the model runs. */
export type Placement = 'local' | 'remote' | 'split' | 'chain';

/** A QoS constraint a configuration is checked against. */
export type ConstraintName = 'latency' | 'quality' | 'edgeMemory' | 'energy' | 'bytes' | 'throughput';

export interface ConstraintCheck {
  constraint: ConstraintName;
  /** The configuration's value and the limit, in the constraint's unit (ms, the metric's own, bytes, J, fps). */
  value: number;
  limit: number;
  /** Slack as a share of the limit (of |limit|): > 0 met, < 0 violated (e.g. -0.2: 20 % over a maximum or under a minimum). */
  margin: number;
  met: boolean;
}

/** Latency of one inference, split into where the time goes (expected values over exits and losses). */
export interface LatencyBreakdown {
  deviceMs: number;
  transferMs: number;
  serverMs: number;
  queueMs: number;
}

export interface LatencyFigures {
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** 'analytic' for every configuration; 'des' where the discrete-event simulation refined a finalist. */
  source: 'analytic' | 'des';
  breakdown: LatencyBreakdown;
}

/**
 * A configuration's quality under the task's metric: 'measured' on the scenario's data (with a 95 % interval), or,
 * for a classifier without data, an 'estimate': the model's stated accuracy x agreement with the full model.
 */
export interface PlanQualityFigure extends Omit<QualityFigure, 'ci' | 'samples'> {
  source: 'measured' | 'estimate';
  ci?: [number, number];
  /** Samples it was measured on; fewer than the plan's where the adaptive evaluation stopped it (`stopped` says why). */
  samples?: number;
  stopped?: StopReason;
}

/** The metric every quality figure of a plan is in, why it was chosen, and the data it was measured on. */
export interface PlanQuality {
  metric: MetricName;
  label: string;
  better: 'higher' | 'lower';
  reason: string;
  /** The data quality was measured on (for an estimate: the images agreement was measured on). */
  data: string;
  samples: number;
  source: 'measured' | 'estimate';
  /**
   * How cut x codec were measured: 'exhaustive' (each on every sample) or 'adaptive' (in rounds, each stopped once
   * it could not matter; what is on the Pareto front or among the finalists measured on every sample), with how
   * many were measured on all samples and how many stopped early for each reason; `ruledOut`: candidate cuts not
   * measured at all, the cheap models (latency, memory, energy, throughput of the head) showing no split there can
   * meet the QoS (plan/bounds.ts).
   */
  evaluation: { mode: 'adaptive' | 'exhaustive'; measured: number; full: number; stopped: Partial<Record<StopReason, number>>; ruledOut: { index: number; id: string; reason: string }[] };
  /** The full model's quality (for fidelity metrics the reference itself: what a lossless configuration scores). */
  full: PlanQualityFigure;
}

export interface ConfigurationExits {
  policy: 'softmax' | 'entropy';
  threshold: number;
  /** Cuts of the exits (tensor ids) and the share of samples leaving at each, in depth order. */
  cuts: string[];
  rates: number[];
}

export interface PlanConfiguration {
  /** Stable, readable id, e.g. 'split #41 int8+deflate, exits tau 0.9'. */
  id: string;
  placement: Placement;
  /** The link the edge device uses (null: none, e.g. local; chains name theirs in `devices`). */
  link: string | null;
  /** The cut (split), or the cuts between consecutive devices (chain); empty for local and remote. */
  cuts: { index: number; id: string }[];
  /** Devices running each stage, in order (edge first). */
  devices: string[];
  /** Codec on the wire ('fp32' when raw; for remote the input's encoding). */
  codec: string;
  exits: ConfigurationExits | null;
  latency: LatencyFigures;
  quality: PlanQualityFigure;
  /** Mean bytes sent per inference (after exits). */
  bytes: number;
  /** Mean bytes of the model's outputs sent back to the edge device per inference (0 when answered on the device). */
  downlinkBytes: number;
  /** Edge energy per inference (compute + radio), J; null when the edge device has no power figures. */
  energyJ: number | null;
  /** Peak memory the edge device needs: its part's weights plus peak activations, bytes. */
  edgeMemoryBytes: number;
  /** Sustainable frames per second of one device's stream (pipelined: the slowest stage or hop). */
  throughputFps: number;
  checks: ConstraintCheck[];
  feasible: boolean;
  /**
   * The configuration that outclasses it (recommend.ts `outclass`): faster at every percentile, no more bytes or
   * energy, and of a quality this one beats by no more than the tie tolerance; such a configuration is neither
   * recommended nor on the Pareto front. Absent: not outclassed.
   */
  outclassedBy?: string;
}

export interface CutSummary {
  index: number;
  id: string;
  /** Raw bytes of the cut tensors (float32) and shape(s). */
  bytes: number;
  shapes: number[][];
  headMacs: number;
  tailMacs: number;
  headParamBytes: number;
  headPeakActivationBytes: number;
}

/** Saliency layers ranked by the training-free bottleneck predictor (plan/ranking.ts), in depth order. */
export interface RankSummary {
  ratio: number;
  samples: number;
  /** The metric the proxies are scored by (higher is better after orientation). */
  metric: string;
  layers: { layer: string; cut: number; predicted: number; proxies: Record<string, number>; /** A local maximum of predicted along depth: a candidate cut. */ peak: boolean; rank: number }[];
}

export interface SaliencySummary {
  /** log10 CUI per candidate layer in depth order, with peaks (I-SPLIT candidates). */
  curve: { index: number; layer: string; log10: number | null; peak: boolean; best: boolean; /** The layer's single-tensor cut (index as `inspect` numbers it). */ cut: number | null }[];
  samples: number;
  /** 'measured' from a gradient pass on the scenario's data. */
  source: 'measured';
  /** With the scenario's `rank`: the layers ranked by `predicted`, whose peaks replace the CUI's as candidate cuts. */
  ranking?: RankSummary;
}

export interface RateQualityEntry {
  cut: string;
  codec: string;
  bytes: number;
  /** In the plan's metric (PlanResult.quality). */
  quality: number;
  /** Samples it was measured on, and why measuring stopped early (null: measured on all). */
  samples: number;
  stopped: StopReason | null;
}

export interface Recommendation {
  id: string;
  objective: string;
  /** Plain-language sentences: why this one, which constraint binds and its margin, what the runner-up changes. */
  explanation: string[];
  binding: ConstraintCheck | null;
  runnerUp: string | null;
}

/** When nothing is feasible: the constraint closest to being met and by how much. */
export interface NearestMiss {
  id: string;
  constraint: ConstraintName;
  value: number;
  limit: number;
  /** How far off, as a share of the limit. */
  shortBy: number;
  explanation: string[];
}

/** The constraints as planned: limits in the constraint's unit (ms, the metric's own, bytes, J, fps). */
export interface PlanQos {
  latency?: { limit: number; at: 'mean' | 'p50' | 'p95' | 'p99' };
  /** A floor ('min') on a higher-is-better metric, a ceiling ('max') on a lower-is-better one. */
  quality?: { limit: number; bound: 'min' | 'max' };
  edgeMemory?: { limit: number };
  energy?: { limit: number };
  bytes?: { limit: number };
  throughput?: { limit: number };
}

export interface PlanResult {
  format: 'impera-plan/1';
  createdAt: string;
  scenario: { name: string; file: string | null; qos: PlanQos; objective: string };
  model: { source: string; nodes: number; macs: number; flops: number; params: number; paramBytes: number; inputShape: number[]; outputs: string[] };
  /** Devices and links as described to the user. */
  setup: { edge: string; server: string | null; chain: string[]; links: string[]; workload: { fps: number; devices: number } };
  cuts: CutSummary[];
  saliency: SaliencySummary | null;
  /** With the scenario's `bottleneck`: the learned bottlenecks trained, each explored as its codec at its cut. */
  bottlenecks?: { cut: string; predicted: number; codec: string; trainSamples: number; epochs: number; bestEpoch: number }[];
  /** Why the plan has no saliency curve (cuts listed, turned off, no data); absent when it has one. */
  saliencySkipped?: string;
  quality: PlanQuality;
  rateQuality: RateQualityEntry[];
  configurations: PlanConfiguration[];
  /** Ids of the feasible configurations and of the Pareto front (latency, quality, bytes, energy) over them. */
  feasible: string[];
  pareto: string[];
  recommendation: Recommendation | null;
  nearestMiss: NearestMiss | null;
  /**
   * DADS: the latency-optimal edge/server partition of the DAG as a minimum s-t cut, next to the best enumerated
   * cut under the same additive costs (first edge device and link, float32 on the wire).
   */
  dads?: { latencyMs: number; tensors: string[]; edgeNodes: number; placement: string; bestCut: { id: string | null; latencyMs: number } } | null;
  /** The configurations an adaptive edge switches between and where each wins (absent: no split or no latency limit). */
  switching?: SwitchingPlan;
  /** Where the time of planning went, and whether cached analyses were reused. */
  timings: { totalS: number; steps: { step: string; seconds: number; cached: boolean }[] };
  warnings: string[];
}
