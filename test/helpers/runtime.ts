/** A served split of a tiny model, raw HTTP for requests a client library would not send, and reference outputs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCuts, resolveCut, type Cut } from '../../src/cuts/cuts.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { numel } from '../../src/onnx/dtype.js';
import type { Graph } from '../../src/graph/graph.js';
import { tensor } from '../../src/graph/graph.js';
import { splitModel, writeParts } from '../../src/export/split.js';
import type { ExportedPart } from '../../src/export/extract.js';
import { createSession, run } from '../../src/ort/session.js';
import type { RawRequest } from '../../src/harness/hostile.js';
import type { InferTensor } from '../../src/runtime/protocol/tensor.js';
import { SERVER_DEFAULTS, startServer, type RunningServer, type ServerOptions } from '../../src/runtime/server/app.js';
import { loadRepository, type ServingDefaults } from '../../src/runtime/server/repository.js';
import { seededRandom } from '../../src/util/random.js';
import { fitCodecs } from '../../src/codecs/calibrate.js';
import { parseCodec } from '../../src/codecs/spec.js';
import { openDataset } from '../../src/data/dataset.js';
import { attachCodec, describeWire } from '../../src/export/codec.js';
import { EXAMPLE_DATA } from '../../src/util/package.js';
import { SWITCHING_FORMAT, type SwitchingPlan } from '../../src/plan/switching.js';

import { chain, weights } from './models.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel, type OnnxModel } from '../../src/onnx/io.js';

/**
 * The head of chain() at r1 with an early exit (r1 -> GAP -> Gemm -> 'exit' logits) as a second output, as a
 * planner with exits exports it; chain()'s tail at r1 completes it.
 */
export function headWithExit(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 8, 8]);
  const c1 = b.op('Conv', ['x', weights(b, 'c1.w', [4, 3, 3, 3], 1), weights(b, 'c1.b', [4], 2)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { output: 'c1' });
  const r1 = b.op('Relu', [c1], {}, { output: 'r1' });
  const e = b.op('Flatten', [b.op('GlobalAveragePool', [r1], {}, { output: 'egap' })], {}, { output: 'eflat' });
  b.op('Gemm', [e, weights(b, 'ex.w', [5, 4], 7), weights(b, 'ex.b', [5], 8)], { transB: 1 }, { output: 'exit' });
  b.output('r1', 'float32', ['batch', 4, 8, 8]);
  b.output('exit', 'float32', ['batch', 5]);
  return inMemoryModel(b.build(), 'head-with-exit');
}

export interface SplitRepo {
  dir: string;
  g: Graph;
  cut: Cut;
  parts: ExportedPart[];
}

/**
 * The chain model split at r1 into head.onnx and tail.onnx in a fresh folder; with a codec (fitted on the
 * built-in sample images), the pair encodes and decodes it and codec.json describes its wire format.
 */
/** `model` (chain() by default) split at the tensor `at`, with `codec` on the wire if given, written as a model repository. */
export async function splitRepo(codec?: string, model: OnnxModel = chain(), at = 'r1'): Promise<SplitRepo> {
  const g = await analyzeModel(model, { batch: 1 });
  const cut = resolveCut(g, findCuts(g, { maxWidth: 1 }), at);
  let { parts } = splitModel(g, [cut]);
  const dir = mkdtempSync(join(tmpdir(), 'impera-repo-'));
  if (codec) {
    const fitted = (await fitCodecs(g, [cut], [parseCodec(codec)], openDataset(EXAMPLE_DATA), { samples: 16 })).get(cut.id)![0]!;
    parts = attachCodec(g, [parts[0]!, parts[1]!], fitted);
    writeFileSync(join(dir, 'codec.json'), JSON.stringify(describeWire(fitted)));
  }
  writeParts(g, parts, dir);
  return { dir, g, cut, parts };
}

/** Seeded inputs of the cut tensor for `batch` samples. */
export function cutInputs(repo: SplitRepo, batch = 1, seed = 1): InferTensor[] {
  const rand = seededRandom(seed);
  return repo.cut.tensors.map((name) => {
    const shape = [batch, ...tensor(repo.g, name).shape.slice(1)];
    return { name, datatype: 'FP32', shape, data: Float32Array.from({ length: numel(shape) }, rand) };
  });
}

/** The tail's outputs for these inputs, run here. */
export async function tailReference(repo: SplitRepo, inputs: readonly InferTensor[]): Promise<Float32Array> {
  const session = await createSession(repo.parts[1]!.proto, repo.dir);
  const out = await run(session, Object.fromEntries(inputs.map((t) => [t.name, { dtype: 1, dims: t.shape, data: t.data as Float32Array }])));
  await session.release();
  return out.y!.data as Float32Array;
}

