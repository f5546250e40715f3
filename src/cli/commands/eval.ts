/**
 * `impera eval`: quality (under the task's metric: accuracy, agreement, fidelity, map IoU, sequence agreement or the
 * user's own) and bytes on the wire of every cut x codec on real data, with input-side baselines.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_CODECS, parseCodec } from '../../codecs/spec.js';
import { calibrationData, DEFAULT_CALIBRATION, NAMED_SOURCES } from '../../data/policy.js';
import { ImperaError } from '../../errors.js';
import { DEFAULT_JPEG_QUALITIES, inputBaselines, type BaselineEval } from '../../eval/baselines.js';
import { evaluate, type EvalReport } from '../../eval/evaluate.js';
import { rateAccuracySpec, renderSvg } from '../../report/plot.js';
import { metricKind } from '../../task/choose.js';
import type { MetricName, QualityFigure, TaskOptions } from '../../task/types.js';
import { addCutListOptions, addDataOptions, addModelOptions, CUT_NAMING, datasetOptions, graphAndData, positiveInt, printJson, printWarnings, selectCuts, type CutListCliOptions, type ModelOptions } from '../common.js';
import { fmtInt, table } from '../table.js';
import { fmtPoints as pct } from '../../util/format.js';
import { progressBar } from '../progress.js';

interface EvalCliOptions extends ModelOptions, CutListCliOptions {
  data?: string;
  calibration?: string;
  cuts: string;
  codecs: string;
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
  metric?: string;
  threshold?: number;
  metricModule?: string;
  outputs?: string;
}

/** The task options the flags set (the metric is checked against the outputs by the task layer). */
function taskOptions(o: EvalCliOptions): TaskOptions {
  return {
    ...(o.metric ? { metric: o.metric as MetricName } : {}),
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(o.metricModule ? { module: o.metricModule } : {}),
    ...(o.outputs ? { outputs: o.outputs.split(',').map((s) => s.trim()) } : {}),
  };
}

const finiteNumber = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new ImperaError('BAD_ARGUMENT', `${flag} must be a number, got '${value}'`);
  return n;
};

export function registerEval(program: Command): void {
  addDataOptions(addCutListOptions(addModelOptions(program.command('eval')), 'the cuts of --cuts all'))
    .description("quality under the task's metric and bytes on the wire of every cut x codec on real data, with input-side baselines")
    .option('--data <source>', `data: a folder of images (one sub-folder per class when labelled), an .npy or .npz file, or ${NAMED_SOURCES.join(', ')} (default: the built-in sample, for the built-in examples)`)
    .option('--metric <name>', 'accuracy, top1-agreement, top5-agreement, rel-l2, cosine, snr-db, psnr-db, map-iou, map-f1, class-map-miou, pixel-agreement, sequence-agreement, token-error-rate, or custom:<file.mjs> (default: chosen from the outputs and the data, and printed)')
    .option('--threshold <x>', 'threshold of the map metrics (default 0.5)', finiteNumber('--threshold'))
    .option('--metric-module <file>', 'your own metric: a .js/.mjs module exporting score(split, full, label) and better')
    .option('--outputs <names>', 'comma-separated outputs the metric scores (default: all for fidelity metrics, else the first)')
    .option('--calibration <source>', `samples to fit codecs on (default: '${DEFAULT_CALIBRATION}' for the built-in examples' data, else the evaluation data)`)
    .option('--cuts <list>', `'all' (every cut up to --width), or cuts ${CUT_NAMING}, separated by ','`, 'all')
    .option('--codecs <list>', 'comma-separated codecs: fp32, fp16, int<1-16>[:tensor|:channel][:p<pct>], pca[:k|:c/<d>]+..., +sparse, +deflate|brotli|zstd; learned:DIR[+stages] (a bottleneck `impera bottleneck --out DIR` trained at this cut)', DEFAULT_CODECS.join(','))
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
      const calibration = calibrationData(options.calibration, { what: 'the evaluation images', data: () => data, ...(options.data ? { source: options.data } : {}) }, warnings, 'pass --calibration with other images', undefined, datasetOptions(options));
      const cuts = selectCuts(g, options.cuts, options);
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
          task: taskOptions(options),
          onProgress: (_stage, d, t) => bar.update(d, t),
          ...(options.samples ? { samples: options.samples } : {}),
        });
        if (options.baselines) baselines = await inputBaselines(g, data, report.samples, { jpegQualities: jpeg, batchSize: options.batchSize, task: taskOptions(options) });
      } finally {
        bar.stop();
      }
      if (options.out) {
        const points = [...report.cuts.flatMap((c) => c.codecs.map((e) => ({ series: e.codec, label: `cut #${c.index}`, bytes: e.bytes.mean, accuracy: e.quality.value }))), ...baselines.map((b) => ({ series: 'input baseline', label: b.name, bytes: b.bytes.mean, accuracy: b.quality.value }))];
        const rate = metricKind(report.task.metric) === 'rate';
        writeFileSync(options.out, await renderSvg(rateAccuracySpec(`Rate-quality: ${g.model.source} (${report.samples} samples, ${report.task.label})`, points, report.full?.value ?? null, { title: rate ? `${report.task.label} (%)` : report.task.label, percent: rate })));
      }
      if (options.json) return printJson({ model: g.model.source, ...report, baselines, warnings });
      printWarnings(warnings);
      process.stdout.write(`${reportText(report, baselines)}\n`);
    });
}

