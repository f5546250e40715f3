/**
 * bench:saliency-curves — I-SPLIT CUI curves of vgg16, resnet50 and mobilenet_v2 over Fashion-MNIST test images
 * (default 1,000), written as SVG plots and JSON under docs/saliency/, with the wall time of each run.
 *
 *   npm run bench:saliency-curves [-- --samples 1000]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset } from '../src/data/dataset.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { curveSpec, renderSvg } from '../src/report/plot.js';
import { runSaliency } from '../src/saliency/dataset-saliency.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { arg, machine, ZOO } from './common.js';

const samples = Number(arg('samples', '1000'));
const out = join(PACKAGE_ROOT, 'docs', 'saliency');

console.log(`bench:saliency-curves  ${new Date().toISOString()}  ${machine()}  ${samples} Fashion-MNIST test images, target = label`);
const summary: Record<string, { wall_s: number; best: string; peaks: number }> = {};
for (const name of ['vgg16', 'resnet50', 'mobilenet_v2']) {
  const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)));
  const r = await runSaliency(g, openDataset('fashion-mnist'), { samples, onProgress: (d, t) => process.stderr.write(`\r${name} ${d}/${t}`) });
  process.stderr.write('\n');
  const points = r.curve.map((p) => ({ index: p.index, label: p.layer, value: p.log10, ...(p.best ? { mark: 'best' as const } : p.peak ? { mark: 'peak' as const } : {}) }));
  writeFileSync(join(out, `${name}.svg`), await renderSvg(curveSpec(`I-SPLIT CUI along depth: ${name} (${r.samples} Fashion-MNIST test images)`, 'log10 CUI', points)));
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify({ model: `${name}.onnx`, ...r }, null, 1)}\n`);
  const best = r.curve.find((p) => p.best)!;
  summary[name] = { wall_s: +r.seconds.toFixed(1), best: best.layer, peaks: r.curve.filter((p) => p.peak).length };
  console.log(`${name}: ${r.samples} images in ${r.seconds.toFixed(1)} s (${(r.samples / r.seconds).toFixed(1)} img/s), accuracy ${(100 * r.accuracy!).toFixed(1)} %, ${r.layers.length} layers, peaks at ${r.curve.filter((p) => p.peak).map((p) => p.index).join(', ')}; best ${best.index} ${best.layer} (log10 CUI ${best.log10?.toFixed(3)})`);
}
console.log(JSON.stringify({ bench: 'saliency-curves', samples, models: summary }));
