/**
 * bench:profile — how well impera's latency models do.
 *  1. Sum of nodes on this machine: mobilenet_v2, resnet50 and vgg16 are profiled with ONNX Runtime (one thread:
 *     the machine has two shared cores); every single-tensor cut's head and tail is timed and predicted from the
 *     per-node times of the full model's trace. Goal: median |error| <= 5 %, 95 % of parts within +-10 %.
 *  2. Across devices: the roofline device model, calibrated only on those profiles, predicts the head latencies
 *     measured on an H100 and a 16-core CPU (../shared/zoo/timings_h100_cpu16.json, PyTorch eager, batch 1).
 *     Goal: median |error| <= 25 % per device and model; the table shows what drives the error.
 *  3. Robustness: two more runs of `impera profile` on mobilenet_v2 (a subset of cuts) — the spread of each
 *     part's median over the three runs. Goal: within 5 %.
 *  4. The parts under 0.1 ms: their kernels as the full model's trace times them against a trace of the part alone.
 * Last line: {"bench":"profile","median_abs_err":…,"share_within_10pct":…,"h100_median_abs_err":…,"cpu16_median_abs_err":…,"tiny_in_full_over_alone":…}
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findCuts, partition, resolveCut } from '../src/cuts/cuts.js';
import { sampleFeeds } from '../src/data/samples.js';
import { splitModel } from '../src/export/split.js';
import { createSession, run } from '../src/ort/session.js';
import { traceRuns } from '../src/profile/kernels.js';
import { findDevice, loadCatalog, type Device } from '../src/devices/catalog.js';
import { calibrate, predictNodes, type DeviceModel } from '../src/devices/roofline.js';
import { analyzeModel } from '../src/graph/analyze.js';
import type { Graph } from '../src/graph/graph.js';
import { loadModel } from '../src/onnx/io.js';
import type { Profile } from '../src/profile/profile-file.js';
import { predictionErrors } from '../src/profile/predict.js';
import { profileModel } from '../src/profile/profiler.js';
import { fmtFraction, fmtSignedPercent } from '../src/util/format.js';
import { median, quantile } from '../src/util/stats.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { machine, pad, ZOO } from './common.js';

const MODELS = ['mobilenet_v2', 'resnet50', 'vgg16'] as const;
const THREADS = 1;
const BIN = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');

type Part = Profile['parts'][number];
/** |predicted / measured - 1| of a measured part. */
const absErr = (p: Part) => Math.abs(p.predictedMs! / p.measured!.medianMs - 1);

console.log(`bench:profile  ${new Date().toISOString()}  ${machine()}  node ${process.version}  ORT threads ${THREADS}`);

// 1. Sum of nodes against measured heads and tails.
const graphs = new Map<string, Graph>();
const profiles = new Map<string, Profile>();
const allErrors: number[] = [];
console.log('\n1. sum-of-nodes prediction vs measured, every single-tensor cut (heads and tails)');
console.log('model          parts   full ms  median |err|  within 10%   worst   parts < 0.1 ms (their median |err|)   profile s');
for (const name of MODELS) {
  const g = await analyzeModel(loadModel(join(ZOO, `${name}.onnx`)), { batch: 1 });
  const cuts = findCuts(g, { maxWidth: 1 }).map((c) => c.id);
  const t0 = performance.now();
  const profile = await profileModel([g], { threads: THREADS, cuts, stages: [] });
  const seconds = (performance.now() - t0) / 1000;
  graphs.set(name, g);
  profiles.set(name, profile);
  const errors = predictionErrors(profile);
  allErrors.push(...errors);
  const abs = errors.map(Math.abs);
  const tiny = profile.parts.filter((p) => p.kind !== 'full' && p.measured!.medianMs < 0.1).map(absErr);
  const full = profile.parts.find((p) => p.kind === 'full')!.measured!.medianMs;
  console.log(
    `${name.padEnd(14)} ${pad(errors.length, 5)}  ${pad(full.toFixed(2), 8)}  ${pad(fmtFraction(median(abs)), 12)}  ${pad(fmtFraction(abs.filter((e) => e <= 0.1).length / abs.length), 10)}  ${pad(fmtSignedPercent(errors[abs.indexOf(Math.max(...abs))]!), 6)}   ${pad(tiny.length, 3)} (${tiny.length ? fmtFraction(median(tiny)) : '-'})${' '.repeat(21)}${pad(seconds.toFixed(0), 8)}`,
  );
  const worst = profile.parts.filter((p) => p.kind !== 'full').sort((a, b) => absErr(b) - absErr(a));
  for (const p of worst.slice(0, 3)) console.log(`    worst: ${p.kind} ${p.cut}  measured ${p.measured!.medianMs.toFixed(3)} ms (min ${p.measured!.minMs.toFixed(3)}), predicted ${p.predictedMs!.toFixed(3)} ms, of which edges ${p.boundaryMs!.toFixed(3)}`);
}
const allAbs = allErrors.map(Math.abs);
const medianAbsErr = median(allAbs);
const within10 = allAbs.filter((e) => e <= 0.1).length / allAbs.length;
console.log(`all ${allAbs.length} parts: median |error| ${fmtFraction(medianAbsErr)} (goal <= 5 %), ${fmtFraction(within10)} within +-10 % (goal 95 %); p95 |error| ${fmtFraction(quantile(allAbs, 0.95))}`);
const large = [...profiles.values()].flatMap((p) => p.parts.filter((x) => x.kind !== 'full' && x.measured!.medianMs >= 0.1)).map(absErr);
console.log(`the ${large.length} parts of 0.1 ms or more: median |error| ${fmtFraction(median(large))}, ${fmtFraction(large.filter((e) => e <= 0.1).length / large.length)} within +-10 %`);

