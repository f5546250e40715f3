/** The protocol clients against servers that misbehave in ways impera's own server can: here, a stream it closes. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { CallError, StreamClient } from '../../../src/runtime/edge/client.js';
import { STREAM_PATH } from '../../../src/runtime/protocol/stream.js';

describe('the stream client', () => {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, path: STREAM_PATH });
  let url: string;

  beforeAll(async () => {
    // like impera serve when a client leaves its answers unread: close with 1008 and a reason
    wss.on('connection', (ws) => ws.once('message', () => ws.close(1008, 'the client is not reading its answers')));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => (wss.close(), http.close(() => resolve()))));

  it("fails a pending call with the server's close code and reason, as a server it cannot reach", async () => {
    const client = new StreamClient({ url, protocol: 'websocket' });
    const call = client.infer({ model: 'tail', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array(2) }], timeoutMs: 10_000 });
    await expect(call).rejects.toThrow(CallError);
    await expect(call).rejects.toThrow(/the stream connection closed by the server \(1008: the client is not reading its answers\)/);
    client.close();
  });
});
