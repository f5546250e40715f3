/**
 * The edge runner: per frame, run the head (and its early exits), pack the cut tensors as the codec says, send
 * them to the server and return its result with a per-stage timing breakdown. When the server cannot answer in
 * time - unreachable, slower than the latency budget, overloaded (429/503), failing, or answering with something that
 * is not a result (a body that does not decode, no scores) - the frame falls back to
 * the policy's local path (the tail here, or the deepest early exit) and the result says so and why. After a
 * connection failure the server is left alone for a backoff that doubles up to a limit; the next frame after it
 * tries again (reconnects), and success resets it. Every frame ends with a result; `failed` carries the error.
 */
import { encodeWire, type WireValues } from '../../codecs/wire.js';
import type { FittedCodec } from '../../codecs/fitted.js';
import { ImperaError } from '../../errors.js';
import { argmax } from '../../util/stats.js';
import { softmax } from '../../exits/policy.js';
import { wireName } from '../../export/codec.js';
import { loadModel, type OnnxModel } from '../../onnx/io.js';
import type { Tensor } from '../../onnx/tensor.js';
import { createSession, run, type Feeds, type ort } from '../../ort/session.js';
import { loadWireCodec } from '../codec-file.js';
import { onnxType } from '../protocol/datatypes.js';
import type { InferResponse, TensorMetadata } from '../protocol/messages.js';
import { modelMetadata } from '../protocol/metadata.js';
import { inferTensor, type InferTensor } from '../protocol/tensor.js';
import { PACKED_WIRE_INPUT, TIMING } from '../protocol/extensions.js';
import { CallError, createClient, type FailureKind, type InferenceClient } from './client.js';
import type { RuntimeConfig } from './config.js';

export type Outcome = 'server' | 'exit' | 'local' | 'failed';

export interface FrameTimings {
  headMs: number;
  /** Packing the wire bytes. */
  encodeMs?: number;
  /** The call to the server, send to answer. */
  requestMs?: number;
  /** The server's own account (impera serve): waiting for a worker, and inference. */
  serverQueueMs?: number;
  serverComputeMs?: number;
  /** The request body's arrival at the server (HTTP): the bytes read after its headers, and the ms they took. */
  serverReceiveMs?: number;
  serverReceiveBytes?: number;
  /** The tail run locally (fallback). */
  localMs?: number;
  totalMs: number;
}

export interface FrameResult {
  frame: number;
  outcome: Outcome;
  /** Why the frame did not end at the server (fallbacks and failures). */
  reason?: string;
  /** Early exit that answered (index in the configuration). */
  exit?: number;
  /** Top class and its probability, where the answer is class scores [1, K] (never of a map or a sequence). */
  prediction?: number;
  confidence?: number;
  label?: number;
  timings: FrameTimings;
  /** Bytes sent and received for the frame (server outcome). */
  sentBytes?: number;
  receivedBytes?: number;
  /** How the call to the server failed, when it did (what an adaptive edge learns the network from). */
  failure?: FailureKind;
  /** The switching plan's option that ran the frame (adaptive edge). */
  option?: string;
}

/** Largest softmax probability of a row of logits. */
export const topProbability = (logits: ArrayLike<number>): number => softmax(logits).reduce((a, b) => Math.max(a, b), 0);

/** A frame's result and every output it was answered with (the server's, the local tail's, or the exit's scores). */
export interface FrameAnswer {
  result: FrameResult;
  outputs: Record<string, Tensor>;
}

/** Whether an output holds one frame's class scores ([1, K], K > 1): the only outputs a prediction is read from. */
const isClassScores = (t: Tensor): boolean => t.dims.length === 2 && t.dims[0] === 1 && t.dims[1]! > 1 && !(t.data instanceof BigInt64Array || t.data instanceof BigUint64Array);

/** Connection state: when the server may be tried again. */
interface LinkState {
  /** No frame goes to the server before this (performance.now() ms). */
  retryAt: number;
  backoffMs: number;
  why: string;
}

export class EdgeRunner {
  private readonly link: LinkState;

  private constructor(
    readonly config: RuntimeConfig,
    /** The head's inputs: what a frame holds. */
    readonly inputs: readonly TensorMetadata[],
    private readonly head: ort.InferenceSession,
    private readonly tail: ort.InferenceSession | undefined,
    private readonly codec: FittedCodec | undefined,
    private readonly client: InferenceClient,
  ) {
    this.link = { retryAt: 0, backoffMs: config.reconnect.initialMs, why: '' };
  }

