/**
 * `impera bench-e2e`: the end-to-end check of src/harness/e2e.ts - server and edge on this machine over a shaped
 * link, every single-tensor cut of each model, measured latency against the prediction - plus the protocol
 * overhead per protocol on loopback. Prints tables; the last line is the headline JSON
 * {"bench":"e2e","share_within_10pct":…,"overhead_ms_p50":…}.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { findCuts, type Cut } from '../../cuts/cuts.js';
import { ImperaError } from '../../errors.js';
import { analyzeModel } from '../../graph/analyze.js';
import { loadModel } from '../../onnx/io.js';
import { loadProfile, saveProfile, type Profile } from '../../profile/profile-file.js';
import { profileModel } from '../../profile/profiler.js';
import type { Graph } from '../../graph/graph.js';
import { openPath, parseLinks, runE2e, type CutResult, type ModelUnderTest } from '../../harness/e2e.js';
import { measureOverhead, type OverheadStats } from '../../harness/overhead.js';
import { positiveInt, printJson, printWarnings } from '../common.js';
import { fmtBytes, fmtFraction, fmtMs as ms, fmtSignedPercent as pct, table } from '../table.js';
import { progressBar } from '../progress.js';
import { DEFAULT_DATA } from '../../data/policy.js';
import { zooDir } from '../../util/package.js';
import { median, quantile } from '../../util/stats.js';

interface BenchOptions {
  models: string;
  zoo: string;
  links: string;
  cuts: string;
  frames: number;
  warmup: number;
  shaper: 'auto' | 'netns' | 'proxy';
  protocol: 'binary' | 'websocket';
  profileDir?: string;
  source: string;
  overheadRequests: number;
  workDir?: string;
  out?: string;
  json?: boolean;
}

/** The cut tensor of about 100 kB the overhead is measured with. */
const OVERHEAD_BYTES = 100_000;
/** The pause between requests of the periodic overhead measurement (ms). */
const PERIODIC_GAP_MS = 10;

