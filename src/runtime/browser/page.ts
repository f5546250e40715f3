/// <reference lib="dom" />
/**
 * The browser edge page (bundled by `npm run build` into dist/browser/edge.js; edge-page.ts serves it): per frame
 * - a camera frame, an image file or a tensor of an .npy file - run the head with onnxruntime-web (WebGPU where the
 * browser has a usable adapter, else WASM, and the page says which and why), pack the cut with the codec's wire
 * format (codecs/wire.ts, the Node edge's code) and send it to `impera serve` over its WebSocket stream (the
 * protocol's own encoders); show each frame's latency and result. `window.imperaEdge` runs tensors for tests and
 * benchmarks. Unlike the Node edge there is no local tail to fall back to: a frame the server does not answer in
 * the latency budget ends as failed, with the reason.
 */
import type * as Ort from 'onnxruntime-web';
import { encodeWire, wireCodec, type WireValues } from '../../codecs/wire.js';
import type { FittedCodec } from '../../codecs/fitted.js';
import { decodeNpy } from '../../data/npy.js';
import { imageTarget, imageToInput, type RasterImage } from '../../data/preprocess.js';
import { softmax } from '../../exits/policy.js';
import type { TypedArray } from '../../onnx/tensor.js';
import { argmax, quantile } from '../../util/stats.js';
import { allocate, datatypeOf, type NumericDatatype } from '../protocol/datatypes.js';
import { PACKED_WIRE_INPUT, TIMING } from '../protocol/extensions.js';
import { decodeResponse, encodeRequest, type InferResponse } from '../protocol/messages.js';
import { frameMessage, STREAM_PATH, unframeMessage } from '../protocol/stream.js';
import type { InferTensor } from '../protocol/tensor.js';
import { EDGE_PAGE_FILES, ORT_SCRIPT, type EdgePageConfig } from './page-config.js';

/** onnxruntime-web, loaded by the page's first script. */
declare const ort: typeof Ort;

/** The protocol's data types as onnxruntime-web names them. */
const ORT_TYPES: Record<NumericDatatype, Ort.Tensor.Type> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64', INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64', FP16: 'float16', FP32: 'float32', FP64: 'float64',
};
const datatypeOfOrt = (t: Ort.Tensor.Type): NumericDatatype | undefined => (Object.keys(ORT_TYPES) as NumericDatatype[]).find((d) => ORT_TYPES[d] === t);

export type Backend = 'webgpu' | 'wasm';

/** A frame's tensor as a test hands it over (plain numbers: puppeteer passes JSON). */
export interface TensorInput {
  datatype: NumericDatatype;
  shape: number[];
  data: ArrayLike<number>;
}
export type FrameInput = Record<string, TensorInput>;

export interface PageTimings {
  headMs: number;
  encodeMs: number;
  requestMs?: number;
  serverQueueMs?: number;
  serverComputeMs?: number;
  totalMs: number;
}

export interface PageFrameResult {
  frame: number;
  outcome: 'server' | 'failed';
  reason?: string;
  /** Top class and its probability, where the answer is class scores [1, K]. */
  prediction?: number;
  confidence?: number;
  timings: PageTimings;
  sentBytes?: number;
  receivedBytes?: number;
}

/** A frame's result with what was sent (each sample's packed bytes) and the server's outputs, for comparisons. */
export interface PageFrameAnswer {
  result: PageFrameResult;
  wire?: number[][];
  outputs?: Record<string, { datatype: string; shape: number[]; data: number[] }>;
}

/** WebGPU where the browser offers an adapter, else WASM; `note` says which and why. */
async function chooseBackend(asked: string | null): Promise<{ backend: Backend; note: string }> {
  if (asked === 'wasm') return { backend: 'wasm', note: 'WASM (asked for with ?backend=wasm)' };
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return { backend: 'wasm', note: 'WASM: this browser has no WebGPU (navigator.gpu is missing)' };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { backend: 'wasm', note: 'WASM: WebGPU offers no adapter here (no usable GPU)' };
  return { backend: 'webgpu', note: 'WebGPU' };
}

