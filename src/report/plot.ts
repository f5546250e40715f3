/**
 * Charts as self-contained SVG, rendered headless with Vega-Lite (no browser, no network): the CLI writes them
 * and the HTML report embeds them.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Field } from 'vega-lite/build/src/channeldef.js';
import type { UnitSpec } from 'vega-lite/build/src/spec/unit.js';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface CurvePoint {
  index: number;
  label: string;
  value: number | null;
  mark?: 'peak' | 'best';
}

/** A line along depth with marked points (peaks), e.g. log10 CUI per layer. */
export function curveSpec(title: string, yTitle: string, points: readonly CurvePoint[]): TopLevelSpec {
  const values = points.filter((p) => p.value !== null).map((p) => ({ ...p, mark: p.mark ?? 'layer' }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 280,
    data: { values },
    encoding: {
      x: { field: 'index', type: 'quantitative', title: 'layer (depth order)' },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
    },
    layer: [
      { mark: { type: 'line', color: '#4c78a8' } },
      {
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          color: { field: 'mark', type: 'nominal', scale: { domain: ['layer', 'peak', 'best'], range: ['#9ecae9', '#f58518', '#e45756'] }, title: null },
          tooltip: [{ field: 'label' }, { field: 'value', format: '.3f' }],
        },
      },
    ],
  };
}

export interface RateAccuracyPoint {
  /** Series: the codec, or 'input baseline'. */
  series: string;
  label: string;
  bytes: number;
  /** Quality in the metric's units (accuracy as a share by default). */
  accuracy: number;
}

/** How a quality axis shows its metric (task/): under `title`, in per cent (values x 100) or as they are. */
export interface QualityAxis {
  title: string;
  percent: boolean;
}

/**
 * Bytes per sample (log scale) against accuracy, one colour per codec; the full model's accuracy as a rule. `y`
 * names another metric's axis (task/): values plotted as they are unless `percent`; no rule where `full` is null.
 */
export function rateAccuracySpec(title: string, points: readonly RateAccuracyPoint[], fullAccuracy: number | null, y: QualityAxis = { title: 'accuracy (%)', percent: true }): TopLevelSpec {
  const scale = y.percent ? 100 : 1;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 320,
    layer: [
      {
        data: { values: points.map((p) => ({ ...p, accuracy: scale * p.accuracy })) },
        mark: { type: 'point', filled: true, size: 50, opacity: 0.8 },
        encoding: {
          x: { field: 'bytes', type: 'quantitative', scale: { type: 'log' }, title: 'bytes per sample on the wire' },
          y: { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: y.title },
          color: { field: 'series', type: 'nominal', title: 'codec' },
          tooltip: [{ field: 'label' }, { field: 'series' }, { field: 'bytes', format: ',.0f' }, { field: 'accuracy', format: '.4~g', title: y.title }],
        },
      },
      ...(fullAccuracy === null ? [] : [fullAccuracyRule(scale * fullAccuracy)]),
    ],
  };
}

/** The full model's figure (as plotted) as a dashed horizontal rule, the reference every accuracy plot is read against. */
const fullAccuracyRule = (full: number): UnitSpec<Field> => ({
  data: { values: [{ full }] },
  mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
  encoding: { y: { field: 'full', type: 'quantitative' } },
});

export interface TradeOffPoint {
  /** Series, e.g. 'uncalibrated' / 'calibrated'. */
  series: string;
  threshold: number;
  /** Share of the samples answered by an exit, and the overall accuracy. */
  earlyShare: number;
  accuracy: number;
}

/** Early-exit share against overall accuracy over a threshold sweep; the full model's accuracy as a rule. */
export function exitTradeOffSpec(title: string, points: readonly TradeOffPoint[], fullAccuracy: number): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 560,
    height: 300,
    layer: [
      {
        data: { values: points.map((p) => ({ ...p, earlyShare: 100 * p.earlyShare, accuracy: 100 * p.accuracy })) },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'earlyShare', type: 'quantitative', title: 'samples leaving at an exit (%)' },
          y: { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'overall accuracy (%)' },
          color: { field: 'series', type: 'nominal', title: null },
          order: { field: 'threshold', type: 'quantitative' },
          tooltip: [{ field: 'series' }, { field: 'threshold' }, { field: 'earlyShare', format: '.1f' }, { field: 'accuracy', format: '.2f' }],
        },
      },
      fullAccuracyRule(100 * fullAccuracy),
    ],
  };
}

