/**
 * Open Inference Protocol clients: HTTP/REST with JSON tensors, HTTP/REST with Triton's binary tensor data, and
 * impera's WebSocket stream. They talk to `impera serve` or to any server of the protocol (Triton, KServe) and
 * count the bytes they put on the wire. Failures are classified so the edge runner can react: the server is
 * unreachable, too slow (timeout), overloaded (429, with its Retry-After), rejected the request (4xx), or failed
 * (5xx). A 200 whose body is not an inference response (not JSON, the wrong shape, data that does not decode) is
 * a server failure too, so every call ends in a response or a CallError.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { ImperaError } from '../../errors.js';
import { type EncodedBody, HEADER_LENGTH, joinBody, parseHeaderLength } from '../protocol/body.js';
import { decodeResponse, encodeRequest, type InferResponse } from '../protocol/messages.js';
import { frameMessage, STREAM_PATH, unframeMessage } from '../protocol/stream.js';
import type { InferTensor } from '../protocol/tensor.js';

export const PROTOCOLS = ['json', 'binary', 'websocket'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export type FailureKind = 'unreachable' | 'timeout' | 'overloaded' | 'rejected' | 'server';

/** A call that did not produce a response. */
export class CallError extends ImperaError {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly status?: number,
    readonly retryAfterS?: number,
  ) {
    super(kind === 'unreachable' || kind === 'timeout' ? 'SERVER_UNREACHABLE' : 'SERVER_ERROR', message);
  }
}

export interface ClientOptions {
  url: string;
  protocol: Protocol;
  token?: string;
  /** Extra CA certificates to trust (PEM), for a server with its own certificate. */
  ca?: Buffer;
  /** Largest response accepted (bytes). */
  maxResponseBytes?: number;
}

export interface InferCall {
  model: string;
  version?: string;
  inputs: InferTensor[];
  /** Give up after this long (ms). */
  timeoutMs: number;
}

export interface InferReply {
  response: InferResponse;
  /** Bytes written and read on the connection for this call (HTTP: headers included; stream: message payloads). */
  sentBytes: number;
  receivedBytes: number;
}

export interface InferenceClient {
  infer(call: InferCall): Promise<InferReply>;
  /** Is the server ready (GET /v2/health/ready)? */
  ready(timeoutMs: number): Promise<boolean>;
  /** Does the server serve `model` (GET /v2/models/NAME/ready: 200 yes, 404 no)? undefined: it did not say (unreachable, other answers). */
  serves(model: string, timeoutMs: number): Promise<boolean | undefined>;
  close(): void;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ETIMEDOUT']);

function classify(e: unknown, what: string): CallError {
  if (e instanceof CallError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (UNREACHABLE.has(code) || /socket hang up|closed/i.test((e as Error).message)) return new CallError('unreachable', `${what}: ${(e as Error).message}`);
  return new CallError('server', `${what}: ${(e as Error).message}`);
}

/** A 4xx/5xx answer as a CallError (the protocol's error object, when there is one). */
export function answerError(status: number, body: Buffer, retryAfter: string | undefined): CallError {
  let message = body.toString('utf8', 0, 500);
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // not JSON: keep the text
  }
  const retry = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  const kind: FailureKind = status === 429 || status === 503 ? 'overloaded' : status < 500 ? 'rejected' : 'server';
  return new CallError(kind, `the server answered ${status}: ${message}`, status, retry);
}

/** A 200 answer decoded as an inference response; one that does not decode is the server's failure. */
function decodeAnswer(what: string, decode: () => InferResponse): InferResponse {
  try {
    return decode();
  } catch (e) {
    throw new CallError('server', `${what} is not a valid inference response: ${(e as Error).message}`);
  }
}

const inferPath = (c: InferCall): string => `/v2/models/${encodeURIComponent(c.model)}${c.version ? `/versions/${encodeURIComponent(c.version)}` : ''}/infer`;

/** HTTP/REST client over one keep-alive connection pool. */
export class HttpClient implements InferenceClient {
  private readonly agent: HttpAgent;
  private readonly base: URL;