/** The head's session on the chosen backend; WebGPU failing to open falls back to WASM and says so. */
async function openHead(bytes: Uint8Array, asked: string | null): Promise<{ session: Ort.InferenceSession; backend: Backend; note: string }> {
  ort.env.wasm.wasmPaths = new URL(EDGE_PAGE_FILES.ort, location.href).href;
  const chosen = await chooseBackend(asked);
  if (chosen.backend === 'webgpu') {
    try {
      return { session: await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] }), ...chosen };
    } catch (e) {
      chosen.note = `WASM: WebGPU could not run the head (${(e as Error).message})`;
    }
  }
  return { session: await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] }), backend: 'wasm', note: chosen.note };
}

interface Waiting {
  resolve: (r: { response: InferResponse; received: number }) => void;
  reject: (e: Error) => void;
  timer: number;
}

/** impera's WebSocket stream from the browser: one connection, answers matched to requests by id. */
class Stream {
  private socket: WebSocket | undefined;
  private opening: Promise<WebSocket> | undefined;
  private readonly waiting = new Map<string, Waiting>();
  private nextId = 0;

  constructor(private readonly url: string) {}

  private open(): Promise<WebSocket> {
    if (this.socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    this.opening ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        this.socket = ws;
        this.opening = undefined;
        resolve(ws);
      };
      ws.onmessage = (m) => this.answer(new Uint8Array(m.data as ArrayBuffer));
      ws.onerror = () => reject(new Error(`cannot open the stream ${this.url}`));
      ws.onclose = (e) => {
        this.opening = undefined;
        if (this.socket === ws) this.socket = undefined;
        this.failAll(new Error(`the stream connection closed${e.reason ? ` (${e.code}: ${e.reason})` : ''}`));
      };
    });
    return this.opening;
  }

  private failAll(e: Error): void {
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(id);
      w.reject(e);
    }
  }

  private answer(message: Uint8Array): void {
    let frame: ReturnType<typeof unframeMessage>;
    let header: { id?: unknown; error?: unknown; status?: unknown };
    try {
      frame = unframeMessage(message);
      header = JSON.parse(new TextDecoder().decode(frame.body.subarray(0, frame.headerLength)));
    } catch {
      return this.failAll(new Error('the server sent a stream message that is not [u32 length][JSON][data]'));
    }
    const w = typeof header.id === 'string' ? this.waiting.get(header.id) : undefined;
    if (!w) return;
    this.waiting.delete(header.id as string);
    clearTimeout(w.timer);
    if (header.error !== undefined) return w.reject(new Error(`the server answered ${String(header.status)}: ${String(header.error)}`));
    try {
      w.resolve({ response: decodeResponse(frame.body, frame.headerLength === frame.body.length ? undefined : frame.headerLength), received: message.length });
    } catch (e) {
      w.reject(new Error(`the server's answer is not an inference response: ${(e as Error).message}`));
    }
  }

  async infer(c: EdgePageConfig, inputs: InferTensor[], timeoutMs: number): Promise<{ response: InferResponse; sent: number; received: number }> {
    const started = performance.now();
    const ws = await this.open();
    const id = String(this.nextId++);
    const message = frameMessage(encodeRequest({ id, inputs }, { modelName: c.model, ...(c.version ? { modelVersion: c.version } : {}), binaryInputs: true }));
    const answer = await new Promise<{ response: InferResponse; received: number }>((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer within the latency budget of ${Math.round(timeoutMs)} ms`));
      }, Math.max(1, timeoutMs - (performance.now() - started)));
      this.waiting.set(id, { resolve, reject, timer });
      ws.send(message);
    });
    return { ...answer, sent: message.length };
  }
}

/** A tensor's elements as the protocol holds them: float16 as raw 16-bit patterns (onnxruntime-web may give a Float16Array). */
function protocolData(t: Ort.Tensor): TypedArray {
  const d = t.data as TypedArray;
  return t.type === 'float16' ? new Uint16Array(d.buffer, d.byteOffset, t.size) : d;
}

/** What the server receives: each sample's packed wire bytes, or the head's cut tensors as they are. */
function payload(c: EdgePageConfig, codec: FittedCodec | undefined, out: Ort.InferenceSession.ReturnType): { inputs: InferTensor[]; wire?: Uint8Array[] } {
  if (!codec || c.wire === 'tensors') {
    return { inputs: c.cut.map((n) => ({ name: n, datatype: datatypeOfOrt(out[n]!.type) ?? 'FP32', shape: [...out[n]!.dims], data: protocolData(out[n]!) })) };
  }
  const wires = c.cut.map((n) => out[n]!);
  const batch = wires[0]!.dims[0]!;
  const samples = Array.from({ length: batch }, (_, s) => encodeWire(codec, wires.map((w) => {
    const data = protocolData(w) as WireValues;
    const per = data.length / batch;
    return data.subarray(s * per, (s + 1) * per) as WireValues;
  })));
  return { inputs: [{ name: PACKED_WIRE_INPUT, datatype: 'BYTES', shape: [batch], data: samples }], wire: samples };
}

const isClassScores = (t: InferTensor): boolean => t.shape.length === 2 && t.shape[0] === 1 && t.shape[1]! > 1 && (t.datatype === 'FP32' || t.datatype === 'FP64');

/** A frame's typed feeds from plain numbers. */
function feedsOf(frame: FrameInput): Record<string, Ort.Tensor> {
  return Object.fromEntries(Object.entries(frame).map(([name, t]) => {
    const data = allocate(t.datatype, t.data.length);
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) data.set(Array.from(t.data, (v) => BigInt(v)));
    else data.set(t.data);
    return [name, new ort.Tensor(ORT_TYPES[t.datatype], data as Ort.Tensor.DataType, t.shape)];
  }));
}

/** The edge: head session, codec, stream, and the results so far. */
class BrowserEdge {
  readonly results: PageFrameResult[] = [];
  private frames = 0;
  private firstStart: number | undefined;

  constructor(
    readonly config: EdgePageConfig,
    private readonly head: Ort.InferenceSession,
    readonly backend: Backend,
    readonly note: string,
    private readonly codec: FittedCodec | undefined,
    private readonly stream: Stream,
    private readonly shown: (r: PageFrameResult, all: readonly PageFrameResult[], elapsedMs: number) => void,
  ) {}

  /** One frame: head, packing, the server's answer; never throws for the frame's own failure. */
  async process(feeds: Record<string, Ort.Tensor>, keep = false): Promise<PageFrameAnswer> {
    const start = performance.now();
    this.firstStart ??= start;
    const frame = this.frames++;
    const out = await this.head.run(feeds);
    const headMs = performance.now() - start;
    const { inputs, wire } = payload(this.config, this.codec, out);
    const timings: PageTimings = { headMs, encodeMs: performance.now() - start - headMs, totalMs: 0 };
    const sent = performance.now();
    let answer: PageFrameAnswer;
    try {
      const left = this.config.latencyBudgetMs - (sent - start);
      if (left <= 0) throw new Error(`the latency budget of ${this.config.latencyBudgetMs} ms was spent before sending`);
      const reply = await this.stream.infer(this.config, inputs, left);
      timings.requestMs = performance.now() - sent;
      const p = reply.response.parameters ?? {};
      if (typeof p[TIMING.queue] === 'number') timings.serverQueueMs = p[TIMING.queue] as number;
      if (typeof p[TIMING.compute] === 'number') timings.serverComputeMs = p[TIMING.compute] as number;
      const name = this.config.output ?? reply.response.outputs[0]?.name;
      const main = reply.response.outputs.find((o) => o.name === name);
      if (!main) throw new Error(`the server's answer has no output${name === undefined ? 's' : ` '${name}'`}`);
      const scores = isClassScores(main) ? Array.from(main.data as Float32Array) : undefined;
      timings.totalMs = performance.now() - start;
      answer = {
        result: { frame, outcome: 'server', ...(scores ? { prediction: argmax(scores), confidence: Math.max(...softmax(scores)) } : {}), timings, sentBytes: reply.sent, receivedBytes: reply.received },
        ...(keep ? { outputs: Object.fromEntries(reply.response.outputs.filter((o) => !Array.isArray(o.data)).map((o) => [o.name, { datatype: o.datatype, shape: o.shape, data: Array.from(o.data as ArrayLike<number | bigint>, Number) }])) } : {}),
      };
    } catch (e) {
      timings.requestMs ??= performance.now() - sent;
      timings.totalMs = performance.now() - start;
      answer = { result: { frame, outcome: 'failed', reason: (e as Error).message, timings } };
    }
    if (keep && wire) answer.wire = wire.map((w) => Array.from(w));
    this.results.push(answer.result);
    this.shown(answer.result, this.results, performance.now() - this.firstStart);
    return answer;
  }

  /** Frames of plain numbers, one after another (tests and benchmarks). */
  async run(frames: readonly FrameInput[], keep = false): Promise<PageFrameAnswer[]> {
    const answers: PageFrameAnswer[] = [];
    for (const f of frames) answers.push(await this.process(feedsOf(f), keep));
    return answers;
  }

  /** The head's one image input, for camera frames and image files. */
  private imageInput() {
    const images = this.config.inputs.filter((i) => i.shape.length === 4 && i.datatype === 'FP32');
    if (this.config.inputs.length !== 1 || images.length !== 1) throw new Error(`camera frames and images feed a head with one float32 image input; this head has ${this.config.inputs.map((i) => `${i.name} ${i.datatype} [${i.shape.join(', ')}]`).join(', ')}: give .npy tensors`);
    return images[0]!;
  }

  /** A picture (video frame, decoded image) as the head's input, preprocessed as the page's config says. */
  feedsOfPicture(source: CanvasImageSource, width: number, height: number): Record<string, Ort.Tensor> {
    const input = this.imageInput();
    const canvas = document.createElement('canvas');
    [canvas.width, canvas.height] = [width, height];
    const context = canvas.getContext('2d', { willReadFrequently: true })!;
    context.drawImage(source, 0, 0, width, height);
    const rgba = context.getImageData(0, 0, width, height).data;
    const pixels = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) pixels.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
    const image: RasterImage = { width, height, channels: 3, pixels };
    const target = imageTarget(input.name, input.shape, this.config.preprocess, () => ({ width, height }));
    const dims = target.layout === 'nchw' ? [1, target.channels, target.height, target.width] : [1, target.height, target.width, target.channels];
    const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
    imageToInput(image, this.config.preprocess, target, out, 0, 'the picture');
    return { [input.name]: new ort.Tensor('float32', out, dims) };
  }
}

