/**
 * The tail server: the Open Inference Protocol over HTTP/REST (health, server and model metadata, model ready,
 * infer; JSON and Triton's binary tensor data) plus impera's WebSocket stream, in front of a pool of ONNX Runtime
 * worker processes. Security and limits: bearer tokens on everything but the health probes, optional TLS, a body
 * limit (413), a bounded queue (429 + Retry-After), whole-request and keep-alive timeouts (a client that sends too
 * slowly gets 408 and is closed), a deadline on every inference (504), JSON depth and tensor-count limits checked
 * before parsing, a stream that closes (1008) on a client that stops reading its answers, and every tensor
 * checked against the model before it reaches ONNX Runtime. Every error - fastify's and Node's own included - is
 * the protocol's `{"error": "..."}` with a 4xx/5xx status. An access log (one JSON line per request on stderr) is
 * optional; server errors (5xx) are always logged.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { ImperaError } from '../../errors.js';
import { VERSION } from '../../util/package.js';
import { type EncodedBody, HEADER_LENGTH, joinBody, parseHeaderLength } from '../protocol/body.js';
import { isProtocolError, ProtocolError } from '../protocol/errors.js';
import { EXTENSIONS, TIMING } from '../protocol/extensions.js';
import { JSON_LIMITS, type JsonLimits } from '../protocol/limits.js';
import { decodeRequest, encodeResponse, rawRequest, wantsBinary, type DecodedRequest, type ServerMetadata } from '../protocol/messages.js';
import { errorMessage, frameMessage, STREAM_PATH, unframeMessage } from '../protocol/stream.js';
import { registerEdgePage, type EdgePage } from '../browser/edge-page.js';
import { bearerCheck, checkTokens } from './auth.js';
import { infer, ModelTable } from './infer.js';
import type { ServedModel } from './model.js';
import { InferencePool } from './pool.js';
import { Scheduler } from './scheduler.js';

export interface ServerOptions {
  models: ServedModel[];
  host: string;
  /** 0: any free port. */
  port: number;
  /** Bearer tokens; empty: no authentication. */
  tokens: string[];
  tls?: { cert: Buffer; key: Buffer };
  /** Largest request body (bytes); larger ones get 413. */
  bodyLimit: number;
  /** Requests that may wait for a worker; more get 429. */
  maxQueue: number;
  workers: number;
  /** ONNX Runtime intra-op threads per worker. */
  threads: number;
  /** A request's headers and body must arrive within this (ms), else 408 and the connection is closed. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this (ms). */
  keepAliveTimeoutMs: number;
  /** A request not answered within this (ms), queueing included, gets 504. */
  inferenceTimeoutMs: number;
  /** Deepest JSON nesting of a request (400 beyond, refused before parsing). */
  maxJsonDepth: number;
  /** Most tensors a request may list under "inputs" (and under "outputs"). */
  maxTensors: number;
  /**
   * A stream whose unsent answers pass half this many bytes (or with STREAM_MAX_PENDING requests unanswered) is not
   * read until they drain; past it, or without any answer read for STREAM_STALL_MS meanwhile (the client stopped
   * reading), it is closed with 1008.
   */
  streamBufferLimit: number;
  /** Log every request as a JSON line; server errors (5xx) are logged either way. */
  accessLog: boolean;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
  /** Serve the browser edge page at /edge/ (runtime/browser/edge-page.ts). */
  edgePage?: EdgePage;
}

export const SERVER_DEFAULTS = {
  bodyLimit: 32 * 1024 * 1024,
  maxQueue: 256,
  workers: 1,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  inferenceTimeoutMs: 60_000,
  maxJsonDepth: JSON_LIMITS.maxDepth,
  maxTensors: JSON_LIMITS.maxTensors,
  streamBufferLimit: 16 * 1024 * 1024,
  accessLog: false,
} as const;

/** The ranges the CLI allows for the limits (a deadline beyond 2^31 ms would overflow Node's timers). */
export const SERVER_LIMITS = {
  inferenceTimeoutMs: [1, 3_600_000],
  maxJsonDepth: [4, 1000],
  maxTensors: [1, 1_000_000],
} as const;

export interface RunningServer {
  url: string;
  port: number;
  models: readonly ServedModel[];
  /** Requests waiting and running now. */
  load(): { queued: number; inFlight: number };
  close(): Promise<void>;
}

