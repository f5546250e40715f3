/**
 * The plan's metric as the planner and the report speak it: the QoS constraint on quality resolved against the
 * task's metric (a floor on a higher-is-better metric, a ceiling on a lower-is-better one; `qos.accuracy` only as an
 * alias when the metric is accuracy), the orientation every ranking uses, and how values and differences read.
 */
import { ImperaError } from '../errors.js';
import type { BuiltinMetric, MetricName } from '../task/types.js';
import { STOP_REASONS, type StopReason } from '../eval/adaptive.js';
import type { PlanQos, PlanQuality } from './types.js';

/** How a metric's values read: shares in %, decibels, or plain numbers. */
type Unit = 'share' | 'db' | 'number';

const UNITS: Record<BuiltinMetric, Unit> = {
  accuracy: 'share',
  'top1-agreement': 'share',
  'top5-agreement': 'share',
  'rel-l2': 'number',
  cosine: 'number',
  'snr-db': 'db',
  'psnr-db': 'db',
  'map-iou': 'share',
  'map-f1': 'share',
  'class-map-miou': 'share',
  'pixel-agreement': 'share',
  'sequence-agreement': 'share',
  'token-error-rate': 'share',
};

const unitOf = (metric: MetricName): Unit => UNITS[metric as BuiltinMetric] ?? 'number';

/** What quality figures, checks and rankings need to know about the metric. */
export interface QualityMeta {
  metric: MetricName;
  label: string;
  better: 'higher' | 'lower';
}

/** The value oriented so that more is better (what rankings and the Pareto front compare). */
export const gain = (better: 'higher' | 'lower', value: number): number => (better === 'higher' ? value : -value);

/** A value of the metric as tables and sentences show it: '93.1 %', '24.3 dB', '0.0123'. */
export function formatQuality(metric: MetricName, value: number): string {
  if (Number.isNaN(value)) return 'n/a';
  const unit = unitOf(metric);
  if (!Number.isFinite(value)) return unit === 'db' ? `${value > 0 ? '' : '-'}∞ dB` : String(value);
  if (unit === 'share') return `${(100 * value).toFixed(1)} %`;
  if (unit === 'db') return `${value.toFixed(1)} dB`;
  return Math.abs(value) >= 1e-3 || value === 0 ? String(Number(value.toPrecision(4))) : value.toExponential(2);
}

/** A difference of two values: '+1.20 points', '-0.8 dB', '+0.0021'. */
export function formatQualityDelta(metric: MetricName, delta: number): string {
  const sign = delta >= 0 ? '+' : '';
  const unit = unitOf(metric);
  if (!Number.isFinite(delta)) return Number.isNaN(delta) ? 'n/a' : `${sign}${delta > 0 ? '' : '-'}∞`;
  if (unit === 'share') return `${sign}${(100 * delta).toFixed(2)} points`;
  if (unit === 'db') return `${sign}${delta.toFixed(1)} dB`;
  return `${sign}${Number(delta.toPrecision(3))}`;
}

/** How charts plot the metric: in per cent (values x 100) or as they are, and the axis title. */
export function qualityAxis(q: QualityMeta): { percent: boolean; title: string } {
  const unit = unitOf(q.metric);
  const notes = [...(unit === 'share' ? ['%'] : unit === 'db' ? ['dB'] : []), ...(q.better === 'lower' ? ['lower is better'] : [])];
  return { percent: unit === 'share', title: notes.length ? `${q.label} (${notes.join(', ')})` : q.label };
}

const STOP_NAMES: Record<StopReason, string> = { 'below-qos': 'below the QoS bound', outranked: 'outranked', dominated: 'dominated at their cut', outclassed: 'outclassed by the full model sent losslessly' };

/** How cut x codec were measured, in a sentence: 'adaptive: 12 of 30 cut x codec on all 200 samples, 18 stopped early (…)'. */
export function describeEvaluation(q: Pick<PlanQuality, 'evaluation' | 'samples'>): string {
  const e = q.evaluation;
  if (e.mode === 'exhaustive') return `exhaustive: every cut x codec on all ${q.samples} samples`;
  const stopped = Object.entries(e.stopped).map(([r, n]) => `${n} ${STOP_NAMES[r as StopReason]}`);
  const ruledOut = e.ruledOut.length ? `; ${e.ruledOut.length} candidate cut${e.ruledOut.length > 1 ? 's' : ''} not measured, no split there can meet the QoS (${e.ruledOut.map((r) => `#${r.index}`).join(', ')}: e.g. ${e.ruledOut[0]!.reason})` : '';
  return `adaptive: ${e.full} of ${e.measured} cut x codec on all ${q.samples} samples${stopped.length ? `, ${e.measured - e.full} stopped early (${stopped.join(', ')})` : ''}${ruledOut}`;
}

/** Why a configuration was measured on fewer samples, in a sentence. */
export const describeStop = (reason: StopReason, samples: number | undefined): string => `measured on ${samples ?? '?'} samples only: ${STOP_REASONS[reason]}`;

/** The scenario's QoS on quality: `quality: {min}` or `{max}`, or the `accuracy` alias (a floor on accuracy). */
export interface QualityQos {
  accuracy?: number | undefined;
  quality?: { min?: number | undefined; max?: number | undefined } | undefined;
}

/**
 * The quality constraint checked against the metric in use; a constraint the metric cannot have (accuracy asked
 * of a detector's map, a ceiling on a higher-is-better metric) is refused, naming the metric in use.
 */
export function qualityConstraint(qos: QualityQos, q: QualityMeta): PlanQos['quality'] {
  const inUse = `the task's metric is ${q.label} (${q.metric}, ${q.better} is better)`;
  const right = q.better === 'higher' ? 'min' : 'max';
  if (qos.accuracy !== undefined) {
    if (q.metric !== 'accuracy') throw new ImperaError('BAD_SCENARIO', `qos.accuracy: ${inUse}, not accuracy`, `constrain it with qos: {quality: {${right}: ...}} in its units, or set quality: {metric: accuracy} for a classifier with labelled data`);
    return { limit: qos.accuracy, bound: 'min' };
  }
  if (!qos.quality) return undefined;
  const bound = qos.quality.min !== undefined ? 'min' : 'max';
  if (bound !== right) throw new ImperaError('BAD_SCENARIO', `qos.quality.${bound}: ${inUse}, so it takes a ${right === 'min' ? 'floor' : 'ceiling'}`, `write qos: {quality: {${right}: ...}}`);
  return { limit: (bound === 'min' ? qos.quality.min : qos.quality.max)!, bound };
}