/** The rows of an .npy file as frames of the head's one input (or the whole array as one frame). */
function npyFrames(edge: BrowserEdge, bytes: Uint8Array, file: string): Record<string, Ort.Tensor>[] {
  const t = decodeNpy(bytes, file);
  const inputs = edge.config.inputs;
  if (inputs.length !== 1) throw new Error(`an .npy file feeds a head with one input; this head has ${inputs.length}`);
  const input = inputs[0]!;
  const datatype = datatypeOf(t.dtype);
  if (!datatype || datatype === 'BYTES' || datatype !== input.datatype) throw new Error(`${file} holds ${datatype ?? 'another type'}, the head's input '${input.name}' is ${input.datatype}`);
  const rows = t.dims.length === input.shape.length ? t.dims[0]! : 1;
  const per = t.data.length / rows;
  const dims = t.dims.length === input.shape.length ? [1, ...t.dims.slice(1)] : [1, ...t.dims];
  return Array.from({ length: rows }, (_, r) => ({ [input.name]: new ort.Tensor(ORT_TYPES[datatype], (t.data as TypedArray).slice(r * per, (r + 1) * per) as Ort.Tensor.DataType, dims) }));
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined ? '-' : v.toFixed(digits));

/** One table row per frame (the newest first, 50 kept) and the running summary. */
function show(r: PageFrameResult, all: readonly PageFrameResult[], elapsedMs: number): void {
  const body = document.querySelector('#frames tbody')!;
  const row = document.createElement('tr');
  if (r.outcome === 'failed') row.className = 'failed';
  const t = r.timings;
  for (const v of [String(r.frame), r.outcome === 'failed' ? `failed: ${r.reason}` : r.outcome, r.prediction === undefined ? '-' : String(r.prediction), fmt(r.confidence, 3), fmt(t.headMs), fmt(t.encodeMs, 2), fmt(t.requestMs), fmt(t.totalMs), r.sentBytes === undefined ? '-' : String(r.sentBytes)]) {
    row.appendChild(document.createElement('td')).textContent = v;
  }
  body.prepend(row);
  while (body.children.length > 50) body.lastElementChild!.remove();
  const totals = all.map((x) => x.timings.totalMs);
  const failed = all.filter((x) => x.outcome === 'failed').length;
  document.querySelector('#summary')!.textContent = `${all.length} frames, ${failed} failed, ${((all.length * 1000) / elapsedMs).toFixed(1)} frames/s, total p50 ${fmt(quantile(totals, 0.5))} ms, p95 ${fmt(quantile(totals, 0.95))} ms`;
}

