/**
 * bench:eval — the rate-accuracy table of every single-tensor cut x {fp32, fp16, int8, int4, PCA C/4 + int8,
 * PCA C/8 + int8}, each with deflate, on Fashion-MNIST test images (codecs fitted on 256 training images), and the
 * evaluation's wall time next to the time ONNX Runtime spends in exactly the unavoidable passes (one full forward
 * per image, one tail per image per lossy cut x codec, at the same batch size). Goal: at most 1.2x.
 *
 *   npm run bench:eval [-- --model resnet50 --samples 1000]     (mobilenet_v2: --samples 2000)
 * Writes docs/eval/<model>.md (the table), .json and .svg (rate-accuracy plot).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CODECS, parseCodec } from '../src/codecs/spec.js';
import { singleTensorCuts } from '../src/cuts/cuts.js';
import { openDataset } from '../src/data/dataset.js';
import { inputBaselines } from '../src/eval/baselines.js';
import { evaluate, type EvalReport } from '../src/eval/evaluate.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { rateAccuracySpec, renderSvg } from '../src/report/plot.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { arg, machine, ZOO } from './common.js';

const model = arg('model', 'resnet50');
const samples = Number(arg('samples', model === 'mobilenet_v2' ? '2000' : '1000'));
const byteSamples = Number(arg('byte-samples', '100'));

const started = new Date();
const g = await analyzeModel(loadModel(join(ZOO, `${model}.onnx`)));
const cuts = singleTensorCuts(g);
const codecs = DEFAULT_CODECS.map(parseCodec);
console.log(`bench:eval  ${started.toISOString()}  ${machine()}  ${model}: ${cuts.length} cuts x ${codecs.length} codecs, ${samples} Fashion-MNIST test images, bytes on ${byteSamples}`);
let last = 0;
const report: EvalReport = await evaluate(g, {
  cuts,
  codecs,
  data: openDataset('fashion-mnist'),
  calibration: openDataset('fashion-mnist:train'),
  samples,
  byteSamples,
  task: { metric: 'accuracy' },
  onProgress: (stage, done, total) => {
    if (done === total || performance.now() - last > 30_000) {
      last = performance.now();
      process.stderr.write(`${stage} ${done}/${total}\n`);
    }
  },
});
const baselines = await inputBaselines(g, openDataset('fashion-mnist'), samples, { task: { metric: 'accuracy' } });
const full = report.full!;

const t = report.timing;
const evalWall = t.wallS - t.calibrationS;
const ort = t.fullS + t.tailS;
const pct = (x: number) => (100 * x).toFixed(2);
const lines = [
  `# ${model}: rate-accuracy of every single-tensor cut`,
  '',
  `\`npm run bench:eval -- --model ${model} --samples ${samples}\`, ${started.toISOString().slice(0, 10)}, ${machine()}.`,
  `${samples} Fashion-MNIST test images; codecs fitted on 256 training images; bytes per sample at batch 1 on the first ${byteSamples} images (mean, p95), deflate level 6.`,
  `Full model: ${pct(full.value)} % [${pct(full.ci[0])}, ${pct(full.ci[1])}]. Wall ${t.wallS.toFixed(0)} s (calibration ${t.calibrationS.toFixed(0)} s).`,
  '',
  '| cut | tensor | codec | bytes mean | bytes p95 | accuracy % [95 % CI] | Δ points | agrees with full |',
  '| --- | --- | --- | ---: | ---: | --- | ---: | ---: |',
  ...report.cuts.flatMap((c) =>
    c.codecs.map((e, k) => `| ${k === 0 ? c.index : ''} | ${k === 0 ? `\`${c.id}\` ${c.tensors[0]!.shape.slice(1).join('x')}` : ''} | ${e.codec}${c.front.includes(e.codec) ? ' *' : ''} | ${Math.round(e.bytes.mean).toLocaleString('en-US')} | ${Math.round(e.bytes.p95).toLocaleString('en-US')} | ${pct(e.quality.value)} [${pct(e.quality.ci[0])}, ${pct(e.quality.ci[1])}] | ${(100 * (e.quality.value - full.value)).toFixed(2)} | ${pct(e.agreement!)} |`),
  ),
  '',
  '`*`: on the cut\'s rate-accuracy Pareto front.',
  '',
  '| input-side baseline | bytes mean | bytes p95 | accuracy % [95 % CI] |',
  '| --- | ---: | ---: | --- |',
  ...baselines.map((b) => `| ${b.name} | ${Math.round(b.bytes.mean).toLocaleString('en-US')} | ${Math.round(b.bytes.p95).toLocaleString('en-US')} | ${pct(b.quality.value)} [${pct(b.quality.ci[0])}, ${pct(b.quality.ci[1])}] |`),
];
const out = join(PACKAGE_ROOT, 'docs', 'eval');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `${model}.md`), `${lines.join('\n')}\n`);
writeFileSync(join(out, `${model}.json`), `${JSON.stringify({ model, ...report, baselines }, null, 1)}\n`);
const points = [...report.cuts.flatMap((c) => c.codecs.map((e) => ({ series: e.codec, label: `cut ${c.index}`, bytes: e.bytes.mean, accuracy: e.quality.value }))), ...baselines.map((b) => ({ series: 'input baseline', label: b.name, bytes: b.bytes.mean, accuracy: b.quality.value }))];
writeFileSync(join(out, `${model}.svg`), await renderSvg(rateAccuracySpec(`${model}: rate-accuracy of every cut x codec (${samples} test images)`, points, full.value)));

const int8 = report.cuts.map((c) => c.codecs.find((e) => e.codec === 'int8+deflate')!);
const worstInt8 = Math.min(...int8.map((e) => e.quality.value - full.value));
console.log(`wrote docs/eval/${model}.md, .json, .svg`);
console.log(`full model accuracy ${pct(full.value)} %; int8 per-channel worst loss over cuts ${(-100 * worstInt8).toFixed(2)} points; fp32 codec accuracy = full at every cut: ${report.cuts.every((c) => c.codecs[0]!.quality.value === full.value)}`);
console.log(`time: evaluation ${evalWall.toFixed(1)} s = full model ${t.fullS.toFixed(1)} s (every head, once per image) + tails ${t.tailS.toFixed(1)} s (decoding included: codecs about ${t.codecS.toFixed(1)} s of it) + wire bytes ${t.bytesS.toFixed(1)} s + sessions, data loading, bookkeeping ${(evalWall - ort - t.bytesS).toFixed(1)} s; calibration ${t.calibrationS.toFixed(1)} s (not in the ratio)`);
console.log(`ONNX Runtime alone for the same passes: ${ort.toFixed(1)} s; ratio ${(evalWall / ort).toFixed(3)} (goal <= 1.2)`);
console.log(JSON.stringify({ bench: 'eval', model, wall_s: +evalWall.toFixed(1), ort_only_s: +ort.toFixed(1), ratio: +(evalWall / ort).toFixed(3), calibration_s: +t.calibrationS.toFixed(1), samples }));
