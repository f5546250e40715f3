/**
 * bench:bottleneck-bytes — bytes of a learned bottleneck against every training-free codec at equal accuracy (issue
 * 17, "Must show"): a bottleneck (1/64 of the elements, or --ratio) trained at one cut of the zoo's mobilenet_v2 (default features.17, the deepest
 * I-SPLIT candidate: its tail is one 1x1 conv and the classifier, so training is cheap, and the trained ground truth
 * ranks it best), measured as the codec `learned:DIR` (latent int8/int6/int4, deflated or not) on the first N
 * Fashion-MNIST test images; then every training-free codec at every candidate cut (the block outputs of
 * timings_h100_cpu16.json) on the same images, adaptively (eval/adaptive.ts: one stops once its 95 % interval is
 * below the bottleneck's accuracy less 0.5 points); those packing more than --cap x the bottleneck's bytes before
 * entropy coding are not measured. The best is the one with the fewest bytes at equal accuracy — the 95 % interval
 * of its paired accuracy difference to the bottleneck reaching -0.5 points (generous to the training-free codec).
 * bytes_ratio = its bytes / the bottleneck's. Writes
 * bench/data/bottleneck-bytes.json, which bench:bottleneck's last line reports.
 *
 *   npm run bench:bottleneck-bytes -- [--cut TENSOR] [--ratio 1/64] [--train 12000] [--epochs 12] [--lr 2e-3] [--batch 32]
 *     [--test 2000] [--cap 40] [--trained DIR (reuse a trained folder)] [--out DIR]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bottleneckSummary, writeBottleneckDir } from '../src/bottlenecks/files.js';
import { parseRatio } from '../src/bottlenecks/design.js';
import { trainBottleneck } from '../src/bottlenecks/pipeline.js';
import { parseCodec } from '../src/codecs/spec.js';
import { findCuts, resolveCut, type Cut } from '../src/cuts/cuts.js';
import { openDataset, subsetDataset } from '../src/data/dataset.js';
import { evaluate, type CodecEval } from '../src/eval/evaluate.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { mean } from '../src/util/stats.js';
import { arg, machine, pad, ZOO } from './common.js';

const RESULT = join(PACKAGE_ROOT, 'bench', 'data', 'bottleneck-bytes.json');
const cutName = arg('cut', '/1/features/features.17/conv/conv.2/Conv_output_0');
const latentRatio = parseRatio(arg('ratio', '1/64'));
const trainCount = Number(arg('train', '12000'));
const epochs = Number(arg('epochs', '12'));
const testCount = Number(arg('test', '2000'));
const TOLERANCE = 0.005;
const LEARNED_STAGES = ['int8+deflate', 'int8', 'int6+deflate', 'int4+deflate', 'int3+deflate', 'int2+deflate', 'int1+deflate'];
const FREE_CODECS = ['fp16+deflate', 'int8+deflate', 'int4+deflate', 'int2+deflate', 'pca:c/4+int8+deflate', 'pca:c/8+int8+deflate', 'pca:c/16+int8+deflate', 'pca:c/32+int8+deflate', 'pca:c/64+int8+deflate', 'pca:c/8+int4+deflate', 'pca:c/16+int4+deflate', 'pca:c/32+int4+deflate'];

/** 95 % interval of the mean paired difference a - b of per-sample scores. */
function pairedInterval(a: readonly number[], b: readonly number[]): [number, number, number] {
  const d = a.map((x, i) => x - b[i]!);
  const m = mean(d);
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, d.length - 1));
  const h = (1.96 * sd) / Math.sqrt(d.length);
  return [m, m - h, m + h];
}

const pct = (x: number) => (100 * x).toFixed(1);

