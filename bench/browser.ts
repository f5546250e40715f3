/**
 * bench:browser — frames per second of the browser edge in headless Chromium (Debian's chromium; onnxruntime-web on
 * WASM, as headless Chromium has no WebGPU) next to the Node edge (onnxruntime-node) on the same frames, the same
 * split (the example MobileNetV2 cut after features.3 by default, int8 codec inside the pair) and the same
 * `impera serve` (in this process) over its WebSocket stream. Both edges run one frame at a time with one ONNX
 * Runtime thread; their blocks of frames alternate so that load from other work on the machine hits both alike.
 * Frames per second = 1000 / mean per-frame total (head + packing + request), as each edge measures it.
 * Also counted: frames whose packed bytes are bit-identical to the Node edge's (the head run by onnxruntime-node and
 * packed by codecs/wire.ts, as the runner does; real convolutions in WASM and native kernels may round apart) and
 * frames with the same prediction.
 * Arguments: --frames N (default 100, as the issue asks), --cut TENSOR. Last line:
 *   {"bench":"browser","backend":…,"frames":…,"browser_fps":…,"node_fps":…,"fps_ratio":…,"bytes_identical":…,
 *    "codes_differing":…,"max_code_diff":…,"predictions_equal":…}
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fitCodecs } from '../src/codecs/calibrate.js';
import { parseCodec } from '../src/codecs/spec.js';
import { encodeWire, type WireValues } from '../src/codecs/wire.js';
import { findCuts, resolveCut } from '../src/cuts/cuts.js';
import { openDataset } from '../src/data/dataset.js';
import { attachCodec, describeWire, wireName } from '../src/export/codec.js';
import { splitModel, writeParts } from '../src/export/split.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { loadModel } from '../src/onnx/io.js';
import { createSession, run, type Feeds } from '../src/ort/session.js';
import { loadEdgePage } from '../src/runtime/browser/edge-page.js';
import type { EdgeApi, FrameInput, PageFrameAnswer } from '../src/runtime/browser/page.js';
import { EDGE_PAGE_PATH } from '../src/runtime/browser/page-config.js';
import { resolveRuntimeConfig } from '../src/runtime/edge/config.js';
import { frameSource } from '../src/runtime/edge/frames.js';
import { EdgeRunner, type FrameResult } from '../src/runtime/edge/runner.js';
import { SERVER_DEFAULTS, startServer } from '../src/runtime/server/app.js';
import { loadRepository } from '../src/runtime/server/repository.js';
import { mean, quantile } from '../src/util/stats.js';
import { EXAMPLE_DATA, EXAMPLE_MODEL, PACKAGE_ROOT } from '../src/util/package.js';
import { arg, machine, pad } from './common.js';

const FRAMES = Number(arg('frames', '100'));
const CUT = arg('cut', '/1/features/features.3/Add_output_0');
const BLOCK = 10;
const WARMUP = 3;
const CODEC = 'int8';

console.log(`bench:browser  ${new Date().toISOString()}  ${machine()}  node ${process.version}  ${FRAMES} frames, MobileNetV2 cut ${CUT}, ${CODEC}`);

const dir = mkdtempSync(join(tmpdir(), 'impera-browser-bench-'));
const g = await analyzeModel(loadModel(EXAMPLE_MODEL), { batch: 1 });
const cut = resolveCut(g, findCuts(g, { maxWidth: 1 }), CUT);
const fitted = (await fitCodecs(g, [cut], [parseCodec(CODEC)], openDataset(EXAMPLE_DATA, { resize: true }), { samples: 16 })).get(cut.id)![0]!;
const { parts } = splitModel(g, [cut]);
writeParts(g, attachCodec(g, [parts[0]!, parts[1]!], fitted), dir);
writeFileSync(join(dir, 'codec.json'), JSON.stringify(describeWire(fitted)));
const runtime = (url: string) => ({ format: 'impera-runtime/1', head: 'head.onnx', codec: 'codec.json', fallback: 'none', latencyBudgetMs: 60_000, threads: 1, server: { url, model: 'tail', protocol: 'websocket' } });
writeFileSync(join(dir, 'edge.yaml'), JSON.stringify(runtime('http://127.0.0.1:1')));

const server = await startServer({ ...SERVER_DEFAULTS, models: loadRepository(dir, { maxBatch: 1 }), host: '127.0.0.1', port: 0, tokens: [], threads: 1, edgePage: loadEdgePage(join(dir, 'edge.yaml')) });
const runner = await EdgeRunner.open(resolveRuntimeConfig(runtime(server.url), join(dir, 'edge.yaml')));
const source = frameSource(EXAMPLE_DATA, runner.inputs, { resize: true });
const feeds: Feeds[] = Array.from({ length: WARMUP + FRAMES }, (_, i) => source.frame(i).feeds);
const asInput = (f: Feeds): FrameInput => Object.fromEntries(Object.entries(f).map(([name, t]) => [name, { datatype: 'FP32', shape: t.dims, data: Array.from(t.data as Float32Array) }]));

// scripts/ is not compiled into dist/: the launcher is loaded from the package root
const { launchChromium } = (await import(pathToFileURL(join(PACKAGE_ROOT, 'scripts', 'report-screenshot.mjs')).href)) as typeof import('../scripts/report-screenshot.mjs');
const browser = await launchChromium();
const page = await browser.newPage();
await page.goto(`${server.url}${EDGE_PAGE_PATH}`, { waitUntil: 'load' });
const ready = await page.evaluate(() => (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.ready);
const isolated = await page.evaluate(() => self.crossOriginIsolated);
console.log(`browser edge: head on ${ready.note}; cross-origin isolated ${isolated}`);
const inPage = (frames: FrameInput[]) => page.evaluate((fs) => (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.run(fs, true), frames) as Promise<PageFrameAnswer[]>;
const inNode = async (from: number, to: number) => {
  const out: FrameResult[] = [];
  for (let i = from; i < to; i++) out.push(await runner.process(i, feeds[i]!));
  return out;
};

await inPage(feeds.slice(0, WARMUP).map(asInput));
await inNode(0, WARMUP);
const pageAnswers: PageFrameAnswer[] = [];
const nodeResults: FrameResult[] = [];
for (let from = WARMUP; from < WARMUP + FRAMES; from += BLOCK) {
  const to = Math.min(from + BLOCK, WARMUP + FRAMES);
  pageAnswers.push(...(await inPage(feeds.slice(from, to).map(asInput))));
  nodeResults.push(...(await inNode(from, to)));
}

// the Node edge's bytes: its head in onnxruntime-node, packed by codecs/wire.ts
const headWithCodec = await createSession(loadModel(join(dir, 'head.onnx')).proto, dir, { threads: 1 });
let identical = 0;
let differing = 0;
let largest = 0;
for (let i = 0; i < FRAMES; i++) {
  const out = await run(headWithCodec, feeds[WARMUP + i]!);
  const bytes = encodeWire(fitted, fitted.tensors.map((f) => out[wireName(f.tensor)]!.data as WireValues));
  const sent = pageAnswers[i]!.wire![0]!;
  const diffs = bytes.length === sent.length ? Array.from(bytes, (b, k) => Math.abs(b - sent[k]!)).filter((d) => d > 0) : [Infinity];
  if (!diffs.length) identical++;
  differing += diffs.length;
  largest = Math.max(largest, ...diffs);
}
await headWithCodec.release();
const samePrediction = nodeResults.filter((r, i) => r.prediction !== undefined && r.prediction === pageAnswers[i]!.result.prediction).length;

await browser.close();
await runner.close();
await server.close();

const rows = [
  { edge: `browser (${ready.backend})`, results: pageAnswers.map((a) => a.result) },
  { edge: 'node (onnxruntime-node)', results: nodeResults },
];
const fps = (results: readonly { timings: { totalMs: number } }[]) => 1000 / mean(results.map((r) => r.timings.totalMs));
console.log(`${'edge'.padEnd(26)}${pad('frames', 8)}${pad('failed', 8)}${pad('fps', 8)}${pad('head p50', 10)}${pad('req p50', 10)}${pad('total p50', 11)}${pad('total p95', 11)}`);
for (const row of rows) {
  const rs = row.results as readonly { outcome: string; timings: { headMs: number; requestMs?: number; totalMs: number } }[];
  const q = (f: (r: (typeof rs)[number]) => number, p: number) => quantile(rs.map(f), p).toFixed(1);
  console.log(`${row.edge.padEnd(26)}${pad(rs.length, 8)}${pad(rs.filter((r) => r.outcome !== 'server').length, 8)}${pad(fps(rs).toFixed(1), 8)}${pad(q((r) => r.timings.headMs, 0.5), 10)}${pad(q((r) => r.timings.requestMs ?? 0, 0.5), 10)}${pad(q((r) => r.timings.totalMs, 0.5), 11)}${pad(q((r) => r.timings.totalMs, 0.95), 11)}`);
}
console.log(`packed bytes bit-identical to the Node edge's: ${identical}/${FRAMES} frames (${differing} of ${FRAMES * fitted.tensors[0]!.wireElements} int8 codes differ, by at most ${largest}); same prediction: ${samePrediction}/${FRAMES}`);
const [browserFps, nodeFps] = [fps(pageAnswers.map((a) => a.result)), fps(nodeResults)];
console.log(JSON.stringify({ bench: 'browser', backend: ready.backend, frames: FRAMES, browser_fps: +browserFps.toFixed(2), node_fps: +nodeFps.toFixed(2), fps_ratio: +(browserFps / nodeFps).toFixed(3), bytes_identical: identical, codes_differing: differing, max_code_diff: largest, predictions_equal: samePrediction }));
