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
