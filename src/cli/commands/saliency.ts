/** `impera saliency`: I-SPLIT's CUI curve over a dataset, its peaks (candidate split points), a table and a plot. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openDataset } from '../../data/dataset.js';
import { ImperaError } from '../../errors.js';
import { curveSpec, renderSvg } from '../../report/plot.js';
import { runSaliency, type SaliencyResult } from '../../saliency/dataset-saliency.js';
import { DEFAULT_DATA } from '../../data/policy.js';
import { addDataOptions, addModelOptions, datasetOptions, loadGraph, positiveInt, printJson, printWarnings, type ModelOptions } from '../common.js';
import { fmtShape, table } from '../table.js';
import { progressBar } from '../progress.js';

interface SaliencyCliOptions extends ModelOptions {
  data: string;
  classes?: string;
  samples?: number;
  target: string;
  layers?: string;
  batchSize: number;
  resize?: boolean;
  preprocess?: string;
  labels?: string;
  out?: string;
  json?: boolean;
}


function parseClasses(spec: string | undefined): number[] | undefined {
  if (!spec) return undefined;
  return spec.split(',').map((c) => {
    const n = Number(c.trim());
    if (!Number.isInteger(n) || n < 0) throw new ImperaError('BAD_ARGUMENT', `--classes takes class indices like 0,3,7; '${c}' is not one`);
    return n;
  });
}

export function registerSaliency(program: Command): void {
  addDataOptions(addModelOptions(program.command('saliency')))
    .description("rank layers by interpretability (I-SPLIT): Grad-CAM per layer, the CUI curve and its peaks")
    .option('--data <source>', "a folder with one sub-folder of images per class, or 'fashion-mnist' / 'fashion-mnist:train'", DEFAULT_DATA)
    .option('--classes <list>', 'only images of these classes, e.g. 0,3,7 (the curve of that class subset)')
    .option('--samples <n>', 'at most this many images', positiveInt('--samples'))
    .option('--target <which>', 'explain the labelled class (label) or the predicted one (pred)', 'label')
    .option('--layers <tensors>', 'candidate layers, comma-separated (default: every single-tensor cut that is a feature map)')
    .option('--batch-size <n>', 'images per run', positiveInt('--batch-size'), 8)
    .option('--resize', 'resize (and convert to gray) images that do not match the model input')
    .option('--out <file>', 'write the curve as .svg (plot) or .csv')
    .option('--json', 'print the result as JSON')
    .action(async (model: string | undefined, options: SaliencyCliOptions) => {
      if (options.target !== 'label' && options.target !== 'pred') throw new ImperaError('BAD_ARGUMENT', `--target must be label or pred, not '${options.target}'`);
      if (options.out && !/\.(svg|csv)$/i.test(options.out)) throw new ImperaError('BAD_ARGUMENT', `--out '${options.out}' must end in .svg or .csv`);
      const data = openDataset(options.data, datasetOptions(options));
      const g = await loadGraph(model, options, () => data);
      const bar = progressBar('saliency', !options.json && process.stderr.isTTY === true);
      const classes = parseClasses(options.classes);
      let result: SaliencyResult;
      try {
        result = await runSaliency(g, data, {
          target: options.target,
          batchSize: options.batchSize,
          onProgress: (d, t) => bar.update(d, t),
          ...(options.layers ? { layers: options.layers.split(',').map((l) => l.trim()) } : {}),
          ...(classes ? { classes } : {}),
          ...(options.samples ? { samples: options.samples } : {}),
        });
      } finally {
        bar.stop();
      }
      if (options.out) writeFileSync(options.out, options.out.toLowerCase().endsWith('.svg') ? await curveSvg(result, g.model.source) : curveCsv(result));
      if (options.json) return printJson({ model: g.model.source, ...result });
      printWarnings(g.warnings);
      process.stdout.write(`${summary(result)}\n\n${curveTable(result)}\n`);
    });
}

function summary(r: SaliencyResult): string {
  const subset = r.subset.length === r.classes.length ? 'all classes' : `classes ${r.subset.map((c) => `${c} (${r.classes[c]})`).join(', ')}`;
  const peaks = r.curve.filter((p) => p.peak).map((p) => p.index);
  const best = r.curve.find((p) => p.best)!;
  return [
    `${r.samples} images of ${r.dataset} (${subset}), target: ${r.target === 'label' ? 'labelled class' : 'predicted class'}, accuracy ${(100 * r.accuracy).toFixed(1)} %, ${r.seconds.toFixed(1)} s`,
    `candidate split points (local maxima of log10 CUI): layers ${peaks.join(', ')}`,
    `best (global maximum): layer ${best.index}, ${best.layer}`,
  ].join('\n');
}

function curveTable(r: SaliencyResult): string {
  const rows = r.curve.map((p, l) => [p.index, p.layer, fmtShape(r.layers[l]!.shape), p.cui.toExponential(3), p.log10 === null ? '-inf' : p.log10.toFixed(3), p.best ? 'best' : p.peak ? 'peak' : '']);
  return table(['layer', 'tensor', 'shape', 'CUI', 'log10 CUI', ''], rows, ['right', 'left', 'left', 'right', 'right', 'left']);
}

function curveSvg(r: SaliencyResult, model: string): Promise<string> {
  const points = r.curve.map((p) => ({ index: p.index, label: p.layer, value: p.log10, ...(p.best ? { mark: 'best' as const } : p.peak ? { mark: 'peak' as const } : {}) }));
  return renderSvg(curveSpec(`I-SPLIT CUI along depth: ${model} (${r.samples} images)`, 'log10 CUI', points));
}

function curveCsv(r: SaliencyResult): string {
  const classes = Object.keys(r.perClass);
  const header = ['layer', 'tensor', 'shape', 'cui', 'log10_cui', 'peak', 'best', ...classes.map((c) => `log10_cui[${c}]`)];
  const rows = r.curve.map((p, l) => [p.index, p.layer, r.layers[l]!.shape.join('x'), p.cui, p.log10 ?? '', p.peak, p.best, ...classes.map((c) => r.perClass[c]![l] ?? '')]);
  return [header, ...rows].map((row) => row.map((v) => (typeof v === 'string' && /[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v))).join(',')).join('\n') + '\n';
}
