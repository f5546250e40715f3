/**
 * Charts as self-contained SVG, rendered headless with Vega-Lite (no browser, no network): the CLI writes them
 * and the HTML report embeds them.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

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
  accuracy: number;
}

/** Bytes per sample (log scale) against accuracy, one colour per codec; the full model's accuracy as a rule. */
export function rateAccuracySpec(title: string, points: readonly RateAccuracyPoint[], fullAccuracy: number): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 320,
    layer: [
      {
        data: { values: points.map((p) => ({ ...p, accuracy: 100 * p.accuracy })) },
        mark: { type: 'point', filled: true, size: 50, opacity: 0.8 },
        encoding: {
          x: { field: 'bytes', type: 'quantitative', scale: { type: 'log' }, title: 'bytes per sample on the wire' },
          y: { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'accuracy (%)' },
          color: { field: 'series', type: 'nominal', title: 'codec' },
          tooltip: [{ field: 'label' }, { field: 'series' }, { field: 'bytes', format: ',.0f' }, { field: 'accuracy', format: '.2f' }],
        },
      },
      { data: { values: [{ full: 100 * fullAccuracy }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#888' }, encoding: { y: { field: 'full', type: 'quantitative' } } },
    ],
  };
}