const HEALTH = /^\/v2\/health\//;
/** WebSocket close code for a client that does not read its answers (RFC 6455 7.4.1: policy violation). */
export const STREAM_NOT_READ = 1008;
/** How long a stream whose reading is stopped may go without its client reading any answer before it is closed. */
export const STREAM_STALL_MS = 3000;
/** Unanswered requests of one stream beyond which the server stops reading it until answers go out. */
export const STREAM_MAX_PENDING = 64;
/** How long a closing server lets running inferences finish. */
const SHUTDOWN_GRACE_MS = 5000;

function errorStatus(e: unknown): { status: number; message: string; retryAfterS?: number } {
  if (isProtocolError(e)) return { status: e.status, message: e.oneLine(), ...(e.retryAfterS !== undefined ? { retryAfterS: e.retryAfterS } : {}) };
  const fe = e as FastifyError;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, message: fe.message };
  return { status: 500, message: `internal error: ${(e as Error).message}` };
}

/** One log line: what happened to a request, as JSON. */
export interface LogEntry {
  method: string;
  url: string;
  status: number;
  ms: number;
  id?: string;
  error?: string;
}

/** The access log: every entry when on, server errors always. */
function accessLogger(o: ServerOptions): (entry: LogEntry) => void {
  const write = o.log ?? ((line: string) => void process.stderr.write(line));
  return (entry) => {
    if (o.accessLog || entry.status >= 500) write(`${JSON.stringify({ time: new Date().toISOString(), ...entry, url: entry.url.slice(0, 200), ms: +entry.ms.toFixed(2) })}\n`);
  };
}

/** Node's own refusals (header too large, unparsable request, slow client) in the protocol's shape. */
function clientErrorHandler(logEntry: (entry: LogEntry) => void) {
  return (e: NodeJS.ErrnoException, socket: Socket): void => {
    if (e.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, message] = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'the request did not arrive in time']
      : e.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'the request line and headers are too large']
      : [400, 'Bad Request', `the request is not valid HTTP (${e.code ?? e.message})`];
    const body = JSON.stringify({ error: message });
    if (socket.writable) socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
    logEntry({ method: '-', url: '-', status, ms: 0, error: message });
    socket.destroy(e);
  };
}

/** The certificate and key as TLS will use them: unreadable PEM or a key that is not the certificate's is refused here. */
function checkTls(tls: { cert: Buffer; key: Buffer }): void {
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (e) {
    throw new ImperaError('BAD_ARGUMENT', `the TLS certificate and key cannot be used: ${(e as Error).message}`, 'give a PEM certificate (--tls-cert) and its own private key in PEM (--tls-key)');
  }
}

function sendBody(reply: FastifyReply, body: EncodedBody): FastifyReply {
  if (body.headerLength !== undefined) reply.header('content-type', 'application/octet-stream').header(HEADER_LENGTH, String(body.headerLength));
  else reply.header('content-type', 'application/json');
  return reply.send(joinBody(body));
}

function httpServerFactory(o: ServerOptions) {
  const settings = { requestTimeout: o.requestTimeoutMs, headersTimeout: o.requestTimeoutMs, keepAliveTimeout: o.keepAliveTimeoutMs, connectionsCheckingInterval: Math.min(1000, o.requestTimeoutMs / 2) };
  return (handler: (req: IncomingMessage, res: ServerResponse) => void): Server =>
    o.tls ? createHttps({ ...settings, cert: o.tls.cert, key: o.tls.key }, handler) : createHttp(settings, handler);
}

/** When a request's headers were read, and the socket's bytes read by then. */
interface Arrival {
  atMs: number;
  bytesRead: number;
}

/** What the routes share: the models, the queue, the request limits, and when each request arrived. */
interface Serving {
  table: ModelTable;
  scheduler: Scheduler;
  limits: JsonLimits;
  timeoutMs: number;
  arrivals: WeakMap<FastifyRequest, Arrival>;
}

/**
 * The body's arrival as this server saw it (impera_timing): the bytes read after the headers' read, and the time
 * they took to come. Over a link the body arrives spread over its transfer, so these two give the uplink's rate
 * free of what the client spends around the request (its own CPU, the RTT); a body that came in the headers' read
 * gives 0 bytes.
 */
function bodyArrival(s: Serving, req: FastifyRequest): Record<string, number> {
  const a = s.arrivals.get(req);
  if (!a) return {};
  return { [TIMING.receive]: performance.now() - a.atMs, [TIMING.receiveBytes]: req.raw.socket.bytesRead - a.bytesRead };
}

