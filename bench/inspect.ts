/**
 * bench:inspect — time to load and inspect a model (decode, shapes, costs, every cut of width <= 2) next to the
 * time ONNX Runtime takes to create an inference session for the same file. Medians over alternating runs, with
 * the file in the page cache for both. Headline: resnet50, goal impera <= 1.5x ORT.
 */
import { join } from 'node:path';
import { findCuts } from '../src/cuts/cuts.js';
import { modelSummary } from '../src/cost/summary.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { ort } from '../src/ort/session.js';
import { median } from '../src/util/stats.js';
import { machine, ZOO } from './common.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);

async function inspectOnce(path: string) {
  const t0 = performance.now();
  const model = loadModel(path);
  const t1 = performance.now();
  const g = await analyzeModel(model);
  const t2 = performance.now();
  const cuts = findCuts(g, { maxWidth: 2 });
  modelSummary(g);
  const t3 = performance.now();
  return { total: t3 - t0, load: t1 - t0, analyze: t2 - t1, cuts: t3 - t2, count: cuts.length };
}

async function ortOnce(path: string) {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(path);
  const t1 = performance.now();
  await session.release();
  return t1 - t0;
}

console.log(`bench:inspect  ${new Date().toISOString()}  ${machine()}  node ${process.version}  median of ${RUNS} alternating runs`);
console.log('model          impera s  (load / analyse / cuts)     cuts   ORT session s   ratio');
let headline = { impera: 0, ort: 0 };
for (const name of ['resnet50', 'vgg16', 'mobilenet_v2', 'vit_tiny']) {
  const path = join(ZOO, `${name}.onnx`);
  await inspectOnce(path);
  await ortOnce(path); // warm both: file cache, JIT, ORT's one-time init
  const ours: Awaited<ReturnType<typeof inspectOnce>>[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    ours.push(await inspectOnce(path));
    theirs.push(await ortOnce(path));
  }
  const [total, load, analyse, cuts] = (['total', 'load', 'analyze', 'cuts'] as const).map((k) => median(ours.map((o) => o[k])) / 1000);
  const ortS = median(theirs) / 1000;
  if (name === 'resnet50') headline = { impera: total!, ort: ortS };
  console.log(
    `${name.padEnd(14)} ${total!.toFixed(3).padStart(8)}  (${load!.toFixed(3)} / ${analyse!.toFixed(3)} / ${cuts!.toFixed(3)})  ${String(ours[0]!.count).padStart(5)}   ${ortS.toFixed(3).padStart(13)}   ${(total! / ortS).toFixed(2).padStart(5)}`,
  );
}
const ratio = headline.impera / headline.ort;
console.log(`resnet50: impera ${ratio <= 1.5 ? 'meets' : 'misses'} the goal of at most 1.5x ORT's session creation (${ratio.toFixed(2)}x)`);
console.log(JSON.stringify({ bench: 'inspect', model: 'resnet50', impera_s: +headline.impera.toFixed(4), ort_session_s: +headline.ort.toFixed(4), ratio: +ratio.toFixed(3) }));
