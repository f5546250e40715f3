/** `impera serve`: serve a model repository (exported tails) over the Open Inference Protocol until stopped. */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { ImperaError } from '../../errors.js';
import { SERVER_DEFAULTS, SERVER_LIMITS, startServer, type RunningServer } from '../../runtime/server/app.js';
import { checkTokens } from '../../runtime/server/auth.js';
import { CAMERA_PREPROCESS, loadEdgePage } from '../../runtime/browser/edge-page.js';
import { EDGE_PAGE_PATH } from '../../runtime/browser/page-config.js';
import { loadRepository } from '../../runtime/server/repository.js';
import { MAX_BATCH_DELAY_MS } from '../../runtime/server/scheduler.js';
import { readUserFile } from '../../util/config.js';
import { positiveInt } from '../common.js';
import { fmtBytes, table } from '../table.js';

interface ServeOptions {
  modelRepo: string;
  host: string;
  port: number;
  token: string[];
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  workers: number;
  threads?: number;
  maxBatch: number;
  batchDelayMs?: number;
  maxQueue: number;
  bodyLimit: number;
  requestTimeoutMs: number;
  inferenceTimeoutMs: number;
  maxJsonDepth: number;
  maxTensors: number;
  streamBufferLimit: number;
  accessLog?: boolean;
  edgePage?: string;
  edgePreprocess?: string;
  json?: boolean;
}

/** A number in [lo, hi] (whole when `whole`); the refusal names the flag and the range. */
export const inRange = (flag: string, [lo, hi]: readonly [number, number], whole = true) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= lo && n <= hi) || (whole && !Number.isInteger(n))) throw new ImperaError('BAD_ARGUMENT', `${flag} must be a ${whole ? 'whole ' : ''}number from ${lo} to ${hi}, got '${v}'`);
  return n;
};

/** A TCP port, checked here: fastify's own refusal of 70000 or 1.5 would surface as an internal error. */
const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ImperaError('BAD_ARGUMENT', `--port must be a whole number from 0 to 65535 (0: any free port), got '${v}'`);
  return n;
};

/** 32MB, 512kB, 1048576: a size in bytes (decimal units, as fmtBytes prints them; MiB/KiB binary). */
export function parseBytes(flag: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/i.exec(v.trim());
    const scale: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
    if (!m || Number(m[1]) <= 0) throw new ImperaError('BAD_ARGUMENT', `${flag} must be a size like 32MB or 1048576, got '${v}'`);
    return Math.round(Number(m[1]) * scale[(m[2] ?? 'b').toLowerCase()]!);
  };
}

const readFileOption = (flag: string, path: string): Buffer => Buffer.from(readUserFile(path, flag, 'check the path'));

/** The accepted tokens, each checked with where it came from. */
function tokens(o: ServeOptions): string[] {
  const lines = o.tokenFile ? readUserFile(o.tokenFile, '--token-file', 'check the path').split('\n').map((token, i) => ({ token: token.trim(), line: i + 1 })).filter((l) => l.token) : [];
  if (o.tokenFile && !lines.length) throw new ImperaError('BAD_ARGUMENT', `--token-file '${o.tokenFile}' holds no token`, 'one token per line');
  const env = process.env.IMPERA_TOKEN ? [process.env.IMPERA_TOKEN] : [];
  const all = [...o.token, ...lines.map((l) => l.token), ...env];
  checkTokens(all, [...o.token.map((_, i) => `given with --token (number ${i + 1})`), ...lines.map((l) => `on line ${l.line} of --token-file`), ...env.map(() => 'in $IMPERA_TOKEN')]);
  return all;
}