export interface ReliabilityPoint {
  panel: string;
  series: string;
  confidence: number;
  accuracy: number;
  count: number;
}

/** Reliability diagrams: accuracy against confidence per confidence bin, one panel per exit; the diagonal is perfect calibration. */
export function reliabilitySpec(title: string, points: readonly ReliabilityPoint[]): TopLevelSpec {
  const diagonal = [...new Set(points.map((p) => p.panel))].flatMap((panel) => [0, 1].map((v) => ({ panel, confidence: v, accuracy: v })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: [...points.map((p) => ({ ...p, kind: 'bin' })), ...diagonal.map((d) => ({ ...d, kind: 'ideal', series: 'ideal', count: 0 }))] },
    facet: { field: 'panel', type: 'nominal', title: null },
    columns: 3,
    spec: {
      width: 220,
      height: 200,
      layer: [
        { transform: [{ filter: "datum.kind === 'ideal'" }], mark: { type: 'line', strokeDash: [4, 4], color: '#888' }, encoding: { x: { field: 'confidence', type: 'quantitative' }, y: { field: 'accuracy', type: 'quantitative' } } },
        {
          transform: [{ filter: "datum.kind === 'bin'" }],
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'confidence', type: 'quantitative', title: 'confidence', scale: { domain: [0, 1] } },
            y: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } },
            color: { field: 'series', type: 'nominal', title: null },
            tooltip: [{ field: 'series' }, { field: 'confidence', format: '.3f' }, { field: 'accuracy', format: '.3f' }, { field: 'count' }],
          },
        },
      ],
    },
  };
}

/** A dashed horizontal or vertical reference line at each value, labelled at the plot's edge unless the title says what it is. */
function referenceRules(channel: 'x' | 'y', values: readonly { label: string; value: number }[], color = '#888', labelled = true) {
  const at = { field: 'value', type: 'quantitative' as const };
  const rule = { data: { values }, mark: { type: 'rule' as const, strokeDash: [4, 4], color }, encoding: { [channel]: at } };
  if (!labelled) return [rule];
  return [
    rule,
    {
      data: { values },
      mark: channel === 'y' ? { type: 'text' as const, align: 'right' as const, baseline: 'bottom' as const, dy: -2, color } : { type: 'text' as const, align: 'left' as const, baseline: 'top' as const, dx: 4, color },
      encoding: { [channel]: at, [channel === 'y' ? 'x' : 'y']: { value: channel === 'y' ? 'width' : 4 }, text: { field: 'label' } },
    },
  ];
}

export interface CutBytesPoint {
  /** Cut index (depth order). */
  index: number;
  /** Series, e.g. 'raw float32' or 'sent (smallest codec)'. */
  series: string;
  label: string;
  bytes: number;
}

/** Bytes crossing each cut along depth (log scale), one line per series, with reference levels (the input) as rules. */
export function bytesPerCutSpec(title: string, points: readonly CutBytesPoint[], references: readonly { label: string; value: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 280,
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', point: { filled: true, size: 30 } },
        encoding: {
          x: { field: 'index', type: 'quantitative', title: 'cut (depth order)' },
          y: { field: 'bytes', type: 'quantitative', scale: { type: 'log' }, title: 'bytes per inference' },
          color: { field: 'series', type: 'nominal', title: null, scale: { range: ['#4c78a8', '#f58518'] }, legend: { labelLimit: 240 } },
          tooltip: [{ field: 'label', title: 'cut' }, { field: 'series' }, { field: 'bytes', format: ',.0f' }],
        },
      },
      ...referenceRules('y', references),
    ],
  };
}

/** The stages of one inference, in the order they happen. */
export const LATENCY_STAGES = ['device compute', 'transfer', 'server compute', 'queueing'] as const;

export interface LatencyBar {
  /** The bar's label on the x axis, e.g. 'remote', '#12', 'local'. */
  label: string;
  /** The configuration the bar shows. */
  configuration: string;
  /** Mean milliseconds per stage, in LATENCY_STAGES order. */
  stages: readonly [number, number, number, number];
  /** The latency the QoS constraint is checked at (e.g. p95), drawn as a tick over the bar. */
  qosMs: number;
  highlight: boolean;
}

