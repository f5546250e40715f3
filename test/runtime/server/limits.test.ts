/**
 * The server's limits against requests that cost more than they should (issue 14): deep JSON and many tensors
 * refused with a 400 before parsing (the stream keeping the request's id), an inference deadline (504), a
 * stream client that stops reading closed with 1008, configurations no client could use refused at start, every
 * refusal of fastify and Node in the protocol's `{"error": ...}` shape, and the access log.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { hostileStreamMessages } from '../../../src/harness/hostile.js';
import { joinBody } from '../../../src/runtime/protocol/body.js';
import { encodeRequest } from '../../../src/runtime/protocol/messages.js';
import { frameMessage, STREAM_PATH, unframeMessage } from '../../../src/runtime/protocol/stream.js';
import { STREAM_NOT_READ, type LogEntry, type RunningServer } from '../../../src/runtime/server/app.js';
import { cutInputs, errorOf, send, serve, splitRepo, type SplitRepo } from '../../helpers/runtime.js';

let repo: SplitRepo;
let server: RunningServer;
const logged: LogEntry[] = [];
const infer = { method: 'POST', path: '/v2/models/tail/infer' };
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  repo = await splitRepo();
  server = await serve(repo, { maxTensors: 16, accessLog: true, log: (line) => logged.push(JSON.parse(line) as LogEntry) });
});
afterAll(() => server.close());

/** A JSON request whose only tensor's data is `data` (raw JSON text). */
const withData = (data: string, id = 'r') => Buffer.from(`{"id": "${id}", "inputs": [{"name": "r1", "shape": [1, 4, 8, 8], "datatype": "FP32", "data": ${data}}]}`);

/** Open a stream; its messages are collected as decoded JSON. */
async function openStream(url: string): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + STREAM_PATH);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (m: Buffer) => {
    const { body, headerLength } = unframeMessage(m);
    messages.push(JSON.parse(body.subarray(0, headerLength).toString()) as Record<string, unknown>);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, messages };
}
const streamFrame = (text: Buffer) => frameMessage({ chunks: [text], headerLength: undefined, byteLength: text.length });

describe('request size and structure', () => {
  it('refuses JSON nested too deep inside tensor data with a 400, a million levels included', async () => {
    for (const data of [`[${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}]`, '['.repeat(1_000_000) + ']'.repeat(1_000_000)]) {
      const r = await send(server.url, { ...infer, headers: json, body: withData(data) });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body.toString())).toEqual({ error: expect.stringMatching(/^the JSON nests deeper than 32 levels/) });
    }
  });

  it('answers an object where a number belongs (within the depth limit) with a 400 naming the element', async () => {
    const r = await send(server.url, { ...infer, headers: json, body: withData(`[${'{"a":'.repeat(20)}1${'}'.repeat(20)}${',0'.repeat(255)}]`) });
    expect(r.status).toBe(400);
    expect(errorOf(r)).toBe('inputs[0].data[0] must be a number, got an object');
  });

  it('refuses more tensors than the limit with a 400 before decoding them', async () => {
    const tensor = { name: 'r1', shape: [1, 4, 8, 8], datatype: 'FP32', data: Array(256).fill(0) };
    const r = await send(server.url, { ...infer, headers: json, body: Buffer.from(JSON.stringify({ inputs: Array(17).fill(tensor) })) });
    expect(r.status).toBe(400);
    expect(errorOf(r)).toBe('the request lists more than 16 tensors under "inputs" (the server takes at most 16)');
  });

  it('answers deep JSON on the stream with a 400 that keeps the request id', async () => {
    const { ws, messages } = await openStream(server.url);
    ws.send(streamFrame(withData(`[${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}]`, 'deep-7')));
    await vi.waitFor(() => expect(messages).toHaveLength(1), { timeout: 10_000 });
    expect(messages[0]).toMatchObject({ id: 'deep-7', status: 400, error: expect.stringMatching(/nests deeper than 32 levels/) });
    ws.close();
  });
});