async function main(): Promise<void> {
  const g = await analyzeModel(loadModel(join(ZOO, 'mobilenet_v2.onnx')));
  const numbered = findCuts(g);
  const trainSet = openDataset('fashion-mnist:train');
  const test = subsetDataset(openDataset('fashion-mnist'), [...Array(testCount).keys()], `fashion-mnist test (first ${testCount})`);
  const calibration = subsetDataset(trainSet, [...Array(256).keys()], 'fashion-mnist train (first 256)');
  const cut = resolveCut(g, numbered, cutName);
  console.log(`bench:bottleneck-bytes, ${new Date().toISOString().slice(0, 10)}, ${machine()}; mobilenet_v2, bottleneck at ${cutName}`);

  let dir = arg('trained', '');
  if (!dir) {
    dir = arg('out', join(PACKAGE_ROOT, 'scratch', 'bottleneck-bytes'));
    const t0 = performance.now();
    const train = subsetDataset(trainSet, [...Array(trainCount).keys()], `fashion-mnist train (first ${trainCount})`);
    const r = await trainBottleneck(g, cut, { train, test: subsetDataset(test, [0]) }, { ratio: latentRatio, epochs, learningRate: Number(arg('lr', '2e-3')), batchSize: Number(arg('batch', '32')), patience: 3, onEpoch: (h) => console.log(`  epoch ${h.epoch}: loss ${h.loss.toFixed(4)}, validation ${pct(h.valScore)} %, ${h.seconds.toFixed(0)} s`) });
    writeBottleneckDir(dir, g, cut, r, bottleneckSummary(r));
    console.log(`trained on ${r.trainSamples} images (+ ${trainCount - r.trainSamples} validating), best epoch ${r.bestEpoch} of ${r.epochs}, ${((performance.now() - t0) / 60000).toFixed(1)} min; wrote ${dir}`);
  }
  const trained = JSON.parse(readFileSync(join(dir, 'bottleneck.json'), 'utf8')) as { trainSamples: number; epochs: number; bestEpoch: number; design: { latentShape: number[] } };

  // the bottleneck as codecs: the latent at several precisions, the int8 one as trained
  const learned = await evaluate(g, { cuts: [cut], codecs: LEARNED_STAGES.map((s) => parseCodec(`learned:${dir}+${s}`)), data: test, calibration, byteSamples: testCount, detail: true });
  const variants = learned.cuts[0]!.codecs;
  const asTrained = variants[0]!;
  console.log(`\nlearned bottleneck, latent [${trained.design.latentShape.slice(1).join('x')}], ${testCount} test images (full model ${pct(learned.full!.value)} %):`);
  console.log(`${pad('latent', 14)} ${pad('acc %', 6)} ${pad('95 % CI', 13)} ${pad('bytes', 7)}`);
  for (const [i, v] of variants.entries()) console.log(`${pad(LEARNED_STAGES[i]!, 14)} ${pad(pct(v.quality.value), 6)} ${pad(`[${pct(v.quality.ci[0])}, ${pct(v.quality.ci[1])}]`, 13)} ${pad(v.bytes.mean.toFixed(1), 7)}`);
  // the bottleneck compared: the fewest bytes among the latents at the as-trained accuracy
  const equal = (e: CodecEval, ref: CodecEval) => pairedInterval(e.scores!, ref.scores!)[2] >= -TOLERANCE;
  const bottleneck = variants.filter((v) => equal(v, asTrained)).sort((a, b) => a.bytes.mean - b.bytes.mean)[0]!;
  console.log(`bottleneck compared: ${bottleneck.codec.split('+').slice(1).join('+')} latent, ${pct(bottleneck.quality.value)} %, ${bottleneck.bytes.mean.toFixed(1)} B`);

  // training-free codecs at every candidate, measured adaptively on all N images: a configuration stops once its
  // 95 % interval shows it below the bottleneck's accuracy less 0.5 points (or dominated at its cut); those packing
  // more than `cap` x the bottleneck's bytes before entropy coding are not measured (deflate would have to shrink
  // them cap/4-fold to matter); cuts with the same measured codecs share one evaluation
  const timings = JSON.parse(readFileSync(join(ZOO, 'timings_h100_cpu16.json'), 'utf8')) as { models: Record<string, { points: { onnx_tensor: string }[] }> };
  const cuts = timings.models.mobilenet_v2!.points.map((p) => resolveCut(g, numbered, p.onnx_tensor));
  const target = bottleneck.quality.value;
  const cap = Number(arg('cap', '40'));
  const packed = (cut: Cut, codec: string) => {
    const spec = parseCodec(codec);
    const { shape } = cut.detail[0]!;
    const c = shape[1]!;
    const k = spec.pca ? Math.max(1, Math.floor(c / spec.pca.divisor!)) : c;
    return (shape.slice(1).reduce((x, y) => x * y, 1) / c) * k * (spec.quant ? spec.quant.bits : spec.fp16 ? 16 : 32) / 8;
  };
  const groups = new Map<string, Cut[]>();
  for (const cut of cuts) {
    const codecs = FREE_CODECS.filter((c) => packed(cut, c) <= cap * bottleneck.bytes.mean).join(',');
    if (codecs) groups.set(codecs, [...(groups.get(codecs) ?? []), cut]);
  }
  const skipped = cuts.length * FREE_CODECS.length - [...groups].reduce((s, [codecs, cs]) => s + codecs.split(',').length * cs.length, 0);
  console.log(`\ntraining-free: ${cuts.length} cuts x ${FREE_CODECS.length} codecs; ${skipped} pack more than ${cap}x the bottleneck's bytes and are not measured; the rest adaptively on ${testCount} images in ${groups.size} evaluations`);
  const t1 = performance.now();
  const arms: { cut: Cut; e: CodecEval }[] = [];
  for (const [codecs, cs] of groups) {
    const report = await evaluate(g, { cuts: cs, codecs: codecs.split(',').map((c) => parseCodec(c)), data: test, calibration, byteSamples: 200, detail: true, adaptive: { bound: { limit: target - TOLERANCE, bound: 'min' }, tolerance: Infinity } });
    report.cuts.forEach((c, i) => arms.push(...c.codecs.map((e) => ({ cut: cs[i]!, e }))));
    console.log(`  ${cs.length} cuts x ${codecs.split(',').length} codecs: ${((performance.now() - t1) / 60000).toFixed(1)} min so far`);
  }
  const short = (id: string) => id.replace(/^\/1\/features\//, '').replace(/\/.*$/, '');
  console.log(`${pad('cut', 12)} ${pad('codec', 22)} ${pad('images', 6)} ${pad('acc %', 6)} ${pad('diff (95 % CI), points', 26)} ${pad('bytes', 8)}`);
  const rows = arms.map((a) => ({ ...a, diff: a.e.stopped ? null : pairedInterval(a.e.scores!, bottleneck.scores!) })).sort((x, y) => x.e.bytes.mean - y.e.bytes.mean);
  for (const r of rows) console.log(`${pad(short(r.cut.id), 12)} ${pad(r.e.codec, 22)} ${pad(r.e.quality.samples, 6)} ${pad(pct(r.e.quality.value), 6)} ${pad(r.diff ? `${pct(r.diff[0])} [${pct(r.diff[1])}, ${pct(r.diff[2])}]` : `stopped: ${r.e.stopped}`, 26)} ${pad(r.e.bytes.mean.toFixed(1), 8)}`);
  const measured = rows.map((r) => ({ cut: r.cut.id, codec: r.e.codec, images: r.e.quality.samples, acc: r.e.quality.value, diff: r.diff, bytes: r.e.bytes.mean, stopped: r.e.stopped }));
  const passing = rows.find((r) => r.diff && r.diff[2] >= -TOLERANCE);
  const best = passing ? { cut: passing.cut, e: passing.e, diff: passing.diff! } : null;
  const ratio = best ? best.e.bytes.mean / bottleneck.bytes.mean : null;
  console.log(best ? `\nbest training-free codec at equal accuracy: ${best.e.codec} at ${best.cut.id}, ${best.e.bytes.mean.toFixed(1)} B; bytes_ratio ${ratio!.toFixed(2)} (goal >= 4)` : '\nno training-free codec reaches the bottleneck\'s accuracy');
  mkdirSync(join(PACKAGE_ROOT, 'bench', 'data'), { recursive: true });
  const record = { date: new Date().toISOString(), machine: machine(), cut: cutName, trainSamples: trained.trainSamples, epochs: trained.epochs, bestEpoch: trained.bestEpoch, testImages: testCount, cap, full: learned.full!.value, learned: variants.map((v) => ({ codec: v.codec.split('+').slice(1).join('+'), acc: v.quality.value, ci: v.quality.ci, bytes: v.bytes.mean })), bottleneck: { acc: bottleneck.quality.value, bytes: bottleneck.bytes.mean }, bestFree: best ? { cut: best.cut.id, codec: best.e.codec, acc: best.e.quality.value, diff: best.diff, bytes: best.e.bytes.mean } : null, measured, bytes_ratio: ratio };
  writeFileSync(RESULT, `${JSON.stringify(record, null, 1)}\n`);
  console.log(JSON.stringify({ bench: 'bottleneck', spearman: null, bytes_ratio: ratio === null ? null : +ratio.toFixed(3), step_ratio: null }));
}

await main();