/**
 * Stacked bars of where the time of one inference goes, one bar per placement or cut, in the given order; a tick
 * per bar at the latency the constraint is checked at, the limit as a rule, the highlighted bar marked.
 */
export function latencyBreakdownSpec(title: string, bars: readonly LatencyBar[], qos: { label: string; limitMs: number | null }): TopLevelSpec {
  const order = bars.map((b) => b.label);
  const x = { field: 'label', type: 'nominal' as const, sort: order, title: 'placement / cut (depth order)', axis: { labelAngle: -60, labelOverlap: true } };
  const segments = bars.flatMap((b) => LATENCY_STAGES.map((stage, s) => ({ label: b.label, configuration: b.configuration, stage, step: s, ms: b.stages[s] })));
  const highlighted = bars.filter((b) => b.highlight).map((b) => ({ label: b.label, top: Math.max(b.qosMs, b.stages.reduce((a, v) => a + v, 0)) }));
  const limit = qos.limitMs === null ? '' : `; dashed red: ${qos.label} limit ${qos.limitMs} ms`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: `black ticks: ${qos.label} latency${limit}`, subtitleColor: '#555' },
    width: { step: Math.max(8, Math.min(28, Math.floor(720 / Math.max(1, bars.length)))) },
    height: 300,
    layer: [
      {
        data: { values: segments },
        mark: { type: 'bar' },
        encoding: {
          x,
          y: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'latency per inference (ms)' },
          color: { field: 'stage', type: 'nominal', title: 'mean time in', scale: { domain: [...LATENCY_STAGES], range: ['#4c78a8', '#f58518', '#54a24b', '#b279a2'] } },
          order: { field: 'step', type: 'quantitative' },
          tooltip: [{ field: 'configuration' }, { field: 'stage' }, { field: 'ms', format: '.2f', title: 'ms' }],
        },
      },
      {
        data: { values: bars.map((b) => ({ label: b.label, configuration: b.configuration, qosMs: b.qosMs })) },
        mark: { type: 'tick', color: '#222', thickness: 2 },
        encoding: { x, y: { field: 'qosMs', type: 'quantitative' }, tooltip: [{ field: 'configuration' }, { field: 'qosMs', format: '.2f', title: `${qos.label} ms` }] },
      },
      { data: { values: highlighted }, mark: { type: 'text', text: '▼', dy: -8, color: '#d62728', fontSize: 14 }, encoding: { x, y: { field: 'top', type: 'quantitative' } } },
      ...referenceRules('y', qos.limitMs === null ? [] : [{ label: '', value: qos.limitMs }], '#d62728', false),
    ],
  };
}

/** How a configuration stands; the last two mark the one the plan chose (or came closest when nothing is feasible). */
export type ParetoStatus = 'infeasible' | 'feasible' | 'Pareto front' | 'recommended' | 'nearest miss';

export interface ParetoPoint {
  id: string;
  latencyMs: number;
  /** In the metric's units. */
  quality: number;
  bytes: number;
  energyJ: number | null;
  status: ParetoStatus;
  qualitySource: 'measured' | 'estimate';
}

/** Drawing order (the chosen one on top) and colours. */
const PARETO_STATUSES: readonly ParetoStatus[] = ['infeasible', 'feasible', 'Pareto front', 'recommended', 'nearest miss'];
const PARETO_COLORS: Record<ParetoStatus, string> = { infeasible: '#c7c7c7', feasible: '#8cc084', 'Pareto front': '#1f77b4', recommended: '#d62728', 'nearest miss': '#d62728' };

/**
 * Every configuration as latency against quality: colour is feasible / on the Pareto front / chosen (drawn on
 * top, labelled), size the bytes sent, shape whether quality was measured or estimated; the QoS limits as rules.
 * Points whose quality is not finite (an exact configuration's SNR) cannot be placed and are left out.
 */