function routes(app: FastifyInstance, s: Serving, state: { ready: boolean }): void {
  const metadata: ServerMetadata = { name: 'impera', version: VERSION, extensions: EXTENSIONS };
  app.get('/v2', async () => metadata);
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => reply.code(state.ready ? 200 : 503).send({ ready: state.ready }));

  type ModelParams = { name: string; version?: string };
  const model = (req: FastifyRequest) => {
    const p = req.params as ModelParams;
    return s.table.get(p.name, p.version);
  };
  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, async (req) => model(req).metadata);
    app.get(`${prefix}/ready`, async (req) => ({ name: model(req).name, ready: state.ready }));
    app.post(`${prefix}/infer`, async (req, reply) => {
      const m = model(req);
      const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
      const headerLength = parseHeaderLength(req.headers[HEADER_LENGTH], body.length);
      const decoded: DecodedRequest = headerLength === 0 ? rawRequest(body, onlyInput(m), m.maxBatch > 1) : decodeRequest(body, headerLength, s.limits);
      if (decoded.modelName !== undefined && decoded.modelName !== m.name) throw new ProtocolError(400, `the body names model '${decoded.modelName}' but the URL names '${m.name}'`);
      const arrival = bodyArrival(s, req);
      const res = await infer(s.scheduler, m, decoded, () => req.raw.socket.destroyed, s.timeoutMs);
      return sendBody(reply, encodeResponse({ ...res, parameters: { ...res.parameters, ...arrival } }, (name) => wantsBinary(decoded, name)));
    });
  }
}

function onlyInput(m: ServedModel) {
  if (m.metadata.inputs.length !== 1) throw new ProtocolError(400, `a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; '${m.name}' has ${m.metadata.inputs.length}`);
  return m.metadata.inputs[0]!;
}

function streamRoute(app: FastifyInstance, s: Serving, o: ServerOptions, logEntry: (entry: LogEntry) => void): void {
  app.get(STREAM_PATH, { websocket: true }, (socket: WebSocket) => {
    // Backpressure: the stream is not read while STREAM_MAX_PENDING of its requests are unanswered or half the
    // limit of its answers is unsent (TCP then pushes back on the client), and read again when both have drained.
    // It is closed (1008) when the unsent answers pass the limit, or make no progress for STREAM_STALL_MS (a slow
    // link drains; a client that stopped reading does not).
    let pending = 0;
    let stall: NodeJS.Timeout | undefined;
    const backlogged = (): boolean => socket.bufferedAmount > o.streamBufferLimit / 2;
    const close = (why: string): void => {
      socket.close(STREAM_NOT_READ, 'the client is not reading its answers');
      setTimeout(() => socket.terminate(), 2000).unref(); // the close frame itself may never get through
      logEntry({ method: 'WS', url: STREAM_PATH, status: STREAM_NOT_READ, ms: 0, error: `closed: ${socket.bufferedAmount} bytes of answers unread (limit ${o.streamBufferLimit})${why}` });
    };
    const watchStall = (unsent: number): void => {
      stall = setTimeout(() => {
        stall = undefined;
        if (socket.readyState !== socket.OPEN || !backlogged()) return;
        if (socket.bufferedAmount >= unsent) return close(`, none read for ${STREAM_STALL_MS} ms`);
        watchStall(socket.bufferedAmount);
      }, STREAM_STALL_MS).unref();
    };
    const adjust = (): void => {
      if (socket.readyState !== socket.OPEN) return;
      if (pending >= STREAM_MAX_PENDING || backlogged()) {
        if (!socket.isPaused) socket.pause();
      } else if (socket.isPaused && pending < STREAM_MAX_PENDING / 2 && socket.bufferedAmount < o.streamBufferLimit / 4) {
        socket.resume();
      }
      if (backlogged() && !stall) watchStall(socket.bufferedAmount);
    };
    const answer = (frame: Uint8Array): void => {
      pending--;
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > o.streamBufferLimit) return close('');
      socket.send(frame, adjust);
      adjust();
    };
    socket.once('close', () => clearTimeout(stall));
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (socket.readyState !== socket.OPEN) return; // closing: what arrives now is not answered
      pending++;
      adjust();
      void (async () => {
        const start = performance.now();
        let id: string | undefined;
        try {
          if (!isBinary) throw new ProtocolError(400, 'stream messages are binary: [u32 JSON length][JSON][binary data]');
          const { body, headerLength } = unframeMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
          const decoded = decodeRequest(body, headerLength === body.length ? undefined : headerLength, s.limits);
          id = decoded.id;
          const res = await infer(s.scheduler, s.table.get(decoded.modelName, decoded.modelVersion), decoded, () => socket.readyState !== socket.OPEN, s.timeoutMs);
          answer(frameMessage(encodeResponse(res, (name) => wantsBinary(decoded, name))));
          logEntry({ method: 'WS', url: STREAM_PATH, status: 200, ms: performance.now() - start, ...(id !== undefined ? { id } : {}) });
        } catch (e) {
          const { status, message, retryAfterS } = errorStatus(e);
          id ??= isProtocolError(e) ? e.requestId : undefined;
          answer(errorMessage(id, new ProtocolError(status, message, undefined, retryAfterS)));
          logEntry({ method: 'WS', url: STREAM_PATH, status, ms: performance.now() - start, ...(id !== undefined ? { id } : {}), error: message });
        }
      })();
    });
  });
}

