/** `impera eval`: accuracy and bytes on the wire of every cut x codec on real data, with input-side baselines. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_CODECS, parseCodec } from '../../codecs/spec.js';
import { findCuts, resolveCut, singleTensorCuts, type Cut } from '../../cuts/cuts.js';
import { calibrationData, DEFAULT_CALIBRATION, NAMED_SOURCES } from '../../data/policy.js';
import { ImperaError } from '../../errors.js';
import { DEFAULT_JPEG_QUALITIES, inputBaselines, type BaselineEval } from '../../eval/baselines.js';
import { evaluate, type EvalReport } from '../../eval/evaluate.js';
import type { Graph } from '../../graph/graph.js';
import { rateAccuracySpec, renderSvg } from '../../report/plot.js';
import { addDataOptions, addModelOptions, datasetOptions, graphAndData, positiveInt, printJson, printWarnings, type ModelOptions } from '../common.js';
import { fmtInt, table } from '../table.js';
import { fmtPoints as pct } from '../../util/format.js';
import { progressBar } from '../progress.js';

interface EvalCliOptions extends ModelOptions {
  data?: string;
  calibration?: string;
  cuts: string;
  codecs: string;
  width: number;
  samples?: number;
  byteSamples: number;
  calibrationSamples: number;
  batchSize: number;
  baselines: boolean;
  jpeg: string;
  resize?: boolean;
  preprocess?: string;
  labels?: string;
  out?: string;
  json?: boolean;
}

function selectCuts(g: Graph, spec: string, width: number): Cut[] {
  if (spec === 'all') return singleTensorCuts(g);
  const all = findCuts(g, { maxWidth: width });
  return spec.split(',').map((s) => resolveCut(g, all, s));
}

export function registerEval(program: Command): void {
  addDataOptions(addModelOptions(program.command('eval')))
    .description('accuracy and bytes on the wire of every cut x codec on real data, with input-side baselines')
    .option('--data <source>', `data: a folder of images (one sub-folder per class when labelled), an .npy or .npz file, or ${NAMED_SOURCES.join(', ')} (default: the built-in sample, for the built-in examples)`)
    .option('--calibration <source>', `images to fit codecs on (default '${DEFAULT_CALIBRATION}', else the evaluation data)`)
    .option('--cuts <list>', "'all' single-tensor cuts, or cuts by index (as `impera inspect` numbers them) or tensor name", 'all')
    .option('--codecs <list>', 'comma-separated codecs: fp32, fp16, int<1-16>[:tensor|:channel][:p<pct>], pca[:k|:c/<d>]+..., +sparse, +deflate|brotli|zstd', DEFAULT_CODECS.join(','))
    .option('--width <n>', 'widest cut when naming cuts by index (as in inspect)', positiveInt('--width'), 2)
    .option('--samples <n>', 'evaluation images (default: all)', positiveInt('--samples'))
    .option('--byte-samples <n>', 'images whose bytes per sample are measured (batch 1)', positiveInt('--byte-samples'), 100)
    .option('--calibration-samples <n>', 'images to fit the codecs on', positiveInt('--calibration-samples'), 256)
    .option('--batch-size <n>', 'images per ONNX Runtime run', positiveInt('--batch-size'), 16)
    .option('--no-baselines', 'skip the input-side baselines (raw, PNG, JPEG)')
    .option('--jpeg <qualities>', 'JPEG qualities for the input baselines', DEFAULT_JPEG_QUALITIES.join(','))
    .option('--resize', 'resize images that do not match the model input')
    .option('--out <file.svg>', 'write the rate-accuracy plot')
    .option('--json', 'print the report as JSON')
    .action(async (model: string | undefined, options: EvalCliOptions) => {
      const codecs = options.codecs.split(',').map((c) => parseCodec(c));
      const jpeg = options.jpeg.split(',').map(Number);
      if (jpeg.some((q) => !Number.isInteger(q) || q < 1 || q > 100)) throw new ImperaError('BAD_ARGUMENT', `--jpeg takes qualities from 1 to 100, got '${options.jpeg}'`);
      if (options.out && !options.out.toLowerCase().endsWith('.svg')) throw new ImperaError('BAD_ARGUMENT', `--out '${options.out}' must end in .svg`);
      const { g, data } = await graphAndData(model, options);
      const warnings = [...g.warnings];
      const calibration = calibrationData(options.calibration, { what: 'the evaluation images', data: () => data }, warnings, 'pass --calibration with other images', undefined, datasetOptions(options));
      const cuts = selectCuts(g, options.cuts, options.width);
      const bar = progressBar('eval', !options.json && process.stderr.isTTY === true);
      let report: EvalReport;
      let baselines: BaselineEval[] = [];
      try {
        report = await evaluate(g, {
          cuts,
          codecs,
          data,
          calibration,
          byteSamples: options.byteSamples,
          calibrationSamples: options.calibrationSamples,
          batchSize: options.batchSize,
          onProgress: (_stage, d, t) => bar.update(d, t),
          ...(options.samples ? { samples: options.samples } : {}),
        });
        if (options.baselines) baselines = await inputBaselines(g, data, report.samples, report.full.accuracy, { jpegQualities: jpeg, batchSize: options.batchSize });
      } finally {
        bar.stop();
      }
      if (options.out) {
        const points = [...report.cuts.flatMap((c) => c.codecs.map((e) => ({ series: e.codec, label: `cut #${c.index}`, bytes: e.bytes.mean, accuracy: e.accuracy }))), ...baselines.map((b) => ({ series: 'input baseline', label: b.name, bytes: b.bytes.mean, accuracy: b.accuracy }))];
        writeFileSync(options.out, await renderSvg(rateAccuracySpec(`Rate-accuracy: ${g.model.source} (${report.samples} images)`, points, report.full.accuracy)));
      }
      if (options.json) return printJson({ model: g.model.source, ...report, baselines, warnings });
      printWarnings(warnings);
      process.stdout.write(`${reportText(report, baselines)}\n`);
    });
}

function reportText(r: EvalReport, baselines: readonly BaselineEval[]): string {
  const full = `full model: accuracy ${pct(r.full.accuracy)} % [${pct(r.full.ci[0])}, ${pct(r.full.ci[1])}] on ${r.samples} images of ${r.dataset}`;
  const rows = r.cuts.flatMap((c) =>
    c.codecs.map((e, k) => [
      k === 0 ? `#${c.index}` : '',
      k === 0 ? c.id : '',
      e.codec,
      fmtInt(e.bytes.mean),
      fmtInt(e.bytes.p95),
      `${pct(e.accuracy)} [${pct(e.ci[0])}, ${pct(e.ci[1])}]`,
      (100 * (e.accuracy - r.full.accuracy)).toFixed(1),
      `${pct(e.agreement)} %`,
      c.front.includes(e.codec) ? 'front' : '',
    ]),
  );
  const cutTable = table(['cut', 'tensor(s)', 'codec', 'bytes mean', 'p95', 'accuracy % [95% CI]', 'Δ points', 'agrees', ''], rows, ['right', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left']);
  const baseRows = baselines.map((b) => [b.name, fmtInt(b.bytes.mean), fmtInt(b.bytes.p95), `${pct(b.accuracy)} [${pct(b.ci[0])}, ${pct(b.ci[1])}]`]);
  const t = r.timing;
  const timing = `time ${t.wallS.toFixed(1)} s: calibration ${t.calibrationS.toFixed(1)}, full model ${t.fullS.toFixed(1)}, tails ${t.tailS.toFixed(1)}, codecs ${t.codecS.toFixed(1)}, wire bytes ${t.bytesS.toFixed(1)}`;
  return [full, '', cutTable, ...(baselines.length ? ['', 'sending the input instead (remote computing):', table(['input', 'bytes mean', 'p95', 'accuracy % [95% CI]'], baseRows, ['left', 'right', 'right', 'right'])] : []), '', timing].join('\n');
}
