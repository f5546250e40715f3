/**
 * `impera saliency`: I-SPLIT's CUI curve over a dataset, its peaks (candidate split points), a table and a plot —
 * of the target logit, or for any model of another objective (l2 of an output's part, fidelity, a fed gradient).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { OutputSelection } from '../../autodiff/backward.js';
import { findCuts } from '../../cuts/cuts.js';
import { readNpy } from '../../data/npy.js';
import { NAMED_SOURCES } from '../../data/policy.js';
import { ImperaError } from '../../errors.js';
import { curveSpec, renderSvg } from '../../report/plot.js';
import { runSaliency, type SaliencyResult } from '../../saliency/dataset-saliency.js';
import type { Tensor } from '../../onnx/tensor.js';
import { addDataOptions, addModelOptions, graphAndData, positiveInt, printJson, printWarnings, type ModelOptions } from '../common.js';
import { fmtShape, table } from '../table.js';
import { progressBar } from '../progress.js';

interface SaliencyCliOptions extends ModelOptions {
  data?: string;
  classes?: string;
  samples?: number;
  objective?: string;
  target?: string;
  output?: string;
  channel?: string;
  region?: string;
  threshold?: string;
  outputGrad?: string;
  layers?: string;
  width?: number;
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

const SALIENCY_OBJECTIVES = ['target-logit', 'l2', 'fidelity', 'seed'] as const;

/** --channel and --region as the l2 objective's selection. */
function parseSelection(channel: string | undefined, region: string | undefined): OutputSelection | undefined {
  if (channel === undefined && region === undefined) return undefined;
  const int = (v: string, what: string) => {
    const n = Number(v.trim());
    if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new ImperaError('BAD_ARGUMENT', `${what}: '${v}' is not a whole number >= 0`, 'e.g. --channel 0 --region 0:32,16:48');
    return n;
  };
  const ranges = region?.split(',').map((r) => {
    const ends = r.split(':');
    if (ends.length !== 2) throw new ImperaError('BAD_ARGUMENT', `--region takes start:end per position axis, like y0:y1,x0:x1; '${r}' is not one`);
    return [int(ends[0]!, '--region'), int(ends[1]!, '--region')] as const;
  });
  return { ...(channel !== undefined ? { channel: int(channel, '--channel') } : {}), ...(ranges ? { region: ranges } : {}) };
}

/** --output-grad FILE.npy (for --output, or the first output) or NAME=FILE.npy,NAME=FILE.npy. */
function readOutputGrads(spec: string, output: string): Record<string, Tensor> {
  const pairs = spec.includes('=') ? spec.split(',').map((p) => p.split('=') as [string, string]) : [[output, spec] as [string, string]];
  return Object.fromEntries(pairs.map(([name, file]) => {
    if (!name || !file) throw new ImperaError('BAD_ARGUMENT', `--output-grad takes FILE.npy or OUTPUT=FILE.npy,...; '${spec}' is neither`);
    return [name.trim(), readNpy(file.trim())];
  }));
}