function describe(server: RunningServer, secured: { tokens: number; tls: boolean }): string {
  const rows = server.models.map((m) => [
    m.name,
    m.version,
    m.metadata.inputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join('; '),
    m.metadata.outputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join('; '),
    m.batchDelayMs !== undefined ? `dynamic, max ${m.maxBatch}, ${m.batchDelayMs} ms` : m.maxBatch > 1 ? `per request, max ${m.maxBatch}` : 'none',
    m.wire ? m.wire.spec.name : '-',
  ]);
  const security = `${secured.tls ? 'TLS' : 'plain HTTP'}, ${secured.tokens ? `${secured.tokens} bearer token${secured.tokens > 1 ? 's' : ''}` : 'no authentication'}`;
  return `serving ${server.models.length} model${server.models.length > 1 ? 's' : ''} at ${server.url} (${security}; Ctrl-C stops)\n${table(['model', 'version', 'inputs', 'outputs', 'batching', 'packed wire'], rows)}\n`;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve exported tails over the Open Inference Protocol (KServe v2 / Triton HTTP, binary tensors, WebSocket stream)')
    .requiredOption('--model-repo <dir>', 'models: DIR/NAME.onnx (impera split --out), DIR/NAME/model.onnx, or a Triton repository DIR/NAME/<version>/model.onnx')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', port, 8000)
    .option('--token <token>', 'accept this bearer token (repeatable; also $IMPERA_TOKEN); without tokens there is no authentication', (v: string, prev: string[] = []) => [...prev, v], [])
    .option('--token-file <file>', 'accept the bearer tokens in this file (one per line)')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--workers <n>', 'worker processes running ONNX Runtime (each holds every model; a failed one is replaced)', positiveInt('--workers'), SERVER_DEFAULTS.workers)
    .option('--threads <n>', 'ONNX Runtime intra-op threads per worker (default: cores / workers)', positiveInt('--threads'))
    .option('--max-batch <n>', 'largest batch per request and per dynamic batch', positiveInt('--max-batch'), 8)
    .option('--batch-delay-ms <ms>', `dynamic batching: wait up to this long for requests to batch together, 0 to ${MAX_BATCH_DELAY_MS} (default: off)`, inRange('--batch-delay-ms', [0, MAX_BATCH_DELAY_MS], false))
    .option('--max-queue <n>', 'requests that may wait for a worker; more are refused with 429', positiveInt('--max-queue'), SERVER_DEFAULTS.maxQueue)
    .option('--body-limit <size>', 'largest request body; larger ones are refused with 413', parseBytes('--body-limit'), SERVER_DEFAULTS.bodyLimit)
    .option('--request-timeout-ms <ms>', 'a request must arrive whole within this, else 408', positiveInt('--request-timeout-ms'), SERVER_DEFAULTS.requestTimeoutMs)
    .option('--inference-timeout-ms <ms>', `a request not answered within this (queueing included) gets 504, ${SERVER_LIMITS.inferenceTimeoutMs.join(' to ')}`, inRange('--inference-timeout-ms', SERVER_LIMITS.inferenceTimeoutMs), SERVER_DEFAULTS.inferenceTimeoutMs)
    .option('--max-json-depth <n>', `deepest JSON nesting of a request, checked before parsing (400 beyond), ${SERVER_LIMITS.maxJsonDepth.join(' to ')}`, inRange('--max-json-depth', SERVER_LIMITS.maxJsonDepth), SERVER_DEFAULTS.maxJsonDepth)
    .option('--max-tensors <n>', `most tensors a request may list (400 beyond), ${SERVER_LIMITS.maxTensors.join(' to ')}`, inRange('--max-tensors', SERVER_LIMITS.maxTensors), SERVER_DEFAULTS.maxTensors)
    .option('--stream-buffer-limit <size>', 'a WebSocket client with more unread answers than this is closed (1008)', parseBytes('--stream-buffer-limit'), SERVER_DEFAULTS.streamBufferLimit)
    .option('--access-log', 'log every request as one JSON line on stderr (server errors are logged always)')
    .option('--edge-page <runtime.yaml>', 'also serve the browser edge at /edge/: the head, codec and model of this runtime config, run in the browser (docs/BROWSER.md)')
    .option('--edge-preprocess <spec>', `how the page turns camera frames and images into the head's input (the --preprocess syntax; default: ${CAMERA_PREPROCESS})`)
    .option('--json', 'print the address and models as one JSON line once ready')
    .action(async (o: ServeOptions) => {
      if (!!o.tlsCert !== !!o.tlsKey) throw new ImperaError('BAD_ARGUMENT', '--tls-cert and --tls-key go together', 'give both, or neither for plain HTTP');
      const accepted = tokens(o);
      const tls = o.tlsCert && o.tlsKey ? { cert: readFileOption('--tls-cert', o.tlsCert), key: readFileOption('--tls-key', o.tlsKey) } : undefined;
      if (o.edgePreprocess && !o.edgePage) throw new ImperaError('BAD_ARGUMENT', '--edge-preprocess goes with --edge-page', 'give --edge-page runtime.yaml too');
      const edgePage = o.edgePage ? loadEdgePage(o.edgePage, o.edgePreprocess) : undefined;
      const models = loadRepository(o.modelRepo, { maxBatch: o.maxBatch, ...(o.batchDelayMs !== undefined ? { batchDelayMs: o.batchDelayMs } : {}) });
      const server = await startServer({
        models,
        host: o.host,
        port: o.port,
        tokens: accepted,
        ...(tls ? { tls } : {}),
        bodyLimit: o.bodyLimit,
        maxQueue: o.maxQueue,
        workers: o.workers,
        threads: o.threads ?? Math.max(1, Math.floor(availableParallelism() / o.workers)),
        requestTimeoutMs: o.requestTimeoutMs,
        keepAliveTimeoutMs: SERVER_DEFAULTS.keepAliveTimeoutMs,
        inferenceTimeoutMs: o.inferenceTimeoutMs,
        maxJsonDepth: o.maxJsonDepth,
        maxTensors: o.maxTensors,
        streamBufferLimit: o.streamBufferLimit,
        accessLog: !!o.accessLog,
        ...(edgePage ? { edgePage } : {}),
      }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') throw new ImperaError('BAD_ARGUMENT', `cannot listen on ${o.host}:${o.port} (${e.code})`, 'choose another --port or --host');
        throw e;
      });
      if (o.json) process.stdout.write(`${JSON.stringify({ url: server.url, port: server.port, edgePage: edgePage ? `${server.url}${EDGE_PAGE_PATH}` : null, models: models.map((m) => ({ name: m.name, version: m.version, maxBatch: m.maxBatch, batchDelayMs: m.batchDelayMs ?? null, wire: m.wire?.spec.name ?? null, metadata: m.metadata })) })}\n`);
      else process.stdout.write(`${describe(server, { tokens: accepted.length, tls: !!tls })}body limit ${fmtBytes(o.bodyLimit)}, queue ${o.maxQueue}, ${o.workers} worker${o.workers > 1 ? 's' : ''}\n${edgePage ? `browser edge at ${server.url}${EDGE_PAGE_PATH}\n` : ''}`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}