/** A figure as the metric reads: rates in percent, other means to four significant digits. */
function formatter(metric: MetricName): { value: (x: number) => string; unit: string; delta: string } {
  if (metricKind(metric) === 'rate') return { value: pct, unit: ' %', delta: 'Δ points' };
  return { value: (x) => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : '-'), unit: '', delta: 'Δ' };
}

function reportText(r: EvalReport, baselines: readonly BaselineEval[]): string {
  const f = formatter(r.task.metric);
  const figure = (q: QualityFigure): string => `${f.value(q.value)} [${f.value(q.ci[0])}, ${f.value(q.ci[1])}]`;
  const delta = (q: QualityFigure): string => (r.full ? f.value(q.value - r.full.value) : '');
  const task = `metric: ${r.task.label} (${r.task.metric}, ${r.task.better} is better) — ${r.task.reason}`;
  const full = r.full ? `full model: ${r.task.label} ${figure(r.full)}${f.unit} on ${r.samples} samples of ${r.dataset}` : `full model: the reference of ${r.task.label}, on ${r.samples} samples of ${r.dataset}`;
  const agreement = r.cuts.some((c) => c.codecs.some((e) => e.agreement !== null));
  const rows = r.cuts.flatMap((c) =>
    c.codecs.map((e, k) => [
      k === 0 ? `#${c.index}` : '',
      k === 0 ? c.id : '',
      e.codec,
      fmtInt(e.bytes.mean),
      fmtInt(e.bytes.p95),
      figure(e.quality),
      ...(r.full ? [delta(e.quality)] : []),
      ...(agreement ? [e.agreement === null ? '-' : `${pct(e.agreement)} %`] : []),
      c.front.includes(e.codec) ? 'front' : '',
    ]),
  );
  const heads = ['cut', 'tensor(s)', 'codec', 'bytes mean', 'p95', `${r.task.label}${f.unit} [95% CI]`, ...(r.full ? [f.delta] : []), ...(agreement ? ['agrees'] : []), ''];
  const cutTable = table(heads, rows, ['right', 'left', 'left', 'right', 'right', 'right', ...(r.full ? ['right' as const] : []), ...(agreement ? ['right' as const] : []), 'left']);
  const baseRows = baselines.map((b) => [b.name, fmtInt(b.bytes.mean), fmtInt(b.bytes.p95), figure(b.quality)]);
  const t = r.timing;
  const timing = `time ${t.wallS.toFixed(1)} s: calibration ${t.calibrationS.toFixed(1)}, full model ${t.fullS.toFixed(1)}, tails ${t.tailS.toFixed(1)}, codecs ${t.codecS.toFixed(1)}, wire bytes ${t.bytesS.toFixed(1)}`;
  return [task, full, '', cutTable, ...(baselines.length ? ['', 'sending the input instead (remote computing):', table(['input', 'bytes mean', 'p95', `${r.task.label}${f.unit} [95% CI]`], baseRows, ['left', 'right', 'right', 'right'])] : []), '', timing].join('\n');
}