export function registerSaliency(program: Command): void {
  addDataOptions(addModelOptions(program.command('saliency')))
    .description("rank layers by interpretability (I-SPLIT): Grad-CAM per layer, the CUI curve and its peaks")
    .option('--data <source>', `data: a folder of images (one sub-folder per class when labelled), an .npy or .npz file, or ${NAMED_SOURCES.join(', ')} (default: the built-in sample, for the built-in examples)`)
    .option('--classes <list>', 'only images of these classes, e.g. 0,3,7 (the curve of that class subset)')
    .option('--samples <n>', 'at most this many images', positiveInt('--samples'))
    .option('--objective <name>', `what the maps explain (docs/saliency/OBJECTIVES.md): ${SALIENCY_OBJECTIVES.join(', ')} (default: seed with --output-grad, l2 with --channel/--region, target-logit where the first output is class logits [N, K], else fidelity)`)
    .option('--target <which>', 'target-logit: explain the labelled class (label; the default on labelled data) or the predicted one (pred; the default without labels)')
    .option('--output <name>', 'l2, fidelity: the output the objective is on (default: the first)')
    .option('--channel <c>', 'l2: only this channel of the output (C of [N, C, H, W] or [N, T, C])')
    .option('--region <ranges>', 'l2: only these positions, start:end per position axis: y0:y1,x0:x1 for [N, C, H, W], t0:t1 for [N, T, C]')
    .option('--threshold <t>', 'fidelity on a probability map: the threshold of the model\'s own map (default 0.5)')
    .option('--output-grad <files>', 'seed: dL/dy as float32 .npy, [1, ...] for every image or [images, ...]; FILE (for --output or the first output) or OUTPUT=FILE,...')
    .option('--layers <tensors>', 'candidate layers, comma-separated (default: the activations with more than one position of the narrowest cuts that have any: single-tensor cuts, else cuts of 2 or 3 tensors beside a recurrent state)')
    .option('--width <n>', 'take the default candidates from cuts of up to n tensors', positiveInt('--width'))
    .option('--batch-size <n>', 'images per run', positiveInt('--batch-size'), 8)
    .option('--resize', 'resize (and convert to gray) images that do not match the model input')
    .option('--out <file>', 'write the curve as .svg (plot) or .csv')
    .option('--json', 'print the result as JSON')
    .action(async (model: string | undefined, options: SaliencyCliOptions) => {
      const objective = options.objective;
      if (objective !== undefined && !(SALIENCY_OBJECTIVES as readonly string[]).includes(objective)) throw new ImperaError('BAD_ARGUMENT', `unknown --objective '${objective}'`, `choose one of ${SALIENCY_OBJECTIVES.join(', ')}`);
      if (options.target && options.target !== 'label' && options.target !== 'pred') throw new ImperaError('BAD_ARGUMENT', `--target must be label or pred, not '${options.target}'`);
      const threshold = options.threshold === undefined ? undefined : Number(options.threshold);
      if (threshold !== undefined && !Number.isFinite(threshold)) throw new ImperaError('BAD_ARGUMENT', `--threshold must be a number, not '${options.threshold}'`);
      const select = parseSelection(options.channel, options.region);
      if (options.out && !/\.(svg|csv)$/i.test(options.out)) throw new ImperaError('BAD_ARGUMENT', `--out '${options.out}' must end in .svg or .csv`);
      const { g, data } = await graphAndData(model, options);
      const bar = progressBar('saliency', !options.json && process.stderr.isTTY === true);
      const classes = parseClasses(options.classes);
      let result: SaliencyResult;
      try {
        result = await runSaliency(g, data, {
          batchSize: options.batchSize,
          ...(objective ? { objective: objective as (typeof SALIENCY_OBJECTIVES)[number] } : {}),
          ...(options.target ? { target: options.target as 'label' | 'pred' } : {}),
          ...(options.output ? { output: options.output } : {}),
          ...(select ? { select } : {}),
          ...(threshold !== undefined ? { threshold } : {}),
          ...(options.outputGrad ? { outputGrads: readOutputGrads(options.outputGrad, options.output ?? g.outputs[0]!.name!) } : {}),
          onProgress: (d, t) => bar.update(d, t),
          ...(options.layers ? { layers: options.layers.split(',').map((l) => l.trim()) } : {}),
          ...(options.width ? { width: options.width } : {}),
          ...(classes ? { classes } : {}),
          ...(options.samples ? { samples: options.samples } : {}),
        });
      } finally {
        bar.stop();
      }
      if (options.out) writeFileSync(options.out, options.out.toLowerCase().endsWith('.svg') ? await curveSvg(result, g.model.source) : curveCsv(result));
      if (options.json) return printJson({ model: g.model.source, ...result });
      printWarnings(g.warnings);
      // layers are numbered along the curve; the cut index is what split, eval and plan take
      // a layer's own single-tensor cut, else the first numbered cut it is in (a recurrent state beside it)
      const cutOf = new Map(findCuts(g).filter((c) => c.index >= 0).sort((a, b) => a.tensors.length - b.tensors.length || a.index - b.index).flatMap((c) => c.tensors.map((t) => [t, c.index] as const)).reverse());
      process.stdout.write(`${summary(result, cutOf)}\n\n${curveTable(result, cutOf)}\n`);
    });
}

const cutText = (cutOf: ReadonlyMap<string, number>, layer: string) => (cutOf.has(layer) ? `cut #${cutOf.get(layer)}` : 'in no cut of up to 2 tensors');

function summary(r: SaliencyResult, cutOf: ReadonlyMap<string, number>): string {
  const subset = r.subset.length === r.classes.length ? (r.classes.length ? 'all classes' : 'every sample') : `classes ${r.subset.map((c) => `${c} (${r.classes[c]})`).join(', ')}`;
  const peaks = r.curve.filter((p) => p.peak).map((p) => `${p.index} (${cutText(cutOf, p.layer)})`);
  const best = r.curve.find((p) => p.best)!;
  const accuracy = r.accuracy === null ? '' : `, accuracy ${(100 * r.accuracy).toFixed(1)} %`;
  return [
    `${r.samples} samples of ${r.dataset} (${subset}), objective: ${r.objective}${accuracy}, ${r.seconds.toFixed(1)} s`,
    `candidate split points (local maxima of log10 CUI): layers ${peaks.join(', ')}`,
    `best (global maximum): layer ${best.index}, ${best.layer} (${cutText(cutOf, best.layer)})`,
  ].join('\n');
}

function curveTable(r: SaliencyResult, cutOf: ReadonlyMap<string, number>): string {
  const rows = r.curve.map((p, l) => [p.index, cutOf.get(p.layer) ?? '-', p.layer, fmtShape(r.layers[l]!.shape), p.cui.toExponential(3), p.log10 === null ? '-inf' : p.log10.toFixed(3), p.best ? 'best' : p.peak ? 'peak' : '']);
  return table(['layer', 'cut #', 'tensor', 'shape', 'CUI', 'log10 CUI', ''], rows, ['right', 'right', 'left', 'left', 'right', 'right', 'left']);
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