/** Start serving `o.models`: workers loaded and warm, then listening. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  checkTokens(o.tokens);
  if (o.tls) checkTls(o.tls);
  // browsers cannot put an Authorization header on a WebSocket
  if (o.edgePage && o.tokens.length) throw new ImperaError('BAD_ARGUMENT', 'the browser edge page cannot send a bearer token on its WebSocket, so it cannot be served with tokens', 'serve the page without --token (on a private address), or use impera edge');
  const pool = await InferencePool.start(o.models, { workers: o.workers, threads: o.threads });
  const scheduler = new Scheduler((task) => pool.run(task), { maxQueue: o.maxQueue, slots: o.workers });
  const serving: Serving = { table: new ModelTable(o.models), scheduler, limits: { maxDepth: o.maxJsonDepth, maxTensors: o.maxTensors }, timeoutMs: o.inferenceTimeoutMs, arrivals: new WeakMap() };
  const state = { ready: false };
  const authorized = bearerCheck(o.tokens);
  const logEntry = accessLogger(o);
  /** The message of a request's error, for its log line. */
  const errors = new WeakMap<FastifyRequest, string>();
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    logger: false,
    serverFactory: httpServerFactory(o),
    return503OnClosing: true,
    forceCloseConnections: true,
    clientErrorHandler: clientErrorHandler(logEntry),
    // a bad percent-encoding, a path segment too long: fastify's own refusals, in the protocol's shape
    frameworkErrors: (e, req, reply) => {
      errors.set(req, e.message);
      return (reply as FastifyReply).code(e.statusCode ?? 400).send({ error: e.message });
    },
  });
  // first: its hooks mark upgrade requests so a refused upgrade's socket is closed after the answer
  await app.register(websocket, { options: { maxPayload: o.bodyLimit + 4 } });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', async (req) => {
    serving.arrivals.set(req, { atMs: performance.now(), bytesRead: req.raw.socket.bytesRead });
  });
  app.addHook('onRequest', async (req, reply) => {
    if (HEALTH.test(req.routeOptions.url ?? '') || authorized(req.headers.authorization)) return; // the matched route, not the raw URL
    return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token (send Authorization: Bearer <token>)' });
  });
  app.addHook('onResponse', async (req, reply) => {
    const error = errors.get(req);
    logEntry({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime, ...(error !== undefined ? { error } : {}) });
  });
  app.setErrorHandler((e, req, reply) => {
    const { status, message, retryAfterS } = errorStatus(e);
    errors.set(req, message);
    if (retryAfterS !== undefined) reply.header('retry-after', String(retryAfterS));
    return reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.slice(0, 200)}` }));
  routes(app, serving, state);
  streamRoute(app, serving, o, logEntry);
  if (o.edgePage) registerEdgePage(app, o.edgePage);
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (e) {
    await pool.close();
    throw e;
  }
  state.ready = true;
  const port = (app.server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    models: o.models,
    load: () => ({ queued: scheduler.queued, inFlight: scheduler.inFlight }),
    async close() {
      state.ready = false;
      scheduler.drain(new ProtocolError(503, 'the server is shutting down'));
      await scheduler.idle(SHUTDOWN_GRACE_MS); // answer what is running, then cut every connection
      await app.close();
      await pool.close();
    },
  };
}