export async function serve(repo: SplitRepo, o: Partial<ServerOptions> = {}, defaults: ServingDefaults = { maxBatch: 8 }): Promise<RunningServer> {
  return startServer({
    ...SERVER_DEFAULTS,
    models: loadRepository(repo.dir, defaults),
    host: '127.0.0.1',
    port: 0,
    tokens: [],
    threads: 1,
    requestTimeoutMs: 5000,
    ...o,
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Send a request exactly as given (no client-side checks). */
export function send(url: string, r: Pick<RawRequest, 'method' | 'path' | 'headers' | 'body'>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(r.path, url), { method: r.method, headers: { ...r.headers, ...(r.body ? { 'content-length': String(r.body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

/** The protocol's error object of a response. */
export const errorOf = (r: RawResponse): string => (JSON.parse(r.body.toString()) as { error: string }).error;

/** 200 answers that are not inference results, as a broken or foreign server might send them. */
export const MALFORMED_ANSWERS: { what: string; headers: Record<string, string>; body: string }[] = [
  { what: 'not JSON', headers: { 'content-type': 'text/html' }, body: '<html>oops</html>' },
  { what: 'a JSON array', headers: { 'content-type': 'application/json' }, body: '[1, 2]' },
  { what: 'no outputs field', headers: { 'content-type': 'application/json' }, body: '{"model_name": "tail"}' },
  { what: 'an empty outputs list', headers: { 'content-type': 'application/json' }, body: '{"model_name": "tail", "outputs": []}' },
  { what: 'null for a NaN score', headers: { 'content-type': 'application/json' }, body: '{"model_name": "tail", "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 5], "data": [null, 0.1, 0.2, 0.3, 0.4]}]}' },
  { what: 'fewer values than the shape', headers: { 'content-type': 'application/json' }, body: '{"model_name": "tail", "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 5], "data": [1, 2]}]}' },
  { what: 'strings for scores', headers: { 'content-type': 'application/json' }, body: '{"model_name": "tail", "outputs": [{"name": "y", "datatype": "BYTES", "shape": [1], "data": ["cat"]}]}' },
  { what: 'a binary header longer than the body', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '9999' }, body: '{}' },
];

/** A real HTTP server that answers its n-th request with MALFORMED_ANSWERS[n mod 8], status 200. */
export async function malformedServer(): Promise<{ url: string; close: () => void }> {
  let n = 0;
  const server = createServer((req, res) => {
    const answer = MALFORMED_ANSWERS[n++ % MALFORMED_ANSWERS.length]!;
    req.resume().on('end', () => res.writeHead(200, answer.headers).end(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Two options of chain() laid out as `plan --export` does: DIR/NAME/ head and runtime, DIR/server/NAME/model.onnx. */
export async function switchingRepo(limitMs: number, model = (name: string) => name): Promise<{ dir: string; plan: SwitchingPlan }> {
  const g = await analyzeModel(chain(), { batch: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'impera-adaptive-'));
  const cuts = { c0: 'r1', c1: 'flat' };
  for (const [name, at] of Object.entries(cuts)) {
    const [head, tail] = splitModel(g, [resolveCut(g, findCuts(g, { maxWidth: 1 }), at)]).parts;
    writeParts(g, [{ ...head!, name: 'head' }], join(dir, name));
    writeParts(g, [{ ...tail!, name: 'model' }], join(dir, 'server', name));
    const runtime = { format: 'impera-runtime/1', head: 'head.onnx', tail: `../server/${name}/model.onnx`, server: { url: 'http://127.0.0.1:1', model: model(name) }, latencyBudgetMs: 3000, reconnect: { initialMs: 100, maxMs: 200 } };
    writeFileSync(join(dir, name, 'runtime.json'), JSON.stringify(runtime));
  }
  const option = (name: string, bytes: number, goodness: number) => ({ name, id: name, deviceMs: 0.1, serverMs: 0.1, share: 1, bytes, goodness, runtime: `${name}/runtime.json` });
  const plan: SwitchingPlan = {
    format: SWITCHING_FORMAT,
    plan: 'test',
    latencyLimitMs: limitMs,
    tolerance: 0,
    hysteresis: { margin: 0.15, frames: 2 },
    options: [option('c0', 1024, 0.9), option('c1', 16, 0.8)],
    grid: { upMbps: [1], rttMs: [0], queueMs: [0] },
    winners: [[['c0']]],
  };
  writeFileSync(join(dir, 'switching.json'), JSON.stringify(plan));
  return { dir, plan };
}
