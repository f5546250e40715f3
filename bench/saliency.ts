/**
 * bench:saliency — forward + backward to all candidate tensors and the input, batch 8 at 224x224, for vgg16,
 * resnet50 and mobilenet_v2: impera's backward graph in ONNX Runtime next to PyTorch CPU autograd running the same
 * ONNX graph (bench/torch_autograd.py, Debian's python3-torch), same machine and thread count. Each side runs in
 * its own process (clean peak memory), in alternating rounds; times are medians after a warm-up run.
 * Goal: impera at most 0.5x PyTorch's time. Each side also times its forward pass alone: twice ORT's forward is a
 * floor for impera (a convolution's input gradient has the forward's FLOPs), printed as a ratio to PyTorch's time.
 * Last line: {"bench":"saliency","ratio":{…},"floor_ratio":{…},"peak_rss_mb":{…}}
 *
 *   npm run bench:saliency [-- --rounds 2 --repeats 5 --threads 2]
 * The PyTorch side needs /usr/bin/python3 with torch and onnx; the bench installs them with apt when run as root,
 * otherwise it skips that side and says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBackwardGraph } from '../src/autodiff/backward.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { createSession, run } from '../src/ort/session.js';
import { candidateLayers } from '../src/saliency/dataset-saliency.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { table } from '../src/cli/table.js';
import { median } from '../src/util/stats.js';
import { arg, gradientFeeds, machine, timeRuns, zooImages, ZOO } from './common.js';

const MODELS = ['vgg16', 'resnet50', 'mobilenet_v2'] as const;
const PYTHON = '/usr/bin/python3';
const args = process.argv.slice(2);
const [rounds, repeats, threads] = [Number(arg('rounds', '2')), Number(arg('repeats', '5')), Number(arg('threads', '2'))];
const BATCH = 8;

interface SideResult {
  times: number[];
  forwardTimes: number[];
  peakRssMb: number;
}

/** Seconds per run of `repeats` runs after a warm-up run. */
const secondsPerRun = async (once: () => Promise<unknown>) => (await timeRuns(once, repeats)).map((ms) => ms / 1000);

/** Worker mode: one model, impera side, printing its times as JSON. */
async function imperaWorker(name: string, inputFile: string, labels: number[]): Promise<void> {
  const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)));
  const wrt = ['input', ...candidateLayers(g)];
  const bwd = buildBackwardGraph(g, { wrt });
  const session = await createSession(bwd.proto, g.model.dir, { threads });
  const raw = readFileSync(inputFile);
  const feeds = gradientFeeds(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), labels);
  const times = await secondsPerRun(() => run(session, feeds));
  const peakRssMb = process.resourceUsage().maxRSS / 1024; // before the forward-only session below adds its own
  // For reference, the forward pass alone: the backward graph's gradient convolutions have the forward ones' shapes
  // and FLOPs, so about twice this is the floor for forward + backward in ONNX Runtime.
  const forward = await createSession(g.model.proto, g.model.dir, { threads });
  const forwardTimes = await secondsPerRun(() => run(forward, { input: feeds.input! }));
  console.log(JSON.stringify({ times, forwardTimes, peakRssMb, tensors: wrt.length }));
}

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status === 0;
}

function ensureTorch(): string | undefined {
  if (torchAvailable()) return undefined;
  if (process.getuid?.() !== 0) return 'PyTorch baseline skipped: /usr/bin/python3 lacks torch/onnx (install Debian python3-torch python3-onnx as root)';
  console.log('installing the PyTorch baseline: apt-get install python3-torch python3-onnx ...');
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-torch', 'python3-onnx'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0 && torchAvailable() ? undefined : 'PyTorch baseline skipped: installing python3-torch and python3-onnx failed';
}