export function paretoSpec(title: string, points: readonly ParetoPoint[], axes: { latency: string; quality: QualityAxis }, limits: { latencyMs: number | null; quality: { value: number; label: string } | null }): TopLevelSpec {
  const f = axes.quality.percent ? 100 : 1;
  const values = [...points]
    .filter((p) => Number.isFinite(p.quality))
    .sort((a, b) => PARETO_STATUSES.indexOf(a.status) - PARETO_STATUSES.indexOf(b.status))
    .map((p) => ({ ...p, quality: f * p.quality, energy: p.energyJ === null ? 'n/a' : `${(1000 * p.energyJ).toFixed(1)} mJ` }));
  const present = [...PARETO_STATUSES].reverse().filter((s) => points.some((p) => p.status === s));
  const sources = (['measured', 'estimate'] as const).filter((s) => points.some((p) => p.qualitySource === s));
  const latencies = points.map((p) => p.latencyMs).filter((v) => v > 0);
  const wide = latencies.length > 0 && Math.max(...latencies) / Math.min(...latencies) > 20;
  const x = { field: 'latencyMs', type: 'quantitative' as const, title: axes.latency, scale: wide ? { type: 'log' as const } : { zero: false } };
  const y = { field: 'quality', type: 'quantitative' as const, title: axes.quality.title, scale: { zero: false } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 360,
    layer: [
      {
        data: { values },
        mark: { type: 'point', filled: true, stroke: '#333', strokeWidth: 0.5 },
        encoding: {
          x,
          y,
          color: { field: 'status', type: 'nominal', title: null, scale: { domain: present, range: present.map((s) => PARETO_COLORS[s]) } },
          size: { field: 'bytes', type: 'quantitative', title: 'bytes sent', scale: { type: 'sqrt', range: [20, 420] }, legend: { format: '.2s' } },
          shape: { field: 'qualitySource', type: 'nominal', title: 'quality', scale: { domain: sources, range: sources.map((s) => (s === 'measured' ? 'circle' : 'triangle-up')) } },
          opacity: { condition: { test: "datum.status === 'infeasible'", value: 0.45 }, value: 0.9 },
          tooltip: [{ field: 'id' }, { field: 'status' }, { field: 'latencyMs', format: '.2f', title: 'latency (ms)' }, { field: 'quality', format: '.4~g', title: axes.quality.title }, { field: 'bytes', format: ',.0f' }, { field: 'energy' }],
        },
      },
      { data: { values: values.filter((p) => p.status === 'recommended' || p.status === 'nearest miss') }, mark: { type: 'text', align: 'left', dx: 10, fontWeight: 'bold', color: PARETO_COLORS.recommended }, encoding: { x, y, text: { field: 'status' } } },
      ...referenceRules('x', limits.latencyMs === null ? [] : [{ label: `limit ${limits.latencyMs} ms`, value: limits.latencyMs }], '#d62728'),
      ...referenceRules('y', limits.quality === null ? [] : [{ label: `limit ${limits.quality.label}`, value: f * limits.quality.value }], '#d62728'),
    ],
  };
}

/** One cell of the switching map: an uplink interval in one RTT and queueing band, and the option winning there. */
export interface SwitchingCell {
  fromMbps: number;
  toMbps: number;
  /** The band's label, e.g. 'RTT 30 ms, queue 0 ms'. */
  band: string;
  option: string;
  /** The option's configuration id (tooltip). */
  configuration: string;
}

/** Which option wins where: uplink (log) across, one row per RTT and queueing band, coloured by option. */
export function switchingSpec(title: string, cells: readonly SwitchingCell[], bands: readonly string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: 'hover a cell for the configuration', subtitleColor: '#555' },
    width: 640,
    height: { step: 16 },
    data: { values: [...cells] },
    mark: { type: 'rect' },
    encoding: {
      x: { field: 'fromMbps', type: 'quantitative', scale: { type: 'log' }, title: 'uplink (Mb/s)' },
      x2: { field: 'toMbps' },
      y: { field: 'band', type: 'ordinal', sort: [...bands], title: null },
      color: { field: 'option', type: 'nominal', title: 'option' },
      tooltip: [{ field: 'option' }, { field: 'configuration' }, { field: 'band' }, { field: 'fromMbps', format: '.3g', title: 'from Mb/s' }, { field: 'toMbps', format: '.3g', title: 'to Mb/s' }],
    },
  };
}