  static async open(config: RuntimeConfig): Promise<EdgeRunner> {
    const session = (m: OnnxModel) => createSession(m.proto, m.dir, { threads: config.threads });
    const headModel = loadModel(config.head);
    const head = await session(headModel);
    const tail = config.tail ? await session(loadModel(config.tail)) : undefined;
    const codec = config.codec ? loadWireCodec(config.codec) : undefined;
    const missing = (what: string, names: readonly string[], from: readonly string[]) => {
      const gone = names.filter((n) => !from.includes(n));
      if (gone.length) throw new ImperaError('BAD_RUNTIME_CONFIG', `${what} ${gone.map((n) => `'${n}'`).join(', ')} ${gone.length > 1 ? 'are' : 'is'} not an output of the head '${config.head}'`, `the head's outputs are ${head.outputNames.map((n) => `'${n}'`).join(', ')}`);
    };
    missing('exit output', config.exits.map((e) => e.output), head.outputNames);
    if (tail) missing("the tail's input", tail.inputNames, head.outputNames);
    if (codec) missing('wire tensor', codec.tensors.map((f) => wireName(f.tensor)), head.outputNames);
    const client = createClient({ url: config.server.url, protocol: config.server.protocol, ...(config.server.token ? { token: config.server.token } : {}), ...(config.server.ca ? { ca: config.server.ca } : {}) });
    return new EdgeRunner(config, modelMetadata(headModel.proto, 'head', '1').inputs, head, tail, codec, client);
  }

  private get exitOutputs(): Set<string> {
    return new Set(this.config.exits.map((e) => e.output));
  }

  /** What the server receives: the packed wire bytes, or the head's cut (wire) tensors as they are. */
  private payload(headOut: Record<string, Tensor>): InferTensor[] {
    const cut = this.head.outputNames.filter((n) => !this.exitOutputs.has(n));
    if (!this.codec || this.config.server.wire === 'tensors') return cut.map((n) => inferTensor(n, headOut[n]!));
    const wires = this.codec.tensors.map((f) => headOut[wireName(f.tensor)]!);
    const batch = wires[0]!.dims[0]!;
    const samples = Array.from({ length: batch }, (_, s) =>
      encodeWire(this.codec!, wires.map((w) => {
        const per = w.data.length / batch;
        return (w.data as WireValues).subarray(s * per, (s + 1) * per) as WireValues;
      })),
    );
    return [{ name: PACKED_WIRE_INPUT, datatype: 'BYTES', shape: [batch], data: samples }];
  }

  /** The result of a frame answered by `outputs`, whose `answer` output (if any) it reads a prediction from. */
  private answered(frame: number, outcome: Outcome, outputs: Record<string, Tensor>, answer: string | undefined, timings: FrameTimings, extra: Partial<FrameResult> = {}): FrameAnswer {
    const t = answer === undefined ? undefined : outputs[answer];
    const scores = t && isClassScores(t) ? Array.from(t.data as Float32Array) : undefined;
    return { result: { frame, outcome, ...(scores ? { prediction: argmax(scores), confidence: topProbability(scores) } : {}), ...extra, timings }, outputs };
  }

  /** The name exit `k`'s scores are answered under: the model's output they stand for, where known. */
  private exitKey(k: number): string {
    return this.config.output ?? this.tail?.outputNames[0] ?? this.config.exits[k]!.output;
  }

  /** The answer of exit `k`: its class scores. */
  private exitAnswer(k: number, headOut: Record<string, Tensor>): Record<string, Tensor> {
    return { [this.exitKey(k)]: headOut[this.config.exits[k]!.output]! };
  }

  /** Run the local path after the server could not answer. */
  private async fallback(frame: number, reason: string, headOut: Record<string, Tensor>, timings: Omit<FrameTimings, 'totalMs'>, start: number, extra: Partial<FrameResult>): Promise<FrameAnswer> {
    const policy = this.config.fallback;
    const done = (outcome: Outcome, outputs: Record<string, Tensor>, answer: string | undefined, more: Partial<FrameTimings> = {}, why = reason) =>
      this.answered(frame, outcome, outputs, answer, { ...timings, ...more, totalMs: performance.now() - start }, { ...extra, reason: why });
    if (policy === 'exit') {
      const deepest = this.config.exits.length - 1;
      return done('exit', this.exitAnswer(deepest, headOut), this.exitKey(deepest), {}, `${reason}; answered by exit ${deepest}`);
    }
    if (policy === 'local' && this.tail) {
      const t = performance.now();
      const out = await run(this.tail, Object.fromEntries(this.tail.inputNames.map((n) => [n, headOut[n]!])));
      return done('local', out, this.config.output ?? this.tail.outputNames[0]!, { localMs: performance.now() - t }, `${reason}; ran the tail locally`);
    }
    return done('failed', {}, undefined);
  }

  private noteFailure(e: CallError): string {
    const now = performance.now();
    if (e.kind === 'unreachable') {
      this.link.retryAt = now + this.link.backoffMs;
      this.link.why = `server unreachable (${e.message})`;
      const text = `${this.link.why}; next try in ${Math.round(this.link.backoffMs)} ms`;
      this.link.backoffMs = Math.min(this.config.reconnect.maxMs, this.link.backoffMs * 2);
      return text;
    }
    if (e.kind === 'overloaded') {
      const waitMs = e.retryAfterS !== undefined ? e.retryAfterS * 1000 : this.link.backoffMs;
      this.link.retryAt = now + waitMs;
      this.link.why = 'server overloaded';
      return `server overloaded (${e.message}); next try in ${Math.round(waitMs)} ms`;
    }
    if (e.kind === 'timeout') return `server slower than the latency budget of ${this.config.latencyBudgetMs} ms (${e.message})`;
    return e.message;
  }