// 2. Cross-device check against the server measurements.
interface TimingPoint {
  onnx_tensor: string;
  head_ms_gpu_a: number;
  head_ms_gpu_b: number;
  head_ms_cpu_a: number;
  head_ms_cpu_b: number;
}
type TimingModel = { points: TimingPoint[] } & Record<string, number>;
const timings = JSON.parse(readFileSync(join(ZOO, 'timings_h100_cpu16.json'), 'utf8')) as { models: Record<string, TimingModel> };
const catalog = loadCatalog();
const targets: { key: 'gpu' | 'cpu'; label: string; device: Device }[] = [
  { key: 'gpu', label: 'H100', device: findDevice(catalog, 'nvidia-h100') },
  { key: 'cpu', label: 'cpu16', device: findDevice(catalog, 'server-cpu') },
];
const crossErrors: Record<'gpu' | 'cpu', number[]> = { gpu: [], cpu: [] };
console.log('\n2. device model calibrated on this machine vs measured server heads (PyTorch eager, batch 1, fp32)');
console.log('device  model          points  median |err|  full: measured  predicted (roofline + per-node)   a/b run spread   per-node cost that would fit');
for (const name of MODELS) {
  const g = graphs.get(name)!;
  const model = calibrate(g, profiles.get(name)!);
  const reference = timings.models[name]!;
  for (const t of targets) {
    const ms = predictNodes(g, t.device, model);
    const errors = reference.points.map((p) => {
      const measured = (p[`head_ms_${t.key}_a`] + p[`head_ms_${t.key}_b`]) / 2;
      const [head] = partition(g, [resolveCut(g, [], p.onnx_tensor)]);
      return [...head!.nodes].reduce((s, i) => s + ms.get(i)!, 0) / measured - 1;
    });
    crossErrors[t.key].push(...errors);
    const measuredFull = (reference[`full_ms_${t.key}_a`]! + reference[`full_ms_${t.key}_b`]!) / 2;
    const split = fullSplit(t.device, model, ms);
    const runSpread = median(reference.points.map((p) => Math.abs(p[`head_ms_${t.key}_a`] - p[`head_ms_${t.key}_b`]) / ((p[`head_ms_${t.key}_a`] + p[`head_ms_${t.key}_b`]) / 2)));
    const fits = ((measuredFull - split.rooflineMs) / split.nodes) * 1000;
    console.log(
      `${t.label.padEnd(7)} ${name.padEnd(14)} ${pad(errors.length, 6)}  ${pad(fmtFraction(median(errors.map(Math.abs))), 12)}  ${pad(measuredFull.toFixed(2), 14)}  ${pad((split.rooflineMs + split.overheadMs).toFixed(2), 9)} (${split.rooflineMs.toFixed(2)} + ${split.nodes} x ${split.perNodeUs} µs)   ${pad(fmtFraction(runSpread), 14)}   ${pad(fits.toFixed(1), 6)} µs`,
    );
  }
}
const h100Err = median(crossErrors.gpu.map(Math.abs));
const cpu16Err = median(crossErrors.cpu.map(Math.abs));
console.log(`H100 median |error| ${fmtFraction(h100Err)}, cpu16 ${fmtFraction(cpu16Err)} over all heads of the three models (goal <= 25 %)`);

