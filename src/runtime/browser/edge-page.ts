/**
 * The browser edge page, Node side: what `impera serve --edge-page runtime.yaml` serves at /edge/ and
 * `impera edge --browser DIR` writes - the page (HTML), its script (src/runtime/browser/page.ts bundled by
 * `npm run build` into dist/browser/), the head model, the page's configuration, and onnxruntime-web's script and
 * .wasm files from its package. Served with cross-origin isolation so ONNX Runtime's WASM may use threads.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ImperaError } from '../../errors.js';
import { resolvePreprocess } from '../../data/preprocess-spec.js';
import { loadModel } from '../../onnx/io.js';
import { onnx } from '../../onnx/proto.js';
import { PACKAGE_ROOT } from '../../util/package.js';
import { readWireDescription } from '../codec-file.js';
import { loadRuntimeConfig } from '../edge/config.js';
import { modelMetadata } from '../protocol/metadata.js';
import { EDGE_PAGE_FILES, EDGE_PAGE_PATH, ORT_SCRIPT, type EdgePageConfig } from './page-config.js';

/** The page's configuration and the head's bytes. */
export interface EdgePage {
  config: EdgePageConfig;
  head: Uint8Array;
  /** The server of the runtime config, which a page served from elsewhere calls. */
  server: string;
}

/** The bundled page script, built by `npm run build` (scripts/build-browser.mjs). */
const SCRIPT = join(PACKAGE_ROOT, 'dist', 'browser', EDGE_PAGE_FILES.script);

/** onnxruntime-web's dist folder, wherever npm put the package. */
function ortDist(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  } catch {
    throw new ImperaError('BAD_ARGUMENT', 'the browser edge needs the onnxruntime-web package, which is not installed', 'npm install onnxruntime-web');
  }
}

/** The WASM build ORT_SCRIPT loads (its loader .mjs and its .wasm): WebGPU and CPU kernels in one. */
const ORT_WASM = 'ort-wasm-simd-threaded.asyncify';

/** onnxruntime-web's files the page loads: its script and its WASM build. */
function ortFiles(): string[] {
  const wanted = [ORT_SCRIPT, `${ORT_WASM}.mjs`, `${ORT_WASM}.wasm`];
  const present = readdirSync(ortDist());
  const missing = wanted.filter((f) => !present.includes(f));
  if (missing.length) throw new ImperaError('BAD_ARGUMENT', `onnxruntime-web in ${ortDist()} lacks ${missing.join(', ')}`, 'install the onnxruntime-web version in package.json');
  return wanted;
}

/** A camera's frames have any size and colour: stretched to the model's size, luma for a gray model, pixels x 1/255. */
export const CAMERA_PREPROCESS = 'resize=stretch,gray=convert';

const refuse = (file: string, why: string, hint: string) => new ImperaError('BAD_RUNTIME_CONFIG', `runtime config '${file}': ${why}`, hint);

/**
 * The page for the deployment `runtimeFile` describes (impera-runtime/1): its head, codec and server model; camera
 * frames and images are preprocessed per `preprocess` (the compact --preprocess syntax, given with `flag`; default
 * CAMERA_PREPROCESS).
 * What the page cannot do yet is refused here, at start: early exits, entropy coding (the browser has no brotli or
 * zstd and its deflate is asynchronous), a head with external data.
 */