describe('hostile stream messages', () => {
  it('refuses each past-the-limits message with a 4xx error carrying its own id', async () => {
    const hostile = hostileStreamMessages({ model: 'tail', inputs: cutInputs(repo) }, 40, 3);
    expect(new Set(hostile.map((h) => h.kind))).toEqual(new Set(['deep JSON', 'many tensors']));
    const { ws, messages } = await openStream(server.url);
    for (const h of hostile) ws.send(h.message);
    await vi.waitFor(() => expect(messages).toHaveLength(hostile.length), { timeout: 20_000 });
    ws.close();
    const byId = new Map(messages.map((m) => [m.id, m]));
    for (const h of hostile) expect(byId.get(h.id), h.kind).toMatchObject({ status: 400, error: h.kind === 'deep JSON' ? expect.stringMatching(/nests deeper/) : expect.stringMatching(/more than 16 tensors/) });
  });
});

describe('deadlines and slow readers', () => {
  it('answers a request not done within the inference timeout with 504 and logs it even without the access log', async () => {
    const lines: LogEntry[] = [];
    // the batcher holds the request for 5 s, past its 200 ms deadline
    const slow = await serve(repo, { inferenceTimeoutMs: 200, log: (line) => lines.push(JSON.parse(line) as LogEntry) }, { maxBatch: 8, batchDelayMs: 5000 });
    try {
      const enc = encodeRequest({ inputs: cutInputs(repo) }, { binaryInputs: true });
      const r = await send(slow.url, { ...infer, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(enc.headerLength) }, body: joinBody(enc) });
      expect(r.status).toBe(504);
      expect(JSON.parse(r.body.toString())).toEqual({ error: expect.stringMatching(/^the inference did not finish within 200 ms/) });
      const ok = await send(slow.url, { method: 'GET', path: '/v2/health/live', headers: {} });
      expect(ok.status).toBe(200);
      expect(lines).toEqual([expect.objectContaining({ method: 'POST', url: '/v2/models/tail/infer', status: 504, error: expect.stringMatching(/within 200 ms/) })]);
    } finally {
      await slow.close();
    }
  });

  it('stops reading a stream whose client reads slowly, and answers every request once it reads again', async () => {
    const s = await serve(repo); // the default 16 MB: reading stops at 8 MB of unsent answers
    try {
      const { ws, messages } = await openStream(s.url);
      ws.pause();
      const requests = 300; // 100 kB answers, 30 MB in all
      for (let i = 0; i < requests; i++) ws.send(frameMessage(encodeRequest({ id: `${i}:${'x'.repeat(100_000)}`, inputs: cutInputs(repo) }, { binaryInputs: true, modelName: 'tail' })));
      await new Promise((resolve) => setTimeout(resolve, 1500)); // shorter than STREAM_STALL_MS
      ws.resume();
      await vi.waitFor(() => expect(messages).toHaveLength(requests), { timeout: 60_000, interval: 100 });
      expect(new Set(messages.map((m) => String(m.id).split(':')[0]))).toEqual(new Set(Array.from({ length: requests }, (_, i) => String(i))));
      expect(ws.readyState).toBe(ws.OPEN);
      ws.close();
    } finally {
      await s.close();
    }
  });

  it('closes a stream whose client stops reading its answers with 1008, keeping the answers it buffered bounded', async () => {
    const lines: LogEntry[] = [];
    const s = await serve(repo, { streamBufferLimit: 256 * 1024, log: (line) => lines.push(JSON.parse(line) as LogEntry) });
    try {
      const { ws, messages } = await openStream(s.url);
      const closed = new Promise<number>((resolve) => ws.once('close', resolve));
      ws.pause();
      // answers echo the id: 100 kB each, 30 MB in all, more than the kernel's socket buffers hold
      const requests = 300;
      for (let i = 0; i < requests; i++) {
        const enc = encodeRequest({ id: `${i}:${'x'.repeat(100_000)}`, inputs: cutInputs(repo) }, { binaryInputs: true, modelName: 'tail' });
        ws.send(frameMessage(enc));
      }
      await vi.waitFor(() => expect(lines.some((l) => l.status === STREAM_NOT_READ)).toBe(true), { timeout: 30_000, interval: 100 });
      ws.resume();
      expect(await closed).toBe(STREAM_NOT_READ);
      expect(messages.length).toBeGreaterThan(0);
      expect(messages.length).toBeLessThan(requests);
      expect(lines.find((l) => l.status === STREAM_NOT_READ)!.error).toMatch(/bytes of answers unread \(limit 262144\)/);
    } finally {
      await s.close();
    }
  });
});

