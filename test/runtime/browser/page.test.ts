/**
 * The browser edge in headless Chromium (Debian's chromium through puppeteer-core) against a real `impera serve`
 * on loopback: 100 frames through the page and through the Node edge (EdgeRunner, the same stream protocol) on a
 * head + int8 codec + tail split. Oracle: the Node edge. The page's packed cut bytes must equal the Node edge's bit
 * for bit (recorded by a relay between the Node edge and the server) and the server's answers must be equal. The
 * headless browser has no usable WebGPU: the page must run the head on WASM and say why. Image files and .npy
 * tensors chosen with the page's file input are answered as the Node edge answers the same files.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { CAMERA_PREPROCESS, loadEdgePage } from '../../../src/runtime/browser/edge-page.js';
import type { EdgeApi, FrameInput, PageFrameAnswer } from '../../../src/runtime/browser/page.js';
import { EDGE_PAGE_PATH } from '../../../src/runtime/browser/page-config.js';
import { resolveRuntimeConfig } from '../../../src/runtime/edge/config.js';
import { frameSource } from '../../../src/runtime/edge/frames.js';
import { EdgeRunner, type FrameAnswer, type FrameResult } from '../../../src/runtime/edge/runner.js';
import { PACKED_WIRE_INPUT } from '../../../src/runtime/protocol/extensions.js';
import { decodeRequest } from '../../../src/runtime/protocol/messages.js';
import { STREAM_PATH, unframeMessage } from '../../../src/runtime/protocol/stream.js';
import type { RunningServer } from '../../../src/runtime/server/app.js';
import { encodeNpy } from '../../../src/data/npy.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { EXAMPLE_DATA } from '../../../src/util/package.js';
import { launchChromium } from '../../../scripts/report-screenshot.mjs';
import { serve, splitRepo, type SplitRepo } from '../../helpers/runtime.js';

const FRAMES = 100;

/** A WebSocket relay to the server's stream that keeps the packed wire bytes of every request it passes on. */
async function recordingRelay(serverUrl: string): Promise<{ url: string; wire: Uint8Array[]; close: () => void }> {
  const wire: Uint8Array[] = [];
  const relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  relay.on('connection', (client) => {
    const upstream = new WebSocket(serverUrl.replace(/^http/, 'ws') + STREAM_PATH);
    const queued: Buffer[] = [];
    upstream.on('open', () => queued.splice(0).forEach((m) => upstream.send(m)));
    upstream.on('message', (m: Buffer) => client.send(m));
    client.on('message', (m: Buffer) => {
      const { body, headerLength } = unframeMessage(m);
      const request = decodeRequest(body, headerLength === body.length ? undefined : headerLength);
      wire.push(...(request.inputs.find((t) => t.name === PACKED_WIRE_INPUT)!.data as Uint8Array[]).map((b) => Uint8Array.from(b)));
      if (upstream.readyState === WebSocket.OPEN) upstream.send(m);
      else queued.push(m);
    });
    client.on('close', () => upstream.close());
  });
  await new Promise((r) => relay.once('listening', r));
  return { url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, wire, close: () => relay.close() };
}

const runtimeConfig = (url: string) => ({ format: 'impera-runtime/1', head: 'head.onnx', codec: 'codec.json', tail: 'tail.onnx', fallback: 'none', latencyBudgetMs: 10_000, server: { url, model: 'tail', protocol: 'websocket' } });