export function loadEdgePage(runtimeFile: string, preprocess?: string, flag = '--edge-preprocess'): EdgePage {
  const c = loadRuntimeConfig(runtimeFile);
  if (c.exits.length) throw refuse(runtimeFile, `the browser edge does not run early exits (${c.exits.length} configured)`, 'drop exits: for the page, or use impera edge');
  const codec = c.codec ? readWireDescription(c.codec) : undefined;
  if (codec && c.server.wire === 'packed' && /\+(deflate|brotli|zstd)\b/.test(codec.codec)) {
    throw refuse(runtimeFile, `codec '${codec.codec}' ends with an entropy coder, which the browser edge cannot run`, "export the pair with a codec without +deflate/+brotli/+zstd, or use wire: tensors");
  }
  const model = loadModel(c.head);
  const external = (model.proto.graph?.initializer ?? []).find((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  if (external) throw refuse(runtimeFile, `the head keeps '${external.name}' in an external data file; the page loads one .onnx file`, 'export the head with its weights inside (it is small), or use impera edge');
  const outputs = (model.proto.graph?.output ?? []).map((o) => o.name!);
  const cut = codec && c.server.wire === 'packed' ? codec.tensors.map((t) => t.wire) : outputs;
  const missing = cut.filter((n) => !outputs.includes(n));
  if (missing.length) throw refuse(runtimeFile, `wire tensor '${missing[0]}' is not an output of the head '${c.head}'`, `the head's outputs are ${outputs.map((n) => `'${n}'`).join(', ')}`);
  const config: EdgePageConfig = {
    model: c.server.model,
    ...(c.server.version ? { version: c.server.version } : {}),
    ...(c.output ? { output: c.output } : {}),
    inputs: modelMetadata(model.proto, 'head', '1').inputs,
    cut,
    wire: c.server.wire,
    ...(codec ? { codec } : {}),
    preprocess: resolvePreprocess(preprocess ?? CAMERA_PREPROCESS, flag),
    latencyBudgetMs: c.latencyBudgetMs,
  };
  return { config, head: readFileSync(c.head), server: c.server.url };
}

function pageScript(): Buffer {
  if (!existsSync(SCRIPT)) throw new ImperaError('BAD_ARGUMENT', `the browser edge page is not built (no ${SCRIPT})`, 'run npm run build');
  return readFileSync(SCRIPT);
}

/** The page: status, source controls and the per-frame table; page.ts fills it. */
export function edgePageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>impera browser edge</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-top: 1em; font-variant-numeric: tabular-nums; }
td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
#status { white-space: pre-line; }
.failed { color: #b00; }
</style>
</head>
<body>
<h1>impera browser edge</h1>
<p id="status">loading…</p>
<p>
  <button id="camera" disabled>Start camera</button>
  <button id="stop" disabled>Stop</button>
  <label>Images or .npy tensors: <input id="files" type="file" multiple accept="image/*,.npy" disabled></label>
</p>
<p id="summary"></p>
<video id="video" playsinline muted hidden></video>
<table id="frames"><thead><tr><th>frame</th><th>outcome</th><th>prediction</th><th>confidence</th><th>head ms</th><th>encode ms</th><th>request ms</th><th>total ms</th><th>bytes sent</th></tr></thead><tbody></tbody></table>
<script src="${EDGE_PAGE_FILES.ort}${ORT_SCRIPT}"></script>
<script type="module" src="${EDGE_PAGE_FILES.script}"></script>
</body>
</html>
`;
}

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', json: 'application/json', js: 'text/javascript', mjs: 'text/javascript', wasm: 'application/wasm', onnx: 'application/octet-stream' };
const typeOf = (file: string): string => TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream';

/** Cross-origin isolation, so the page may share memory with WASM threads (every file is same-origin). */
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** Serve `page` under /edge/ (the ONNX Runtime files read from its package on request). */
export function registerEdgePage(app: FastifyInstance, page: EdgePage): void {
  const files = new Map<string, () => Uint8Array | string>([
    ['', edgePageHtml],
    [EDGE_PAGE_FILES.html, edgePageHtml],
    [EDGE_PAGE_FILES.config, () => JSON.stringify(page.config)],
    [EDGE_PAGE_FILES.head, () => page.head],
    [EDGE_PAGE_FILES.script, pageScript],
  ]);
  const dist = ortDist();
  for (const f of ortFiles()) files.set(`${EDGE_PAGE_FILES.ort}${f}`, () => readFileSync(join(dist, f)));
  pageScript(); // refuse at start, not at the first visit
  app.get(EDGE_PAGE_PATH.slice(0, -1), async (_req, reply) => reply.redirect(EDGE_PAGE_PATH));
  app.get(`${EDGE_PAGE_PATH}*`, async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    const content = files.get(name);
    if (!content) return reply.code(404).send({ error: `no file '${name}' in the browser edge page` });
    return reply.headers(ISOLATION).type(typeOf(name || EDGE_PAGE_FILES.html)).send(content());
  });
}

/** Write the page into `dir` (to serve from any static server on the tail server's origin). */
export function writeEdgePage(dir: string, page: EdgePage): string[] {
  mkdirSync(join(dir, EDGE_PAGE_FILES.ort), { recursive: true });
  writeFileSync(join(dir, EDGE_PAGE_FILES.html), edgePageHtml());
  writeFileSync(join(dir, EDGE_PAGE_FILES.config), JSON.stringify({ ...page.config, server: page.server }));
  writeFileSync(join(dir, EDGE_PAGE_FILES.head), page.head);
  writeFileSync(join(dir, EDGE_PAGE_FILES.script), pageScript());
  const dist = ortDist();
  for (const f of ortFiles()) copyFileSync(join(dist, f), join(dir, EDGE_PAGE_FILES.ort, f));
  return [EDGE_PAGE_FILES.html, EDGE_PAGE_FILES.config, EDGE_PAGE_FILES.head, EDGE_PAGE_FILES.script, ...ortFiles().map((f) => `${EDGE_PAGE_FILES.ort}${f}`)];
}