function setStatus(text: string): void {
  document.querySelector('#status')!.textContent = text;
}

/** Camera frames, one after another, until stopped. */
async function cameraLoop(edge: BrowserEdge, running: { on: boolean }): Promise<void> {
  const video = document.querySelector<HTMLVideoElement>('#video')!;
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  video.hidden = false;
  await video.play();
  while (running.on) await edge.process(edge.feedsOfPicture(video, video.videoWidth, video.videoHeight));
  for (const track of (video.srcObject as MediaStream).getTracks()) track.stop();
  video.hidden = true;
}

async function fileFrames(edge: BrowserEdge, files: FileList): Promise<void> {
  for (const file of Array.from(files)) {
    if (file.name.endsWith('.npy')) {
      for (const feeds of npyFrames(edge, new Uint8Array(await file.arrayBuffer()), file.name)) await edge.process(feeds);
    } else {
      const bitmap = await createImageBitmap(file);
      await edge.process(edge.feedsOfPicture(bitmap, bitmap.width, bitmap.height));
    }
  }
}

function wireControls(edge: BrowserEdge): void {
  const running = { on: false };
  const [camera, stop, files] = ['#camera', '#stop', '#files'].map((s) => document.querySelector<HTMLInputElement>(s)!);
  const fail = (e: unknown) => setStatus(`${document.querySelector('#status')!.textContent}\nerror: ${(e as Error).message}`);
  camera.disabled = files.disabled = false;
  camera.onclick = () => {
    running.on = true;
    camera.disabled = true;
    stop.disabled = false;
    cameraLoop(edge, running).catch(fail).finally(() => {
      camera.disabled = false;
      stop.disabled = true;
    });
  };
  stop.onclick = () => {
    running.on = false;
  };
  files.onchange = () => {
    if (files.files?.length) fileFrames(edge, files.files).catch(fail);
  };
}