async function main(): Promise<void> {
  if (args[0] === '--worker') return imperaWorker(args[1]!, args[2]!, args[3]!.split(',').map(Number));
  const skipTorch = ensureTorch();
  const torchVersion = skipTorch ? undefined : execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)']).toString().trim();
  const dir = mkdtempSync(join(tmpdir(), 'impera-bench-'));
  const inputFile = join(dir, 'x.f32');
  const images = zooImages(BATCH);
  writeFileSync(inputFile, Buffer.from(images.x.buffer, images.x.byteOffset, images.x.byteLength));
  const labels = images.labels.join(',');
  console.log(`bench:saliency  ${new Date().toISOString()}  ${machine()}  threads ${threads}  batch ${BATCH}x3x224x224  ${rounds} rounds x ${repeats} runs  PyTorch ${torchVersion ?? '(skipped)'}`);
  const ratio: Record<string, number | null> = {};
  const peak: Record<string, { impera: number; pytorch: number | null }> = {};
  const floor: Record<string, number | null> = {};
  const rows: (string | number)[][] = [];
  for (const name of MODELS) {
    const ours: SideResult[] = [];
    const theirs: SideResult[] = [];
    let tensors = 0;
    const candidates = candidateLayers(await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)))).join(',');
    for (let r = 0; r < rounds; r++) {
      const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--worker', name, inputFile, labels, '--repeats', String(repeats), '--threads', String(threads)], { maxBuffer: 1 << 24 }).toString().trim().split('\n').pop()!;
      const parsed = JSON.parse(out);
      tensors = parsed.tensors;
      ours.push(parsed);
      if (skipTorch) continue;
      const t = execFileSync(PYTHON, [join(PACKAGE_ROOT, 'bench', 'torch_autograd.py'), join(ZOO, `${name}.onnx`), '--inputs', inputFile, '--shape', `${BATCH},3,224,224`, '--labels', labels, '--wrt', candidates, '--threads', String(threads), '--repeats', String(repeats)], { maxBuffer: 1 << 24 }).toString().trim().split('\n').pop()!;
      const tp = JSON.parse(t);
      theirs.push({ times: tp.times, forwardTimes: tp.forward_times, peakRssMb: tp.peak_rss_mb });
    }
    const oursS = median(ours.flatMap((o) => o.times));
    const oursFwd = median(ours.flatMap((o) => o.forwardTimes));
    const theirsS = theirs.length ? median(theirs.flatMap((o) => o.times)) : undefined;
    const theirsFwd = theirs.length ? median(theirs.flatMap((o) => o.forwardTimes)) : undefined;
    ratio[name] = theirsS ? +(oursS / theirsS).toFixed(3) : null;
    floor[name] = theirsS ? +((2 * oursFwd) / theirsS).toFixed(3) : null;
    peak[name] = { impera: Math.round(Math.max(...ours.map((o) => o.peakRssMb))), pytorch: theirs.length ? Math.round(Math.max(...theirs.map((o) => o.peakRssMb))) : null };
    const s = (v: number | undefined | null, digits = 3) => (v === undefined || v === null ? '-' : v.toFixed(digits));
    rows.push([name, tensors, s(oursS), s(theirsS), s(ratio[name], 2), s(oursFwd), s(theirsFwd), s(floor[name], 2), peak[name]!.impera, peak[name]!.pytorch ?? '-']);
  }
  const head = ['model', 'grads', 'impera s', 'PyTorch s', 'ratio', 'ORT fwd s', 'PyTorch fwd s', '2xORT fwd / PyTorch', 'impera peak MB', 'PyTorch peak MB'];
  console.log(table(head, rows, ['left', ...head.slice(1).map(() => 'right' as const)]));
  if (skipTorch) console.log(skipTorch);
  else {
    console.log(`goal impera <= 0.5x PyTorch: ${Object.values(ratio).every((r) => r !== null && r <= 0.5) ? 'met' : 'not met'} (${Object.entries(ratio).map(([k, v]) => `${k} ${v}x`).join(', ')})`);
    console.log('2xORT fwd / PyTorch: the ratio impera would reach if its backward cost no more than its forward (the gradient convolutions have the forward ones\' FLOPs)');
  }
  console.log(JSON.stringify({ bench: 'saliency', ratio, floor_ratio: floor, peak_rss_mb: peak }));
}

await main();
