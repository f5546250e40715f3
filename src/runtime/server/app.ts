/**
 * The tail server: the Open Inference Protocol over HTTP/REST (health, server and model metadata, model ready,
 * infer; JSON and Triton's binary tensor data) plus impera's WebSocket stream, in front of a pool of ONNX Runtime
 * worker processes. Security and limits: bearer tokens on everything but the health probes, optional TLS, a body
 * limit (413), a bounded queue (429 + Retry-After), whole-request and keep-alive timeouts (a client that sends too
 * slowly gets 408 and is closed), and every tensor checked against the model before it reaches ONNX Runtime.
 * Every error is the protocol's `{"error": "..."}` with a 4xx/5xx status.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { VERSION } from '../../util/package.js';
import { type EncodedBody, HEADER_LENGTH, joinBody, parseHeaderLength } from '../protocol/body.js';
import { isProtocolError, ProtocolError } from '../protocol/errors.js';
import { EXTENSIONS } from '../protocol/extensions.js';
import { decodeRequest, encodeResponse, rawRequest, wantsBinary, type DecodedRequest, type ServerMetadata } from '../protocol/messages.js';
import { errorMessage, frameMessage, STREAM_PATH, unframeMessage } from '../protocol/stream.js';
import { bearerCheck } from './auth.js';
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
}

export const SERVER_DEFAULTS = {
  bodyLimit: 32 * 1024 * 1024,
  maxQueue: 256,
  workers: 1,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
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
/** How long a closing server lets running inferences finish. */
const SHUTDOWN_GRACE_MS = 5000;

function errorStatus(e: unknown): { status: number; message: string; retryAfterS?: number } {
  if (isProtocolError(e)) return { status: e.status, message: e.oneLine(), ...(e.retryAfterS !== undefined ? { retryAfterS: e.retryAfterS } : {}) };
  const fe = e as FastifyError;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, message: fe.message };
  return { status: 500, message: `internal error: ${(e as Error).message}` };
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

function routes(app: FastifyInstance, table: ModelTable, scheduler: Scheduler, state: { ready: boolean }): void {
  const metadata: ServerMetadata = { name: 'impera', version: VERSION, extensions: EXTENSIONS };
  app.get('/v2', async () => metadata);
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => reply.code(state.ready ? 200 : 503).send({ ready: state.ready }));

  type ModelParams = { name: string; version?: string };
  const model = (req: FastifyRequest) => {
    const p = req.params as ModelParams;
    return table.get(p.name, p.version);
  };
  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, async (req) => model(req).metadata);
    app.get(`${prefix}/ready`, async (req) => ({ name: model(req).name, ready: state.ready }));
    app.post(`${prefix}/infer`, async (req, reply) => {
      const m = model(req);
      const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
      const headerLength = parseHeaderLength(req.headers[HEADER_LENGTH], body.length);
      const decoded: DecodedRequest = headerLength === 0 ? rawRequest(body, onlyInput(m), m.maxBatch > 1) : decodeRequest(body, headerLength);
      if (decoded.modelName !== undefined && decoded.modelName !== m.name) throw new ProtocolError(400, `the body names model '${decoded.modelName}' but the URL names '${m.name}'`);
      const res = await infer(scheduler, m, decoded, () => req.raw.socket.destroyed);
      return sendBody(reply, encodeResponse(res, (name) => wantsBinary(decoded, name)));
    });
  }
}

function onlyInput(m: ServedModel) {
  if (m.metadata.inputs.length !== 1) throw new ProtocolError(400, `a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; '${m.name}' has ${m.metadata.inputs.length}`);
  return m.metadata.inputs[0]!;
}

function streamRoute(app: FastifyInstance, table: ModelTable, scheduler: Scheduler): void {
  app.get(STREAM_PATH, { websocket: true }, (socket: WebSocket) => {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      void (async () => {
        let id: string | undefined;
        try {
          if (!isBinary) throw new ProtocolError(400, 'stream messages are binary: [u32 JSON length][JSON][binary data]');
          const { body, headerLength } = unframeMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
          const decoded = decodeRequest(body, headerLength === body.length ? undefined : headerLength);
          id = decoded.id;
          const res = await infer(scheduler, table.get(decoded.modelName, decoded.modelVersion), decoded, () => socket.readyState !== socket.OPEN);
          socket.send(frameMessage(encodeResponse(res, (name) => wantsBinary(decoded, name))));
        } catch (e) {
          const { status, message, retryAfterS } = errorStatus(e);
          if (socket.readyState === socket.OPEN) socket.send(errorMessage(id ?? (isProtocolError(e) ? e.requestId : undefined), new ProtocolError(status, message, undefined, retryAfterS)));
        }
      })();
    });
  });
}

/** Start serving `o.models`: workers loaded and warm, then listening. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const pool = await InferencePool.start(o.models, { workers: o.workers, threads: o.threads });
  const scheduler = new Scheduler((task) => pool.run(task), { maxQueue: o.maxQueue, slots: o.workers });
  const table = new ModelTable(o.models);
  const state = { ready: false };
  const authorized = bearerCheck(o.tokens);
  const app = Fastify({ bodyLimit: o.bodyLimit, logger: false, serverFactory: httpServerFactory(o), return503OnClosing: true, forceCloseConnections: true });
  // first: its hooks mark upgrade requests so a refused upgrade's socket is closed after the answer
  await app.register(websocket, { options: { maxPayload: o.bodyLimit + 4 } });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', async (req, reply) => {
    if (HEALTH.test(req.routeOptions.url ?? '') || authorized(req.headers.authorization)) return; // the matched route, not the raw URL
    return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token (send Authorization: Bearer <token>)' });
  });
  app.setErrorHandler((e, _req, reply) => {
    const { status, message, retryAfterS } = errorStatus(e);
    if (retryAfterS !== undefined) reply.header('retry-after', String(retryAfterS));
    return reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.slice(0, 200)}` }));
  routes(app, table, scheduler, state);
  streamRoute(app, table, scheduler);
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

