/**
 * The tail server as clients see it: the protocol's endpoints, correct results in every encoding, and every bad or
 * hostile request answered with a 4xx while correct requests keep being served.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallError, HttpClient, StreamClient } from '../../../src/runtime/edge/client.js';
import { hostileRequests } from '../../../src/harness/hostile.js';
import { ProxyPath, SEGMENT_BYTES } from '../../../src/harness/shaper/proxy.js';
import { joinBody } from '../../../src/runtime/protocol/body.js';
import { encodeRequest } from '../../../src/runtime/protocol/messages.js';
import { TIMING } from '../../../src/runtime/protocol/extensions.js';
import type { RunningServer } from '../../../src/runtime/server/app.js';
import { cutInputs, errorOf, send, serve, splitRepo, tailReference, type SplitRepo } from '../../helpers/runtime.js';

const TOKEN = 'test-token-7f3a';
let repo: SplitRepo;
let server: RunningServer;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  repo = await splitRepo();
  server = await serve(repo, { tokens: [TOKEN], bodyLimit: 64 * 1024 });
});
afterAll(() => server.close());

const binaryBody = (inputs = cutInputs(repo)) => {
  const enc = encodeRequest({ inputs }, { binaryInputs: true });
  return { headers: { ...auth, 'content-type': 'application/octet-stream', 'inference-header-content-length': String(enc.headerLength) }, body: joinBody(enc) };
};
const infer = { method: 'POST', path: '/v2/models/tail/infer' };

const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5);
};

describe('the protocol endpoints', () => {
  it('answers health probes without a token, and server metadata with the extensions it supports', async () => {
    expect(JSON.parse((await send(server.url, { method: 'GET', path: '/v2/health/live', headers: {} })).body.toString())).toEqual({ live: true });
    expect(JSON.parse((await send(server.url, { method: 'GET', path: '/v2/health/ready', headers: {} })).body.toString())).toEqual({ ready: true });
    const meta = JSON.parse((await send(server.url, { method: 'GET', path: '/v2', headers: auth })).body.toString());
    expect(meta).toMatchObject({ name: 'impera', extensions: expect.arrayContaining(['binary_tensor_data', 'impera_stream']) });
  });

  it('describes a model with -1 for its batch dim, with and without the version in the path', async () => {
    for (const path of ['/v2/models/tail', '/v2/models/tail/versions/1']) {
      const meta = JSON.parse((await send(server.url, { method: 'GET', path, headers: auth })).body.toString());
      expect(meta).toEqual({ name: 'tail', versions: ['1'], platform: 'onnx_onnxv1', inputs: [{ name: 'r1', datatype: 'FP32', shape: [-1, 4, 8, 8] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 5] }] });
    }
    expect(JSON.parse((await send(server.url, { method: 'GET', path: '/v2/models/tail/ready', headers: auth })).body.toString())).toEqual({ name: 'tail', ready: true });
    const missing = await send(server.url, { method: 'GET', path: '/v2/models/nope', headers: auth });
    expect(missing.status).toBe(404);
    expect(errorOf(missing)).toMatch(/no model 'nope'.*serves 'head', 'tail'/);
  });

  it('infers with binary and with JSON tensors, returning what the tail computes', async () => {
    const inputs = cutInputs(repo, 3);
    const expected = await tailReference(repo, inputs);
    for (const protocol of ['binary', 'json'] as const) {
      const client = new HttpClient({ url: server.url, protocol, token: TOKEN });
      const reply = await client.infer({ model: 'tail', inputs, timeoutMs: 10_000 });
      client.close();
      const y = reply.response.outputs[0]!;
      expect(y).toMatchObject({ name: 'y', datatype: 'FP32', shape: [3, 5] });
      close(y.data as Float32Array, expected);
      expect(reply.response.parameters?.[TIMING.compute]).toBeGreaterThan(0);
    }
  });

  it("reports the body's arrival over HTTP: bytes read after the headers, no faster than the link delivered them", async () => {
    // 8 kB of body (the most the tail takes) over a 0.5 Mb/s uplink: the segments after the headers' arrive over ~110 ms
    const path = new ProxyPath();
    try {
      await path.set({ upMbps: 0.5, downMbps: 100, delayMs: 1, loss: 0, downLoss: 0, overheadBytes: 0 });
      const client = new HttpClient({ url: await path.expose(server.port), protocol: 'binary', token: TOKEN });
      const reply = await client.infer({ model: 'tail', inputs: cutInputs(repo, 8), timeoutMs: 10_000 });
      client.close();
      const p = reply.response.parameters!;
      const [ms, bytes] = [p[TIMING.receive] as number, p[TIMING.receiveBytes] as number];
      // at least the body less the headers' segment, at most what was sent
      expect(bytes).toBeGreaterThan(8 * 1024 - SEGMENT_BYTES);
      expect(bytes).toBeLessThanOrEqual(reply.sentBytes);
      // the shaper never delivers a segment early: the bytes after the first read took at least (bytes - one
      // segment) at 0.5 Mb/s; late timers under load only lengthen it (a 4x bound, for a loaded machine)
      expect(ms).toBeGreaterThanOrEqual((8 * (bytes - SEGMENT_BYTES)) / (1e3 * 0.5));
      expect(ms).toBeLessThan((4 * 8 * bytes) / (1e3 * 0.5));
    } finally {
      await path.close();
    }
  });

  it('streams requests over the WebSocket and answers errors by request id', async () => {
    const inputs = cutInputs(repo, 2, 5);
    const client = new StreamClient({ url: server.url, protocol: 'websocket', token: TOKEN });
    const [a, b] = await Promise.all([client.infer({ model: 'tail', inputs, timeoutMs: 10_000 }), client.infer({ model: 'tail', inputs: cutInputs(repo, 1, 9), timeoutMs: 10_000 })]);
    close(a.response.outputs[0]!.data as Float32Array, await tailReference(repo, inputs));
    expect(b.response.outputs[0]!.shape).toEqual([1, 5]);
    await expect(client.infer({ model: 'nope', inputs, timeoutMs: 10_000 })).rejects.toMatchObject({ kind: 'rejected', status: 404 });
    client.close();
    const anonymous = new StreamClient({ url: server.url, protocol: 'websocket' });
    await expect(anonymous.infer({ model: 'tail', inputs, timeoutMs: 10_000 })).rejects.toMatchObject({ kind: 'rejected', status: 401 });
    anonymous.close();
  });
});

describe('security and limits', () => {
  it('refuses a missing or wrong bearer token with 401', async () => {
    const { body, headers } = binaryBody();
    const anonymous: Record<string, string> = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization'));
    for (const h of [anonymous, { ...anonymous, authorization: `Bearer ${TOKEN}x` }, { ...anonymous, authorization: TOKEN }, { ...anonymous, authorization: 'Bearer ' }]) {
      const r = await send(server.url, { ...infer, headers: h, body });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer');
      expect(errorOf(r)).toMatch(/bearer token/);
    }
    expect((await send(server.url, { ...infer, headers, body })).status).toBe(200);
  });

  it('refuses a body over the limit with 413', async () => {
    const r = await send(server.url, { ...infer, headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.alloc(70 * 1024, 32) });
    expect(r.status).toBe(413);
    expect(errorOf(r)).toMatch(/too large/i);
  });

  it.each([
    ['malformed JSON', () => ({ headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.from('{"inputs": [{"name": "r1",') }), /not valid JSON/],
    ['a wrong dtype', () => binaryBody(cutInputs(repo).map((t) => ({ ...t, datatype: 'FP64' as const, data: Float64Array.from(t.data as Float32Array) }))), /input 'r1' of model 'tail' is FP32, got FP64/],
    ['a wrong shape', () => binaryBody(cutInputs(repo).map((t) => ({ ...t, shape: [1, 4, 64], data: t.data }))), /has shape \[-1, 4, 8, 8\].*got \[1, 4, 64\]/],
    ['a batch over the limit', () => binaryBody(cutInputs(repo, 9)), /batch 9 is larger than the server allows/],
    ['binary data longer than the header says', () => {
      const b = binaryBody();
      return { ...b, body: Buffer.concat([b.body, Buffer.alloc(4)]) };
    }, /binary data after the JSON but the tensors' binary_data_size add up to/],
    ['binary data shorter than the header says', () => {
      const b = binaryBody();
      return { ...b, body: b.body.subarray(0, b.body.length - 4) };
    }, /only \d+ bytes of binary data remain/],
  ])('refuses %s with a 400 that names the problem', async (_what, make, message) => {
    const r = await send(server.url, { ...infer, ...make() });
    expect(r.status).toBe(400);
    expect(errorOf(r)).toMatch(message);
  });

  it('closes a connection whose request does not arrive in time, while serving others', async () => {
    const slowServer = await serve(repo, { requestTimeoutMs: 1000 });
    try {
      const { port } = new URL(slowServer.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.write('POST /v2/models/tail/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"inputs"');
      const closed = new Promise<string>((resolve) => {
        let answer = '';
        socket.on('data', (c: Buffer) => (answer += c.toString()));
        socket.on('close', () => resolve(answer));
      });
      const start = performance.now();
      const client = new HttpClient({ url: slowServer.url, protocol: 'binary' });
      for (let i = 0; i < 5; i++) expect((await client.infer({ model: 'tail', inputs: cutInputs(repo), timeoutMs: 5000 })).response.outputs[0]!.shape).toEqual([1, 5]);
      client.close();
      const answer = await closed;
      expect(performance.now() - start).toBeLessThan(4000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await slowServer.close();
    }
  });

  it('refuses requests beyond the queue with 429 and Retry-After, answering every one', async () => {
    const busy = await serve(repo, { maxQueue: 1 });
    try {
      const client = new HttpClient({ url: busy.url, protocol: 'binary' });
      const inputs = cutInputs(repo, 8);
      const burst = () => Promise.all(Array.from({ length: 40 }, () => client.infer({ model: 'tail', inputs, timeoutMs: 20_000 }).then(() => 200 as const, (e: CallError) => e)));
      // on a loaded machine requests can arrive so spread out that one burst never fills the queue: try a few
      let outcomes = await burst();
      for (let tries = 1; tries < 5 && outcomes.every((o) => o === 200); tries++) outcomes = await burst();
      client.close();
      const refused = outcomes.filter((o): o is CallError => o !== 200);
      expect(refused.length).toBeGreaterThan(0);
      expect(outcomes.filter((o) => o === 200).length).toBeGreaterThan(0);
      for (const e of refused) {
        expect(e).toMatchObject({ kind: 'overloaded', status: 429 });
        expect(e.retryAfterS).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await busy.close();
    }
  });

  it('serves HTTPS with its certificate, and clients that trust it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'));
    const tls = await serve(repo, { tls: { cert, key: readFileSync(join(dir, 'key.pem')) } });
    try {
      expect(tls.url).toMatch(/^https:/);
      const inputs = cutInputs(repo);
      const client = new HttpClient({ url: tls.url, protocol: 'binary', ca: cert });
      close((await client.infer({ model: 'tail', inputs, timeoutMs: 10_000 })).response.outputs[0]!.data as Float32Array, await tailReference(repo, inputs));
      client.close();
      const untrusting = new HttpClient({ url: tls.url, protocol: 'binary' });
      await expect(untrusting.infer({ model: 'tail', inputs, timeoutMs: 10_000 })).rejects.toThrow(/certificate/);
      untrusting.close();
    } finally {
      await tls.close();
    }
  });
});

describe('hostile input', () => {
  it('answers 2,000 fuzzed requests with a 4xx each while correct requests keep succeeding', async () => {
    const requests = hostileRequests({ model: 'tail', inputs: cutInputs(repo), token: TOKEN }, 2000, 42);
    const client = new HttpClient({ url: server.url, protocol: 'binary', token: TOKEN });
    const inputs = cutInputs(repo, 1, 3);
    const expected = await tailReference(repo, inputs);
    expect(requests).toHaveLength(2000);
    const statuses = new Map<string, number[]>();
    for (let i = 0; i < requests.length; i += 20) {
      const batch = requests.slice(i, i + 20);
      const [answers, reply] = await Promise.all([Promise.all(batch.map((r) => send(server.url, r))), client.infer({ model: 'tail', inputs, timeoutMs: 10_000 })]);
      answers.forEach((a, k) => statuses.set(batch[k]!.kind, [...(statuses.get(batch[k]!.kind) ?? []), a.status]));
      close(reply.response.outputs[0]!.data as Float32Array, expected);
    }
    client.close();
    const bad = [...statuses].flatMap(([kind, s]) => s.filter((x) => x < 400 || x >= 500).map((x) => `${kind}: ${x}`));
    expect(bad).toEqual([]);
    expect(statuses.size).toBe(21); // every family was tried (17, 2 past the JSON limits, and 2 about the token)
  });
});

describe('dynamic batching', () => {
  it('runs concurrent requests as one batch and gives each its own rows', async () => {
    const batching = await serve(repo, {}, { maxBatch: 8, batchDelayMs: 50 });
    try {
      const client = new HttpClient({ url: batching.url, protocol: 'binary' });
      const inputs = [1, 2, 3, 4, 5].map((seed) => cutInputs(repo, seed % 2 ? 1 : 2, seed));
      const replies = await Promise.all(inputs.map((i) => client.infer({ model: 'tail', inputs: i, timeoutMs: 10_000 })));
      client.close();
      expect(Math.max(...replies.map((r) => r.response.parameters![TIMING.batch] as number))).toBeGreaterThan(2);
      for (let k = 0; k < inputs.length; k++) close(replies[k]!.response.outputs[0]!.data as Float32Array, await tailReference(repo, inputs[k]!));
    } finally {
      await batching.close();
    }
  });
});

describe('packed wire input (impera_wire)', () => {
  it('takes codec bytes in place of the wire tensors and refuses bytes that do not decode', async () => {
    const coded = await splitRepo('int4+deflate');
    const s = await serve(coded);
    try {
      const packed = (samples: Uint8Array[]) => binaryBodyFor([{ name: 'impera:wire', datatype: 'BYTES' as const, shape: [samples.length], data: samples }]);
      const garbage = await send(s.url, { ...infer, ...packed([Uint8Array.from([1, 2, 3, 4, 5])]) });
      expect(garbage.status).toBe(400);
      expect(errorOf(garbage)).toMatch(/sample 0 of 'impera:wire' is not valid int4\+deflate wire data/);
      const onPlain = await send(server.url, { ...infer, ...packed([new Uint8Array(3)]), headers: { ...packed([new Uint8Array(3)]).headers, ...auth } });
      expect(onPlain.status).toBe(400);
      expect(errorOf(onPlain)).toMatch(/takes no packed wire input/);
      const notBytes = await send(s.url, { ...infer, ...binaryBodyFor([{ name: 'impera:wire', datatype: 'UINT8', shape: [1, 3], data: new Uint8Array(3) }]) });
      expect(notBytes.status).toBe(400);
      expect(errorOf(notBytes)).toMatch(/'impera:wire' must be BYTES \[batch\].*got UINT8 \[1, 3\]/);
      const withOthers = await send(s.url, { ...infer, ...binaryBodyFor([{ name: 'impera:wire', datatype: 'BYTES', shape: [1], data: [new Uint8Array(3)] }, ...cutInputs(coded)]) });
      expect(withOthers.status).toBe(400);
      expect(errorOf(withOthers)).toMatch(/replaces all of the model's inputs; send it alone/);
    } finally {
      await s.close();
    }
  });
});

function binaryBodyFor(inputs: Parameters<typeof encodeRequest>[0]['inputs']) {
  const enc = encodeRequest({ inputs }, { binaryInputs: true });
  return { headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(enc.headerLength) } as Record<string, string>, body: joinBody(enc) };
}
