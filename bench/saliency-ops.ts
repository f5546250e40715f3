/**
 * bench:saliency-ops — where the time of bench:saliency's backward graph goes: ONNX Runtime's own per-kernel trace
 * of forward + backward to every candidate tensor and the input (batch 8 at 224x224), summed by op type, next to the
 * time spent inside ORT's run call and the wall time of the run as impera sees it (the difference is onnxruntime-node
 * copying the outputs into JS buffers), and the same run with the input gradient as the only output.
 *
 *   npm run bench:saliency-ops [-- --model mobilenet_v2 --runs 4 --threads 2]
 */
import { join } from 'node:path';
import { buildBackwardGraph } from '../src/autodiff/backward.js';
import { table } from '../src/cli/table.js';
import { analyzeModel } from '../src/graph/analyze.js';
import type { Graph } from '../src/graph/graph.js';
import { loadModel } from '../src/onnx/io.js';
import { TracedSession } from '../src/profile/kernels.js';
import { kernelTimes } from '../src/profile/trace.js';
import { candidateLayers } from '../src/saliency/dataset-saliency.js';
import { median } from '../src/util/stats.js';
import { arg, gradientFeeds, machine, timeRuns, zooImages, ZOO } from './common.js';

const [name, runs, threads] = [arg('model', 'vgg16'), Number(arg('runs', '4')), Number(arg('threads', '2'))];
const BATCH = 8;

const { x, labels } = zooImages(BATCH);
const feeds = gradientFeeds(x, labels);

/** Kernel times (median per run after one warm-up), ORT's run time and the wall time of runs with these outputs. */
async function traced(g: Graph, wrt: string[]) {
  const session = await TracedSession.open(buildBackwardGraph(g, { wrt }).proto, g.model.dir, feeds, { threads });
  const wall = await timeRuns(() => session.run(), runs);
  const trace = await session.finish();
  return { kernels: kernelTimes(trace, 1), runMs: median(trace.runMs.slice(1)), wallMs: median(wall) };
}

console.log(`bench:saliency-ops  ${new Date().toISOString()}  ${machine()}  ${name}  threads ${threads}  batch ${BATCH}  ${runs} runs after a warm-up`);
const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)));
const all = await traced(g, ['input', ...candidateLayers(g)]);
const inputOnly = await traced(g, ['input']);
const byOp = new Map<string, number>();
for (const k of all.kernels) byOp.set(k.opType, (byOp.get(k.opType) ?? 0) + k.ms);
const kernelMs = [...byOp.values()].reduce((a, b) => a + b, 0);
// ops under 0.5 % of the kernel time are left out
const rows = [...byOp].sort((a, b) => b[1] - a[1]).filter(([, ms]) => ms >= 0.005 * kernelMs).map(([op, ms]) => [op, ms.toFixed(1), `${((100 * ms) / kernelMs).toFixed(1)} %`]);
console.log(table(['op type', 'kernel ms', 'share'], rows, ['left', 'right', 'right']));
console.log(`kernels ${kernelMs.toFixed(1)} ms; inside ORT's run ${all.runMs.toFixed(1)} ms; wall ${all.wallMs.toFixed(1)} ms (outputs: ${candidateLayers(g).length + 1} gradients)`);
console.log(`input gradient only: inside ORT's run ${inputOnly.runMs.toFixed(1)} ms; wall ${inputOnly.wallMs.toFixed(1)} ms`);
const conv = byOp.get('Conv') ?? 0;
console.log(JSON.stringify({ bench: 'saliency-ops', model: name, kernel_ms: +kernelMs.toFixed(1), conv_ms: +conv.toFixed(1), run_ms: +all.runMs.toFixed(1), wall_ms: +all.wallMs.toFixed(1), wall_input_only_ms: +inputOnly.wallMs.toFixed(1) }));
