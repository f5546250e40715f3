/**
 * bench:rank — how well each training-free predictor ranks the candidate cuts of a model by the accuracy a 1/64
 * bottleneck reaches once trained there: Spearman of `predicted`, of every proxy, of the CUI and of depth alone
 * against the mean trained accuracy of a ground-truth file (model -> tensor -> {depth, acc per seed, bytes};
 * bench:bottleneck writes bench/data/bottleneck-truth.json). Without a truth file, --models prints the predictors
 * only. All predictors of a model come from one run on the same test images.
 *
 * The predictors of a model are cached (the plan cache), so a later truth file is scored without recomputing them.
 *
 *   npm run bench:rank [-- --truth FILE] [--samples 200] [--calibration-samples 128] [--models mobilenet_v2,...] [--no-cache]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXIES } from '../src/bottlenecks/proxies.js';
import { ranks, spearman } from '../src/util/stats.js';
import { singleTensorCuts } from '../src/cuts/cuts.js';
import { openDataset } from '../src/data/dataset.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { rankCuts } from '../src/plan/ranking.js';
import { candidateLayers } from '../src/saliency/dataset-saliency.js';
import { analysisCache } from '../src/util/analysis-cache.js';
import { modelFingerprint } from '../src/profile/profile-file.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { arg, machine, ZOO } from './common.js';

/** One candidate of the truth file: the trained accuracy of each seed (an array, or an object keyed by seed). */
interface TruthEntry {
  depth?: number;
  acc?: number[] | Record<string, number>;
  accuracy?: number[] | Record<string, number>;
}

const truthFile = arg('truth', join(PACKAGE_ROOT, 'bench', 'data', 'bottleneck-truth.json'));
const samples = Number(arg('samples', '200'));
const calibrationSamples = Number(arg('calibration-samples', '128'));
const truth: Record<string, Record<string, TruthEntry>> = existsSync(truthFile) ? (JSON.parse(readFileSync(truthFile, 'utf8')) as Record<string, Record<string, TruthEntry>>) : {};
const cache = analysisCache(!process.argv.includes('--no-cache'));
const models = arg('models', Object.keys(truth).join(',') || 'mobilenet_v2').split(',').map((m) => m.replace(/\.onnx$/, ''));

const meanAccuracy = (e: TruthEntry): number => {
  const accs = Object.values(e.acc ?? e.accuracy ?? {});
  return accs.reduce((s, v) => s + v, 0) / accs.length;
};
/** Per candidate, the mean of its ranks by `a` and by `b`. */
const rankMean = (a: readonly number[], b: readonly number[]): number[] => {
  const [ra, rb] = [ranks(a), ranks(b)];
  return ra.map((r, i) => (r + rb[i]!) / 2);
};
const fixed = (v: number) => (Number.isFinite(v) ? +v.toFixed(3) : null);

console.log(`bench:rank  ${new Date().toISOString()}  ${machine()}  ${samples} Fashion-MNIST test images per predictor, PCA fitted on ${calibrationSamples} training images; truth: ${existsSync(truthFile) ? truthFile : 'none'}`);
const result: Record<string, Record<string, number | null>> = {};
for (const name of models) {
  const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)));
  const known = truth[name] ?? truth[`${name}.onnx`] ?? {};
  // every saliency candidate and every truth tensor, so predictions cached from an earlier run serve a later truth file
  const wanted = new Set([...candidateLayers(g), ...Object.keys(known)]);
  const cuts = singleTensorCuts(g).filter((c) => wanted.has(c.tensors[0]!));
  const missing = Object.keys(known).filter((t) => !cuts.some((c) => c.tensors[0] === t));
  if (missing.length) console.log(`${name}: ${missing.length} truth tensors are no single-tensor cut here, left out: ${missing.join(', ')}`);
  const t0 = performance.now();
  const key = { model: modelFingerprint(g.model), tensors: cuts.map((c) => c.id), samples, calibrationSamples };
  const { value: r, cached } = await cache.get('bench-rank', key, () =>
    rankCuts(g, cuts, {
      data: openDataset('fashion-mnist:test'),
      calibration: openDataset('fashion-mnist:train'),
      samples,
      calibrationSamples,
      onProgress: (phase, d, t) => process.stderr.write(`\r${name} ${phase} ${d}/${t}   `),
    }),
  );
  process.stderr.write('\n');
  const seconds = (performance.now() - t0) / 1000;
  console.log(`\n${name}: ${cuts.length} candidates, ${r.samples} images, ${cached ? 'predictors from the cache (--no-cache to recompute)' : `${seconds.toFixed(0)} s`}; full model ${(100 * r.full!.value).toFixed(1)} %`);
  console.log(['tensor'.padEnd(58), 'depth', 'log10 CUI', ...PROXIES.map((p) => p.padStart(7)), 'predicted', 'trained'].join('  '));
  for (const c of r.candidates) {
    const trained = known[c.tensor] ? meanAccuracy(known[c.tensor]!) : NaN;
    console.log([c.tensor.padEnd(58), c.depth.toFixed(3), (c.cui ? Math.log10(c.cui).toFixed(2) : '-').padStart(9), ...PROXIES.map((p) => (c.proxies[p] === undefined ? '-' : c.proxies[p]!.toFixed(3)).padStart(7)), c.predicted.toFixed(3).padStart(9), Number.isFinite(trained) ? trained.toFixed(3).padStart(7) : '      -'].join('  '));
  }
  const withTruth = r.candidates.filter((c) => known[c.tensor]);
  if (!withTruth.length) continue;
  const acc = withTruth.map((c) => meanAccuracy(known[c.tensor]!));
  const figures: Record<string, number | null> = {
    predicted: fixed(spearman(withTruth.map((c) => c.predicted), acc)),
    cui: fixed(spearman(withTruth.map((c) => c.cui ?? NaN), acc)),
    depth: fixed(spearman(withTruth.map((c) => c.depth), acc)),
    ...Object.fromEntries(PROXIES.map((p) => [p, fixed(spearman(withTruth.map((c) => c.proxies[p] ?? NaN), acc))])),
    // not the product's predictor: how much depth would add to it, as the mean of the two rank orders
    'predicted+depth': fixed(spearman(rankMean(withTruth.map((c) => c.predicted), withTruth.map((c) => c.depth)), acc)),
  };
  result[name] = figures;
  console.log(`${name}: Spearman with the trained accuracy over ${withTruth.length} candidates: ${Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}
console.log(JSON.stringify({ bench: 'rank', samples, spearman: result }));