  constructor(private readonly o: ClientOptions) {
    this.base = new URL(o.url);
    const https = this.base.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true, ...(o.ca ? { ca: o.ca } : {}) }) : new HttpAgent({ keepAlive: true });
  }

  private send(method: string, path: string, body: Buffer | undefined, headers: Record<string, string>, timeoutMs: number): Promise<{ res: IncomingMessage; body: Buffer; sent: number; received: number }> {
    const request = this.base.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let socket: Socket | undefined;
      let written = 0;
      let read = 0;
      const req = request(new URL(path, this.base), {
        method,
        agent: this.agent,
        headers: { ...headers, ...(this.o.token ? { authorization: `Bearer ${this.o.token}` } : {}), ...(body ? { 'content-length': String(body.length) } : {}) },
      });
      const timer = setTimeout(() => req.destroy(new CallError('timeout', `no answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
      req.on('socket', (s: Socket) => {
        s.setNoDelay(true); // Nagle would hold a request's last segment for the previous one's ACK
        socket = s;
        written = s.bytesWritten;
        read = s.bytesRead;
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(classify(e, `${method} ${path}`));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        const limit = this.o.maxResponseBytes ?? 1 << 30;
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) req.destroy(new CallError('server', `the response is larger than ${limit} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ res, body: Buffer.concat(chunks, size), sent: socket ? socket.bytesWritten - written : 0, received: socket ? socket.bytesRead - read : size });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(classify(e, `${method} ${path}`));
        });
      });
      req.end(body);
    });
  }

  async infer(call: InferCall): Promise<InferReply> {
    const encoded: EncodedBody = encodeRequest({ inputs: call.inputs }, { binaryInputs: this.o.protocol !== 'json' });
    const headers: Record<string, string> = encoded.headerLength !== undefined
      ? { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(encoded.headerLength) }
      : { 'content-type': 'application/json' };
    const { res, body, sent, received } = await this.send('POST', inferPath(call), joinBody(encoded), headers, call.timeoutMs);
    if (res.statusCode !== 200) throw answerError(res.statusCode ?? 0, body, res.headers['retry-after'] as string | undefined);
    const response = decodeAnswer("the server's 200 answer", () => decodeResponse(body, parseHeaderLength(res.headers[HEADER_LENGTH], body.length)));
    return { response, sentBytes: sent, receivedBytes: received };
  }

  async ready(timeoutMs: number): Promise<boolean> {
    try {
      const { res } = await this.send('GET', '/v2/health/ready', undefined, {}, timeoutMs);
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  async serves(model: string, timeoutMs: number): Promise<boolean | undefined> {
    try {
      const { res } = await this.send('GET', `/v2/models/${encodeURIComponent(model)}/ready`, undefined, {}, timeoutMs);
      return res.statusCode === 200 ? true : res.statusCode === 404 ? false : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

interface Pending {
  resolve: (r: InferReply) => void;
  reject: (e: CallError) => void;
  timer: NodeJS.Timeout;
  sent: number;
}

/** impera's WebSocket stream: one connection, requests matched to responses by id. */
export class StreamClient implements InferenceClient {
  private socket: WebSocket | undefined;
  private opening: Promise<WebSocket> | undefined;
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private readonly http: HttpClient;

  constructor(private readonly o: ClientOptions) {
    this.http = new HttpClient(o);
  }

  private open(timeoutMs: number): Promise<WebSocket> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    this.opening ??= new Promise<WebSocket>((resolve, reject) => {
      const url = new URL(STREAM_PATH, this.o.url);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, ...(this.o.ca ? { ca: this.o.ca } : {}), headers: this.o.token ? { authorization: `Bearer ${this.o.token}` } : {} });
      ws.binaryType = 'nodebuffer';
      ws.once('open', () => {
        this.socket = ws;
        this.opening = undefined;
        resolve(ws);
      });
      ws.on('message', (data: Buffer) => this.onMessage(data));
      // the server refused the upgrade (401, 404, ...): read its error, then drop the request (ws leaves that to us)
      ws.on('unexpected-response', (req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          ws.emit('error', answerError(res.statusCode ?? 0, Buffer.concat(chunks), res.headers['retry-after'] as string | undefined));
        });
      });
      ws.on('error', (e) => {
        this.opening = undefined;
        reject(classify(e, 'the stream'));
      });
      ws.on('close', (code: number, reason: Buffer) => {
        this.opening = undefined;
        if (this.socket === ws) this.socket = undefined;
        // the server's reason (e.g. 1008: answers left unread) says why; a dropped connection has none
        const why = reason.length ? ` by the server (${code}: ${reason.toString()})` : '';
        this.failAll(new CallError('unreachable', `the stream connection closed${why}`));
      });
    });
    return this.opening;
  }

  private failAll(e: CallError): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(e);
    }
  }

  private onMessage(data: Buffer): void {
    let header: { id?: unknown; error?: unknown; status?: unknown; retry_after_s?: unknown };
    let frame: ReturnType<typeof unframeMessage>;
    try {
      frame = unframeMessage(data);
      header = JSON.parse(Buffer.from(frame.body.subarray(0, frame.headerLength)).toString('utf8'));
    } catch {
      return this.failAll(new CallError('server', 'the server sent a stream message that is not [u32 length][JSON][data]'));
    }
    const p = typeof header.id === 'string' ? this.pending.get(header.id) : undefined;
    if (!p) return header.error !== undefined && header.id === undefined ? this.failAll(new CallError('rejected', `the server answered: ${String(header.error)}`)) : undefined;
    this.pending.delete(header.id as string);
    clearTimeout(p.timer);
    if (header.error !== undefined) {
      const status = typeof header.status === 'number' ? header.status : 500;
      const body = Buffer.from(JSON.stringify({ error: header.error }));
      return p.reject(answerError(status, body, typeof header.retry_after_s === 'number' ? String(header.retry_after_s) : undefined));
    }
    try {
      const response = decodeAnswer("the server's stream answer", () => decodeResponse(frame.body, frame.headerLength === frame.body.length ? undefined : frame.headerLength));
      p.resolve({ response, sentBytes: p.sent, receivedBytes: data.length });
    } catch (e) {
      p.reject(e as CallError);
    }
  }

  async infer(call: InferCall): Promise<InferReply> {
    const started = performance.now();
    const ws = await this.open(call.timeoutMs);
    const id = String(this.nextId++);
    const message = frameMessage(encodeRequest({ id, inputs: call.inputs }, { modelName: call.model, ...(call.version ? { modelVersion: call.version } : {}), binaryInputs: true }));
    return new Promise<InferReply>((resolve, reject) => {
      const left = Math.max(1, call.timeoutMs - (performance.now() - started));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CallError('timeout', `no answer within ${Math.round(call.timeoutMs)} ms`));
      }, left);
      this.pending.set(id, { resolve, reject, timer, sent: message.length });
      ws.send(message, (e) => {
        if (!e) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(classify(e, 'the stream'));
      });
    });
  }

  ready(timeoutMs: number): Promise<boolean> {
    return this.http.ready(timeoutMs);
  }

  serves(model: string, timeoutMs: number): Promise<boolean | undefined> {
    return this.http.serves(model, timeoutMs);
  }

  close(): void {
    this.failAll(new CallError('unreachable', 'the client closed'));
    this.socket?.terminate();
    this.socket = undefined;
    this.http.close();
  }
}

export const createClient = (o: ClientOptions): InferenceClient => (o.protocol === 'websocket' ? new StreamClient(o) : new HttpClient(o));