describe('the browser edge against impera serve', () => {
  let repo: SplitRepo;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    repo = await splitRepo('int8');
    writeFileSync(join(repo.dir, 'edge.yaml'), JSON.stringify(runtimeConfig('http://127.0.0.1:1')));
    // a fake camera (Chromium's test pattern) that needs no permission prompt
    [server, browser] = await Promise.all([serve(repo, { edgePage: loadEdgePage(join(repo.dir, 'edge.yaml')) }), launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'])]);
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
    await page.goto(`${server.url}${EDGE_PAGE_PATH}`, { waitUntil: 'load' });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('falls back to WASM without WebGPU and says so on the page', async () => {
    const ready = await page.evaluate(() => (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.ready);
    expect(ready.backend).toBe('wasm');
    expect(ready.note).toMatch(/^WASM: (this browser has no WebGPU|WebGPU offers no adapter)/);
    expect(await page.$eval('#status', (e) => e.textContent)).toContain(`head on ${ready.note}`);
  });

  it(`sends the Node edge's int8 bytes bit for bit on ${FRAMES} frames and gets the same answers`, async () => {
    const relay = await recordingRelay(server.url);
    const runner = await EdgeRunner.open(resolveRuntimeConfig(runtimeConfig(relay.url), join(repo.dir, 'edge.yaml')));
    const source = frameSource('synthetic', runner.inputs);
    const feeds = Array.from({ length: FRAMES }, (_, i) => source.frame(i).feeds);
    const node: FrameAnswer[] = [];
    try {
      for (const [i, f] of feeds.entries()) node.push(await runner.processWithOutputs(i, f));
    } finally {
      await runner.close();
      relay.close();
    }
    const frames: FrameInput[] = feeds.map((f) => Object.fromEntries(Object.entries(f).map(([name, t]) => [name, { datatype: 'FP32', shape: t.dims, data: Array.from(t.data as Float32Array) }])));
    const browserAnswers = await page.evaluate((fs) => (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.run(fs, true), frames) as PageFrameAnswer[];

    expect(node.every((a) => a.result.outcome === 'server')).toBe(true);
    expect(browserAnswers.map((a) => a.result.outcome)).toEqual(Array(FRAMES).fill('server'));
    expect(relay.wire).toHaveLength(FRAMES);
    browserAnswers.forEach((a, i) => {
      expect(a.wire, `frame ${i}`).toHaveLength(1);
      expect(Uint8Array.from(a.wire![0]!), `frame ${i}`).toEqual(relay.wire[i]);
      expect(a.outputs!.y!.data, `frame ${i}`).toEqual(Array.from(node[i]!.outputs.y!.data as Float32Array));
      expect(a.result.prediction, `frame ${i}`).toBe(node[i]!.result.prediction);
    });
    // the codes are not all alike: the comparison covers real payloads
    expect(new Set(relay.wire.map((w) => w.join(','))).size).toBe(FRAMES);
    expect(errors).toEqual([]);
  }, 60_000);

  it("answers image files and .npy tensors chosen on the page as the Node edge answers them", async () => {
    const images = ['0_T-shirt-top/test-00019.png', '7_Sneaker/test-00009.png'].map((f) => join(EXAMPLE_DATA, f));
    const runner = await EdgeRunner.open(resolveRuntimeConfig(runtimeConfig(server.url), join(repo.dir, 'edge.yaml')));
    const pictures = frameSource(images.join(','), runner.inputs, { preprocess: CAMERA_PREPROCESS });
    const tensors = frameSource('synthetic', runner.inputs);
    const rows = [0, 1, 2].map((i) => tensors.frame(1000 + i).feeds.x!);
    const npy = join(repo.dir, 'frames.npy');
    writeFileSync(npy, encodeNpy({ dtype: DataType.FLOAT, dims: [3, 3, 8, 8], data: Float32Array.from(rows.flatMap((t) => Array.from(t.data as Float32Array))) }));
    const node: FrameResult[] = [];
    try {
      for (let i = 0; i < images.length; i++) node.push(await runner.process(i, pictures.frame(i).feeds));
      for (const [i, x] of rows.entries()) node.push(await runner.process(images.length + i, { x }));
    } finally {
      await runner.close();
    }
    const results = () => page.evaluate(() => (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.results());
    const before = (await results()).length;
    await ((await page.$('#files')) as ElementHandle<HTMLInputElement>).uploadFile(...images, npy);
    await page.waitForFunction(async (n) => document.querySelector('#status')!.textContent!.includes('error:') || (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.results().then((r) => r.length >= n), {}, before + node.length);
    expect(await page.$eval('#status', (e) => e.textContent)).not.toContain('error:');
    const fromFiles = (await results()).slice(before);
    expect(fromFiles.map((r) => r.outcome)).toEqual(Array(node.length).fill('server'));
    expect(fromFiles.map((r) => [r.prediction, r.confidence])).toEqual(node.map((r) => [r.prediction, r.confidence]));
    expect(errors).toEqual([]);
  }, 60_000);

  it('runs camera frames until stopped, each answered by the server', async () => {
    const results = () => page.evaluate(() => (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.results());
    const before = (await results()).length;
    await page.click('#camera');
    await page.waitForFunction(async (n) => document.querySelector('#status')!.textContent!.includes('error:') || (await (window as unknown as { imperaEdge: EdgeApi }).imperaEdge.results()).length >= n, {}, before + 5);
    await page.click('#stop');
    await page.waitForFunction(() => !(document.querySelector('#camera') as HTMLButtonElement).disabled);
    expect(await page.$eval('#status', (e) => e.textContent)).not.toContain('error:');
    const frames = (await results()).slice(before);
    expect(frames.length).toBeGreaterThanOrEqual(5);
    expect(frames.every((r) => r.outcome === 'server' && r.prediction !== undefined && r.sentBytes! > 0)).toBe(true);
    expect(await page.$eval('#video', (v) => (v as HTMLVideoElement).hidden)).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);
});