describe('configurations no client could use are refused at start', () => {
  it.each([[''], ['two words'], ['tab\there'], ['ünïcode']])('a bearer token %j', async (token) => {
    await expect(serve(repo, { tokens: ['good', token] })).rejects.toThrow(/^the bearer token number 2 (is empty|has a space, a control or a non-ASCII character), so no client could authenticate$/);
  });

  it('TLS material that is garbage, truncated or a key of another certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-tls-'));
    const pair = (name: string) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
      return { cert: readFileSync(join(dir, `${name}.pem`)), key: readFileSync(join(dir, `${name}.key`)) };
    };
    const a = pair('a');
    const b = pair('b');
    for (const tls of [{ ...a, cert: Buffer.from('not a certificate') }, { ...a, cert: a.cert.subarray(0, 200) }, { ...a, key: a.key.subarray(0, 100) }, { cert: a.cert, key: b.key }]) {
      await expect(serve(repo, { tls })).rejects.toThrow(/^the TLS certificate and key cannot be used: /);
    }
  });
});

describe('errors in the protocol shape', () => {
  /** Raw bytes to the server; the status line and the body. */
  const raw = (text: string) =>
    new Promise<{ status: string; body: unknown }>((resolve) => {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      let answer = '';
      socket.on('data', (c: Buffer) => (answer += c.toString()));
      socket.on('close', () => resolve({ status: answer.split('\r\n')[0]!, body: JSON.parse(answer.split('\r\n\r\n')[1]!) }));
      socket.end(text);
    });
  const get = (path: string, headers = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`;

  it.each([
    ['a bad percent-encoding', get('/v2/models/%E0%A4%A/ready'), 400],
    ['a path segment too long', get(`/v2/models/${'a'.repeat(500)}/ready`), 414],
    ['headers too large', get('/v2', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431],
    ['an unknown route', get('/nope'), 404],
    ['a body over the limit', `POST /v2/models/tail/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 40000000\r\nConnection: close\r\n\r\n`, 413],
    ['a content type fastify cannot read', `POST /v2/models/tail/infer HTTP/1.1\r\nHost: x\r\nContent-Type: ;;;\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, 415],
    ['bytes that are not HTTP', 'HELLO\r\n\r\n', 400],
  ])('%s: status %i with {"error": ...}', async (_what, text, status) => {
    const r = await raw(text);
    expect(r.status).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(r.body).toEqual({ error: expect.any(String) });
  });
});

describe('the access log', () => {
  it('writes one JSON line per request with method, url, status and time, stream messages included', async () => {
    logged.length = 0;
    await send(server.url, { method: 'GET', path: '/v2/health/ready', headers: {} });
    await send(server.url, { ...infer, headers: json, body: Buffer.from('{') });
    const { ws, messages } = await openStream(server.url);
    ws.send(frameMessage(encodeRequest({ id: 'ok-1', inputs: cutInputs(repo) }, { binaryInputs: true, modelName: 'tail' })));
    await vi.waitFor(() => expect(messages).toHaveLength(1), { timeout: 10_000 });
    ws.close();
    await vi.waitFor(() => expect(logged.filter((l) => l.method === 'WS')).toHaveLength(1));
    expect(logged).toEqual(expect.arrayContaining([
      expect.objectContaining({ method: 'GET', url: '/v2/health/ready', status: 200, ms: expect.any(Number) }),
      expect.objectContaining({ method: 'POST', url: '/v2/models/tail/infer', status: 400, error: expect.stringMatching(/not valid JSON/) }),
      expect.objectContaining({ method: 'WS', url: STREAM_PATH, status: 200, id: 'ok-1' }),
    ]));
    for (const l of logged) expect(Object.keys(l)).toEqual(expect.arrayContaining(['time', 'method', 'url', 'status', 'ms']));
  });
});