/** The full model's prediction on a device (`predictNodes`' times), split into roofline time and the fixed per-node cost. */
function fullSplit(device: Device, model: DeviceModel, nodeMs: ReadonlyMap<number, number>) {
  const perNodeUs = device.kind === 'gpu' ? device.launchUs! : model.overheadUs;
  const overheadMs = (nodeMs.size * perNodeUs) / 1000;
  return { rooflineMs: [...nodeMs.values()].reduce((s, x) => s + x, 0) - overheadMs, overheadMs, nodes: nodeMs.size, perNodeUs };
}

// 3. Robustness: repeated `impera profile` runs.
const name = 'mobilenet_v2';
const subset = findCuts(graphs.get(name)!, { maxWidth: 1 }).filter((_, i) => i % 4 === 0).map((c) => c.id);
console.log(`\n3. robustness: \`impera profile ${name} --threads ${THREADS}\` twice more, ${subset.length} cuts; spread of each part's median over 3 runs (max/min - 1)`);
const runs: Profile[] = [profiles.get(name)!];
for (let i = 0; i < 2; i++) {
  const { stdout } = await promisify(execFile)('node', [BIN, 'profile', join(ZOO, `${name}.onnx`), '--cuts', subset.join(','), '--threads', String(THREADS), '--json'], { maxBuffer: 256 << 20 });
  runs.push(JSON.parse(stdout) as Profile);
}
const key = (p: Part) => `${p.kind} ${p.cut}`;
const spreads = runs[1]!.parts.map((p) => {
  const medians = runs.map((r) => r.parts.find((q) => key(q) === key(p))!.measured!.medianMs);
  return Math.max(...medians) / Math.min(...medians) - 1;
});
console.log(`parts ${spreads.length}: median spread ${fmtFraction(median(spreads))}, p90 ${fmtFraction(quantile(spreads, 0.9))}, max ${fmtFraction(Math.max(...spreads))}; ${fmtFraction(spreads.filter((s) => s <= 0.05).length / spreads.length)} within 5 % (goal: all)`);

// 4. What drives the misses of the tiny parts: their kernels timed inside the full model's run (what the
// prediction sums) and in a traced run of the part alone, next to the part's measured wall time.
console.log('\n4. parts under 0.1 ms: their kernels inside the full model vs traced alone (ms); wall = measured part');
console.log('model          part   cut                                               wall   predicted   kernels in full   kernels alone');
const tinyRatios: number[] = [];
for (const [model, profile] of profiles) {
  const g = graphs.get(model)!;
  const { feeds } = sampleFeeds(g.inputShapes, 1);
  for (const p of profile.parts.filter((x) => x.kind !== 'full' && x.measured!.medianMs < 0.1)) {
    const split = splitModel(g, [resolveCut(g, [], p.cut!)]);
    const head = await createSession(split.parts[0]!.proto, g.model.dir, { threads: THREADS });
    const cutFeeds = await run(head, feeds);
    await head.release();
    const part = split.parts[p.kind === 'head' ? 0 : 1]!;
    const alone = (await traceRuns(part.proto, g.model.dir, p.kind === 'head' ? feeds : cutFeeds, { threads: THREADS, warmup: 20, runs: 100 })).kernels.reduce((t, k) => t + k.ms, 0);
    const inFull = p.predictedMs! - p.boundaryMs!;
    tinyRatios.push(inFull / alone);
    console.log(`${model.padEnd(14)} ${p.kind.padEnd(5)}  ${p.cut!.slice(-48).padEnd(48)}  ${pad(p.measured!.medianMs.toFixed(3), 5)}  ${pad(p.predictedMs!.toFixed(3), 10)}  ${pad(inFull.toFixed(3), 16)}  ${pad(alone.toFixed(3), 14)}`);
  }
}
console.log(`kernels inside the full model / alone: median ${median(tinyRatios).toFixed(2)}x over ${tinyRatios.length} parts`);

const round = (x: number) => Number(x.toFixed(4));
console.log(JSON.stringify({ bench: 'profile', median_abs_err: round(medianAbsErr), share_within_10pct: round(within10), h100_median_abs_err: round(h100Err), cpu16_median_abs_err: round(cpu16Err), tiny_in_full_over_alone: round(median(tinyRatios)) }));
