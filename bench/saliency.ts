/**
 * bench:saliency — forward + backward, batch 8 at 224x224, for vgg16, resnet50 and mobilenet_v2, on impera's two
 * paths: the product path (`impera saliency`: every candidate layer's Grad-CAM map reduced inside ONNX Runtime, only
 * the maps come out) and the full-gradient path (the gradients of all candidate tensors and the input as outputs,
 * copied out of ONNX Runtime), next to PyTorch CPU autograd running the same ONNX graph to the same tensors
 * (bench/torch_autograd.py, Debian's python3-torch), same machine and thread count. Each side runs in its own
 * process (clean peak memory), in alternating rounds; times are medians after a warm-up run.
 * floor_ratio: impera's time over twice ORT's forward pass, per path — about 2x the forward is the floor for
 * forward + backward (a convolution's input gradient costs what the convolution costs). Goal: <= 1.2.
 * The full path's process CPU time is split into user and system time: system time is page faults of fresh
 * output buffers (docs/saliency/BACKWARD-SPEED.md).
 * Last line: {"bench":"saliency","floor_ratio":{model:{"gradcam","full"}},"ratio":{…},"peak_rss_mb":{…}}
 *
 *   npm run bench:saliency [-- --rounds 2 --repeats 5 --threads 2]
 * The PyTorch side needs /usr/bin/python3 with torch and onnx; the bench installs them with apt when run as root,
 * otherwise it skips that side and says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBackwardGraph, TARGETS_INPUT } from '../src/autodiff/backward.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { createSession, run } from '../src/ort/session.js';
import { candidateLayers } from '../src/saliency/dataset-saliency.js';
import { buildSaliencyModel } from '../src/saliency/gradcam.js';
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

interface ImperaResult extends SideResult {
  gradcamTimes: number[];
  /** Per run of the full path: process CPU seconds in user and in system (kernel) mode. */
  userS: number[];
  systemS: number[];
}

/** Seconds per run of `repeats` runs after a warm-up run. */
const secondsPerRun = async (once: () => Promise<unknown>) => (await timeRuns(once, repeats)).map((ms) => ms / 1000);

/** Worker mode: one model, impera side, printing its times as JSON. */
async function imperaWorker(name: string, inputFile: string, labels: number[]): Promise<void> {
  const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)));
  const layers = candidateLayers(g);
  const bwd = buildBackwardGraph(g, { wrt: ['input', ...layers] });
  const session = await createSession(bwd.proto, g.model.dir, { threads });
  const raw = readFileSync(inputFile);
  const feeds = gradientFeeds(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), labels);
  const userS: number[] = [];
  const systemS: number[] = [];
  const times = await secondsPerRun(async () => {
    const before = process.cpuUsage();
    await run(session, feeds);
    const used = process.cpuUsage(before);
    userS.push(used.user / 1e6);
    systemS.push(used.system / 1e6);
  });
  const saliency = buildSaliencyModel(g, layers, 'label');
  const gradcam = await createSession(saliency.proto, g.model.dir, { threads });
  const gradcamTimes = await secondsPerRun(() => run(gradcam, { input: feeds.input!, [saliency.targetsInput!]: feeds[TARGETS_INPUT]! }));
  const peakRssMb = process.resourceUsage().maxRSS / 1024; // before the forward-only session below adds its own
  const forward = await createSession(g.model.proto, g.model.dir, { threads });
  const forwardTimes = await secondsPerRun(() => run(forward, { input: feeds.input! }));
  // the warm-up run's CPU times are left out like its wall time
  console.log(JSON.stringify({ times, gradcamTimes, forwardTimes, userS: userS.slice(1), systemS: systemS.slice(1), peakRssMb, tensors: layers.length + 1 }));
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
  const floor: Record<string, { gradcam: number; full: number }> = {};
  const rows: (string | number)[][] = [];
  for (const name of MODELS) {
    const ours: ImperaResult[] = [];
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
    const of = (pick: (o: ImperaResult) => number[]) => median(ours.flatMap(pick));
    const [fullS, gradcamS, fwdS] = [of((o) => o.times), of((o) => o.gradcamTimes), of((o) => o.forwardTimes)];
    const theirsS = theirs.length ? median(theirs.flatMap((o) => o.times)) : undefined;
    const theirsFwd = theirs.length ? median(theirs.flatMap((o) => o.forwardTimes)) : undefined;
    ratio[name] = theirsS ? +(fullS / theirsS).toFixed(3) : null;
    floor[name] = { gradcam: +(gradcamS / (2 * fwdS)).toFixed(3), full: +(fullS / (2 * fwdS)).toFixed(3) };
    peak[name] = { impera: Math.round(Math.max(...ours.map((o) => o.peakRssMb))), pytorch: theirs.length ? Math.round(Math.max(...theirs.map((o) => o.peakRssMb))) : null };
    const s = (v: number | undefined | null, digits = 3) => (v === undefined || v === null ? '-' : v.toFixed(digits));
    rows.push([name, tensors, s(fwdS), s(gradcamS), s(floor[name]!.gradcam, 2), s(fullS), s(of((o) => o.userS)), s(of((o) => o.systemS)), s(floor[name]!.full, 2), s(theirsS), s(theirsFwd), s(ratio[name], 2), peak[name]!.impera, peak[name]!.pytorch ?? '-']);
  }
  const head = ['model', 'grads', 'ORT fwd s', 'Grad-CAM s', 'floor ratio', 'full s', 'user s', 'system s', 'floor ratio', 'PyTorch s', 'PyTorch fwd s', 'full / PyTorch', 'impera peak MB', 'PyTorch peak MB'];
  console.log(table(head, rows, ['left', ...head.slice(1).map(() => 'right' as const)]));
  console.log('floor ratio: impera s / (2 x ORT fwd s), per path (Grad-CAM maps: the product path; full: every gradient copied out). Goal <= 1.2: ' +
    `${Object.values(floor).every((f) => f.gradcam <= 1.2 && f.full <= 1.2) ? 'met' : 'not met'}`);
  if (skipTorch) console.log(skipTorch);
  console.log(JSON.stringify({ bench: 'saliency', floor_ratio: floor, ratio, peak_rss_mb: peak }));
}

await main();