function modelFile(spec: string, zoo: string): { name: string; file: string } {
  if (spec.endsWith('.onnx')) return { name: spec.replace(/^.*\//, '').replace(/\.onnx$/, ''), file: spec };
  const file = join(zoo, `${spec}.onnx`);
  if (!existsSync(file)) throw new ImperaError('FILE_NOT_FOUND', `model '${spec}' is not in the zoo '${zoo}'`, 'pass --zoo, or a path to an .onnx file');
  return { name: spec, file };
}

/** 'all', 'every:K' (every K-th cut, first and last included) or cut indices. */
function selectCuts(all: readonly Cut[], spec: string): Cut[] {
  if (spec === 'all') return [...all];
  const every = /^every:(\d+)$/.exec(spec);
  if (every) {
    const k = Number(every[1]);
    if (!(k >= 1)) throw new ImperaError('BAD_ARGUMENT', `--cuts every:K needs K >= 1, got '${spec}'`);
    return all.filter((_, i) => i % k === 0 || i === all.length - 1);
  }
  return spec.split(',').map((s) => {
    const c = all.find((x) => x.index === Number(s));
    if (!c) throw new ImperaError('UNKNOWN_CUT', `--cuts: no single-tensor cut #${s}`, 'use the index of a single-tensor cut as `impera inspect` numbers it');
    return c;
  });
}

async function profileFor(name: string, g: Graph, cuts: readonly Cut[], o: BenchOptions, workDir: string): Promise<Profile> {
  const file = o.profileDir ? join(o.profileDir, `${name}.json`) : undefined;
  if (file && existsSync(file)) return loadProfile(file, g.model);
  const bar = progressBar(`profiling ${name}`, process.stderr.isTTY === true);
  let done = 0;
  const profile = await profileModel([g], { threads: 1, cuts: cuts.map((c) => c.id), stages: [], onProgress: () => bar.update(++done, 2 + cuts.length) });
  bar.stop();
  saveProfile(profile, file ?? join(workDir, `${name}.profile.json`));
  return profile;
}


/** One summary row: cuts, share within 10 %, median and p90 of |error|, the worst error, and how many ran slower than predicted. */
function summaryRow(rs: readonly CutResult[]): (string | number)[] {
  const abs = rs.map((r) => Math.abs(r.error));
  const worst = rs.reduce((w, r) => (Math.abs(r.error) > Math.abs(w.error) ? r : w));
  return [rs.length, `${((100 * abs.filter((e) => e <= 0.1).length) / abs.length).toFixed(0)}%`, fmtFraction(median(abs)), fmtFraction(quantile(abs, 0.9)), pct(worst.error), rs.filter((r) => r.error > 0).length];
}

function resultTables(results: readonly CutResult[]): string {
  const groups = new Map<string, CutResult[]>();
  for (const r of results) groups.set(`${r.model}|${r.link}`, [...(groups.get(`${r.model}|${r.link}`) ?? []), r]);
  const summary = [...[...groups].map(([key, rs]) => [...key.split('|'), ...summaryRow(rs)]), ['all', '', ...summaryRow(results)]];
  const detail = results.map((r) => [r.model, r.cut, fmtBytes(r.tensorBytes), r.link, ms(r.predicted.headMs), ms(r.predicted.upMs), ms(r.predicted.tailMs), ms(r.predicted.downMs + r.predicted.overheadMs), ms(r.predicted.totalMs), ms(r.measured.totalMs), pct(r.error)]);
  return [
    'measured vs predicted end-to-end latency per cut (ms; predicted = head + up + tail + down/overhead; measured: median of the frames)',
    table(['model', 'cut', 'tensor', 'link', 'head', 'up', 'tail', 'down+ovh', 'predicted', 'measured', 'error'], detail, ['left', 'right', 'right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']),
    '',
    table(['model', 'link', 'cuts', '|error| <= 10%', 'median |error|', 'p90 |error|', 'worst', 'measured slower'], summary),
  ].join('\n');
}

function overheadTable(stats: readonly OverheadStats[], bytes: number): string {
  return [
    `protocol overhead for a ${fmtBytes(bytes)} cut tensor over loopback, no load (ms outside the server's inference)`,
    table(['protocol', 'requests', 'p50', 'p90', 'p99', 'call p50', 'inference p50'], stats.map((s) => [s.protocol, s.requests, ms(s.p50Ms), ms(s.p90Ms), ms(s.p99Ms), ms(s.callP50Ms), ms(s.computeP50Ms)])),
  ].join('\n');
}

export function registerBenchE2e(program: Command): void {
  program
    .command('bench-e2e')
    .description('run server and edge over a shaped link for every cut and compare the measured latency with the prediction')
    .option('--models <list>', 'zoo model names or .onnx paths, comma-separated', 'mobilenet_v2,resnet50')
    .option('--zoo <dir>', 'the reference zoo', zooDir())
    .option('--links <list>', 'links as RATE/DELAY (Mb/s / ms one way) or trace:FILE/DELAY (the uplink replays a bandwidth trace, CSV or Mahimahi; examples/traces/), comma-separated', '10/5,10/20,100/5,100/20')
    .option('--cuts <spec>', "single-tensor cuts: 'all', 'every:K', or indices", 'all')
    .option('--frames <n>', 'measured frames per cut and link (the median counts)', positiveInt('--frames'), 5)
    .option('--warmup <n>', 'frames first sent and not counted (connection set-up, caches)', positiveInt('--warmup'), 3)
    .option('--shaper <kind>', "'netns' (network namespaces + link emulator, root), 'proxy' (user-space TCP proxy), 'auto'", 'auto')
    .option('--protocol <p>', "edge protocol: 'binary' or 'websocket'", 'binary')
    .option('--profile-dir <dir>', 'reuse (or save) measured profiles as DIR/<model>.json (default: profile now, 1 thread)')
    .option('--source <frames>', 'frames the edge sends', DEFAULT_DATA)
    .option('--overhead-requests <n>', 'requests per protocol for the overhead measurement', positiveInt('--overhead-requests'), 300)
    .option('--work-dir <dir>', 'where parts and configurations go (default: a temporary folder, removed after)')
    .option('--out <file>', 'write every result as JSON')
    .option('--json', 'print every result as JSON (before the headline line)')
    .action(async (o: BenchOptions) => {
      if (!['auto', 'netns', 'proxy'].includes(o.shaper)) throw new ImperaError('BAD_ARGUMENT', `--shaper must be auto, netns or proxy, not '${o.shaper}'`);
      if (!['binary', 'websocket'].includes(o.protocol)) throw new ImperaError('BAD_ARGUMENT', `--protocol must be binary or websocket, not '${o.protocol}'`, 'JSON tensors are measured in the overhead table');
      const links = parseLinks(o.links);
      const workDir = o.workDir ?? mkdtempSync(join(tmpdir(), 'impera-e2e-'));
      mkdirSync(workDir, { recursive: true });
      const warnings: string[] = [];
      console.log(`bench-e2e  ${new Date().toISOString()}  ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}  node ${process.version}`);
      try {
        const models: ModelUnderTest[] = [];
        for (const spec of o.models.split(',')) {
          const { name, file } = modelFile(spec, o.zoo);
          const graph = await analyzeModel(loadModel(file), { batch: 1 });
          const cuts = selectCuts(findCuts(graph, { maxWidth: 1 }), o.cuts);
          models.push({ name, graph, cuts, profile: await profileFor(name, graph, cuts, o, workDir) });
        }
        const first = models[0]!;
        const all = findCuts(first.graph, { maxWidth: 1 });
        const probe = all.reduce((best, c) => (Math.abs(c.bytes - OVERHEAD_BYTES) < Math.abs(best.bytes - OVERHEAD_BYTES) ? c : best));
        const overhead = await measureOverhead(first.graph, probe, { requests: o.overheadRequests, warmup: 30, block: 25, workDir: join(workDir, 'overhead') });
        // the edge below sends a frame per period and idles between: its overhead is that of requests after a pause
        const [periodic] = await measureOverhead(first.graph, probe, { requests: o.overheadRequests, warmup: 30, block: 25, workDir: join(workDir, 'overhead'), protocols: [o.protocol], gapMs: PERIODIC_GAP_MS });
        console.log(`\n${overheadTable(overhead, probe.bytes)}\n${o.protocol} with ${PERIODIC_GAP_MS} ms between requests (as the edge sends frames; the prediction's overhead term): p50 ${ms(periodic!.p50Ms)}, p90 ${ms(periodic!.p90Ms)}`);
        const path = await openPath(o.shaper);
        // interrupted: stop the processes and remove the namespaces before leaving
        const interrupted = () => void path.close().finally(() => process.exit(130));
        process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
        if (o.shaper === 'auto' && path.kind === 'proxy') warnings.push('network namespaces are not available (needs root): the link is shaped by a TCP proxy, without TCP dynamics on the link');
        printWarnings(warnings);
        const bar = progressBar('cuts x links', process.stderr.isTTY === true);
        let results: CutResult[];
        try {
          results = await runE2e(path, models, {
            links,
            frames: o.frames,
            warmup: o.warmup,
            protocol: o.protocol,
            threads: 1,
            source: o.source,
            workDir,
            overheadMs: periodic!.p50Ms,
            onResult: (_r, done, total) => bar.update(done, total),
          });
        } finally {
          bar.stop();
          await path.close();
        }
        console.log(`\nshaper: ${path.kind}; ${o.frames} frames per cut and link after ${o.warmup} warm-up frames; protocol ${o.protocol}\n${resultTables(results)}`);
        if (o.out) writeFileSync(o.out, `${JSON.stringify({ shaper: path.kind, overhead, periodic, results }, null, 2)}\n`);
        if (o.json) printJson({ shaper: path.kind, overhead, periodic, results });
        const within = results.filter((r) => Math.abs(r.error) <= 0.1).length / results.length;
        const p50 = (p: string) => +(overhead.find((s) => s.protocol === p)?.p50Ms ?? NaN).toFixed(3);
        console.log(JSON.stringify({ bench: 'e2e', share_within_10pct: +within.toFixed(4), overhead_ms_p50: p50('binary'), overhead_ms_p50_websocket: p50('websocket'), overhead_ms_p50_json: p50('json'), runs: results.length, shaper: path.kind }));
      } finally {
        if (!o.workDir) rmSync(workDir, { recursive: true, force: true });
      }
    });
}