  /**
   * The outputs of the server's answer, and the one the result reads (the configured output, else the first); an
   * answer without it, or with it empty or not numbers, is the server's failure.
   */
  private answerOutputs(response: InferResponse): { outputs: Record<string, Tensor>; answer: string } {
    const name = this.config.output ?? response.outputs[0]?.name;
    const out = response.outputs.find((o) => o.name === name);
    if (!out) throw new CallError('server', `the server's answer has no output${name === undefined ? 's' : ` '${name}'`}`);
    const outputs: Record<string, Tensor> = {};
    for (const o of response.outputs) {
      const numbers = !Array.isArray(o.data) && !(o.data instanceof BigInt64Array || o.data instanceof BigUint64Array) && o.data.length > 0;
      if (o === out && !numbers) throw new CallError('server', `the server's output '${o.name}' is ${o.datatype} [${o.shape.join(', ')}], not scores`);
      if (!Array.isArray(o.data)) outputs[o.name] = { dtype: onnxType(o.datatype), dims: o.shape, data: o.data };
    }
    return { outputs, answer: out.name };
  }

  /** Process one frame; never throws for a frame's own failure. */
  async process(frame: number, feeds: Feeds, label?: number): Promise<FrameResult> {
    return (await this.processWithOutputs(frame, feeds, label)).result;
  }

  /** Process one frame, keeping the outputs it was answered with (to save them or score them). */
  async processWithOutputs(frame: number, feeds: Feeds, label?: number): Promise<FrameAnswer> {
    const start = performance.now();
    const extra: Partial<FrameResult> = label !== undefined ? { label } : {};
    const headOut = await run(this.head, feeds);
    const timings: Omit<FrameTimings, 'totalMs'> = { headMs: performance.now() - start };
    const exitAt = this.config.exits.findIndex((e) => topProbability(headOut[e.output]!.data as Float32Array) >= e.threshold);
    if (exitAt >= 0) return this.answered(frame, 'exit', this.exitAnswer(exitAt, headOut), this.exitKey(exitAt), { ...timings, totalMs: performance.now() - start }, { ...extra, exit: exitAt });
    if (performance.now() < this.link.retryAt) return this.fallback(frame, `${this.link.why}; waiting before the next try`, headOut, timings, start, extra);
    const t = performance.now();
    const inputs = this.payload(headOut);
    timings.encodeMs = performance.now() - t;
    const left = this.config.latencyBudgetMs - (performance.now() - start);
    if (left <= 0) return this.fallback(frame, `the latency budget of ${this.config.latencyBudgetMs} ms was spent before sending`, headOut, timings, start, extra);
    const sent = performance.now();
    try {
      const reply = await this.client.infer({ model: this.config.server.model, ...(this.config.server.version ? { version: this.config.server.version } : {}), inputs, timeoutMs: left });
      timings.requestMs = performance.now() - sent;
      const p = reply.response.parameters ?? {};
      if (typeof p[TIMING.queue] === 'number') timings.serverQueueMs = p[TIMING.queue] as number;
      if (typeof p[TIMING.compute] === 'number') timings.serverComputeMs = p[TIMING.compute] as number;
      if (typeof p[TIMING.receive] === 'number') timings.serverReceiveMs = p[TIMING.receive] as number;
      if (typeof p[TIMING.receiveBytes] === 'number') timings.serverReceiveBytes = p[TIMING.receiveBytes] as number;
      this.link.backoffMs = this.config.reconnect.initialMs;
      const { outputs, answer } = this.answerOutputs(reply.response);
      return this.answered(frame, 'server', outputs, answer, { ...timings, totalMs: performance.now() - start }, { ...extra, sentBytes: reply.sentBytes, receivedBytes: reply.receivedBytes });
    } catch (e) {
      if (!(e instanceof CallError)) throw e;
      timings.requestMs = performance.now() - sent;
      return this.fallback(frame, this.noteFailure(e), headOut, timings, start, { ...extra, failure: e.kind });
    }
  }

  /** Run the head (and the local tail) once on `feeds`, so the first real frame does not pay for ONNX Runtime's first run. */
  async warm(feeds: Feeds): Promise<void> {
    const headOut = await run(this.head, feeds);
    if (this.tail) await run(this.tail, Object.fromEntries(this.tail.inputNames.map((n) => [n, headOut[n]!])));
  }

  async close(): Promise<void> {
    this.client.close();
    await this.head.release();
    await this.tail?.release();
  }
}