/** The stream's URL: the configured server's, or this page's origin. */
function streamUrl(c: EdgePageConfig): string {
  const url = new URL(STREAM_PATH, c.server ?? location.origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

async function start(): Promise<BrowserEdge> {
  if (typeof ort === 'undefined') throw new Error(`onnxruntime-web did not load (${EDGE_PAGE_FILES.ort}${ORT_SCRIPT})`);
  const config = (await (await fetch(EDGE_PAGE_FILES.config)).json()) as EdgePageConfig;
  const headBytes = new Uint8Array(await (await fetch(EDGE_PAGE_FILES.head)).arrayBuffer());
  const { session, backend, note } = await openHead(headBytes, new URLSearchParams(location.search).get('backend'));
  const codec = config.codec ? wireCodec(config.codec) : undefined;
  const edge = new BrowserEdge(config, session, backend, note, codec, new Stream(streamUrl(config)), show);
  setStatus(`head on ${note}\nserver ${streamUrl(config)}, model '${config.model}', ${codec ? `codec ${codec.spec.name} (${config.wire})` : 'no codec'}; cross-origin isolated: ${self.crossOriginIsolated ? 'yes (WASM threads)' : 'no (one WASM thread)'}`);
  wireControls(edge);
  return edge;
}

/** What tests and benchmarks drive. */
export interface EdgeApi {
  ready: Promise<{ backend: Backend; note: string }>;
  run(frames: readonly FrameInput[], keep?: boolean): Promise<PageFrameAnswer[]>;
  /** Every frame's result so far, whatever its source (camera, files, run). */
  results(): Promise<PageFrameResult[]>;
}

const edge = start();
edge.catch((e: Error) => setStatus(`the browser edge could not start: ${e.message}`));
(window as unknown as { imperaEdge: EdgeApi }).imperaEdge = {
  ready: edge.then((e) => ({ backend: e.backend, note: e.note })),
  run: async (frames, keep) => (await edge).run(frames, keep),
  results: async () => (await edge).results,
};
