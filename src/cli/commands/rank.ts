/**
 * `impera rank`: candidate cuts ranked by how well a bottleneck trained there is predicted to keep quality, without
 * training one — per cut its depth, I-SPLIT's CUI, every training-free proxy and `predicted` (docs/BOTTLENECKS.md).
 */
import type { Command } from 'commander';
import { parseRatio, PROXIES } from '../../bottlenecks/proxies.js';
import { calibrationData, DEFAULT_CALIBRATION, NAMED_SOURCES } from '../../data/policy.js';
import { rankCuts, type RankReport } from '../../plan/ranking.js';
import { candidateLayers } from '../../saliency/dataset-saliency.js';
import { singleTensorCuts, type Cut } from '../../cuts/cuts.js';
import type { Graph } from '../../graph/graph.js';
import { metricKind } from '../../task/choose.js';
import { addDataOptions, addModelOptions, CUT_NAMING, datasetOptions, graphAndData, positiveInt, printJson, printWarnings, resolveCuts, type DataOptions, type ModelOptions } from '../common.js';
import { progressBar } from '../progress.js';
import { table } from '../table.js';

interface RankCliOptions extends ModelOptions, DataOptions {
  data?: string;
  calibration?: string;
  cuts?: string;
  ratio: string;
  samples: number;
  calibrationSamples: number;
  cui: boolean;
  json?: boolean;
}

export function registerRank(program: Command): void {
  addDataOptions(addModelOptions(program.command('rank')))
    .description('rank candidate cuts by the predicted quality of a bottleneck trained there (training-free proxies through the real tail, and the CUI)')
    .option('--data <source>', `data: a folder of images (one sub-folder per class when labelled), an .npy or .npz file, or ${NAMED_SOURCES.join(', ')} (default: the built-in sample, for the built-in examples)`)
    .option('--calibration <source>', `images to fit the projections on (default '${DEFAULT_CALIBRATION}', else the data)`)
    .option('--cuts <list>', `single-tensor cuts ${CUT_NAMING}, separated by ',', or 'all' single-tensor cuts after the first weighted layer (default: the layers saliency ranks: feature maps and token sequences computed by a weighted layer)`)
    .option('--ratio <r>', 'share of the cut tensor\'s elements the bottleneck sends, e.g. 1/64 or 0.05', '1/64')
    .option('--samples <n>', 'images scored per cut', positiveInt('--samples'), 200)
    .option('--calibration-samples <n>', 'images the PCA projections are fitted on', positiveInt('--calibration-samples'), 128)
    .option('--no-cui', 'skip the saliency pass (no CUI column)')
    .option('--resize', 'resize images that do not match the model input')
    .option('--json', 'print the ranking as JSON')
    .action(async (model: string | undefined, options: RankCliOptions) => {
      const ratio = parseRatio(options.ratio);
      const { g, data } = await graphAndData(model, options);
      const warnings = [...g.warnings];
      const cuts = candidates(g, options.cuts);
      const calibration = calibrationData(options.calibration, { what: 'the ranking images', data: () => data }, warnings, 'pass --calibration with other images', undefined, datasetOptions(options));
      const bar = progressBar('rank', !options.json && process.stderr.isTTY === true);
      let report: RankReport;
      try {
        report = await rankCuts(g, cuts, { data, calibration, ratio, samples: options.samples, calibrationSamples: options.calibrationSamples, cui: options.cui, onProgress: (phase, d, t) => bar.update(d, t, phase) });
      } finally {
        bar.stop();
      }
      if (options.json) return printJson({ model: g.model.source, dataset: data.name, ...report, warnings });
      printWarnings(warnings);
      process.stdout.write(`${reportText(report, data.name)}\n`);
    });
}

/** The cuts --cuts names; by default the layers `impera saliency` ranks, as their single-tensor cuts. */
function candidates(g: Graph, spec: string | undefined): Cut[] {
  if (spec && spec !== 'all') return resolveCuts(g, spec);
  const single = singleTensorCuts(g).filter((c) => c.headCost.macs > 0);
  if (spec === 'all') return single;
  const layers = new Set(candidateLayers(g));
  return single.filter((c) => layers.has(c.tensors[0]!));
}

/** 1/64 as written, other ratios as decimals. */
const ratioText = (r: number): string => (Number.isInteger(Math.round(1e9 / r) / 1e9) ? `1/${Math.round(1 / r)}` : Number(r.toPrecision(4)).toString());

function reportText(r: RankReport, dataset: string): string {
  const rate = metricKind(r.task.metric) === 'rate';
  const score = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : rate ? `${(100 * v).toFixed(1)} %` : Number(v.toPrecision(4)).toString());
  const names = PROXIES.filter((p) => r.candidates.some((c) => c.proxies[p] !== undefined));
  const rows = r.candidates.map((c) => [`#${c.cut}`, c.tensor, c.depth.toFixed(3), c.cui === null ? '-' : c.cui.toExponential(3), ...names.map((p) => score(c.proxies[p])), score(c.predicted), c.rank]);
  const best = r.candidates.find((c) => c.rank === 1);
  const sign = r.task.better === 'higher' ? '' : ' (negated: higher is better)';
  return [
    `${r.samples} images of ${dataset}, bottleneck ratio ${ratioText(r.ratio)} of the elements; proxies scored by ${r.task.metric}${sign} — ${r.task.reason}`,
    ...(r.full ? [`full model: ${score(r.full.value)}`] : []),
    `predicted = the best proxy (docs/BOTTLENECKS.md); best cut: ${best ? `#${best.cut} ${best.tensor}` : '-'}`,
    '',
    table(['cut', 'tensor', 'depth', 'CUI', ...names, 'predicted', 'rank'], rows, ['right', 'left', 'right', 'right', ...names.map(() => 'right' as const), 'right', 'right']),
  ].join('\n');
}
