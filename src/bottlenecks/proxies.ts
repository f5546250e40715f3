/**
 * Training-free predictors of how well a cut keeps quality once a bottleneck of a given ratio is trained there:
 * fixed linear projections of the cut tensor to that ratio (PCA over channels fitted on calibration data, average
 * pooling over positions), mapped back to the tensor's shape and run through the REAL tail, scored by the task's
 * metric. A trained bottleneck at the same ratio can learn each of these maps (or better), so what the tail still
 * gets right through them says how much of the decision survives so few values at that depth.
 * Work is shared as in eval/: one forward of the full model per batch exposing every candidate tensor, then per
 * cut one tail run with every proxy's round trip stacked along the batch.
 */
import { emitRoundTrip, sourceName } from '../codecs/onnx.js';
import { fitCodecs } from '../codecs/calibrate.js';
import type { FittedTensorCodec } from '../codecs/fitted.js';
import { parseCodec } from '../codecs/spec.js';
import type { Cut } from '../cuts/cuts.js';
import { modelInputs, requireBatchFirst, type Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { splitModel } from '../export/split.js';
import { tensor, type Graph } from '../graph/graph.js';
import { producerInfo } from '../graph/producers.js';
import { channelAxes, tensorLayout, type ChannelLayout } from '../graph/layout.js';
import { DataType } from '../onnx/dtype.js';
import { Emitter } from '../onnx/emitter.js';
import { exposeTensors } from '../onnx/expose.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run, type ort } from '../ort/session.js';
import { chooseTask } from '../task/choose.js';
import { qualityFigure } from '../task/quality.js';
import type { MetricName, OutputInfo, QualityFigure, Task, TaskOptions } from '../task/types.js';

/** The proxies, each a linear map to `ratio` of the elements and back (see `proxyShapes`). */
export const PROXIES = ['project', 'channel', 'spatial'] as const;
export type ProxyName = (typeof PROXIES)[number];

/** One proxy at one tensor: channels kept by PCA (C / divisor; all when the divisor is 1) and the pooling window per position axis. */
export interface ProxyShape {
  name: ProxyName;
  divisor: number;
  channels: number;
  window: number[];
  /** Share of the tensor's elements that cross (what the ratio asked for, up to rounding and the tensor's size). */
  ratio: number;
}

/**
 * The proxies at a tensor of layout `l` and `shape` (batch first) for a bottleneck sending `ratio` of its elements:
 * - project: the bottleneck's own shape (METHODS.md §2: C/4 x H/4 x W/4 at 1/64): the reduction 1/ratio is split
 *   into a pooling window s per position axis, s a power of two with s^(#axes) about (1/ratio)^(2/3) (4 x 4 at
 *   1/64), and the rest over channels (C/4 at 1/64);
 * - channel: channels only, PCA keeping C x ratio;
 * - spatial: positions only, a window s per axis with s^(#axes) = 1/ratio (8 x 8 at 1/64).
 * Windows are capped at the axis' size, channel divisors rounded to whole numbers, at least one channel kept;
 * `ratio` reports what then crosses. A tensor with no position axis ([N, C]) has the channel proxy only.
 */
export function proxyShapes(l: ChannelLayout, shape: readonly number[], ratio: number): ProxyShape[] {
  const reduction = 1 / ratio;
  const axes = l.positionAxes.map((a) => shape[a]!);
  const make = (name: ProxyName, divisor: number, window: number[]): ProxyShape => {
    const d = Math.max(1, Math.round(divisor));
    const channels = Math.max(1, Math.floor(l.channels / d));
    const cells = axes.reduce((p, n, i) => p * Math.ceil(n / window[i]!), 1);
    return { name, divisor: d, channels, window, ratio: (channels * cells) / (l.channels * l.positions) };
  };
  const channelOnly = make('channel', reduction, axes.map(() => 1));
  if (!axes.length) return [channelOnly];
  const s = 2 ** Math.round(Math.log2(reduction) / 3);
  const window = axes.map((n) => Math.min(n, s));
  const spatialWindow = axes.map((n) => Math.min(n, Math.round(reduction ** (1 / axes.length))));
  return [make('project', reduction / window.reduce((p, w) => p * w, 1), window), channelOnly, make('spatial', 1, spatialWindow)];
}

/** A ratio in (0, 1): a fraction like 1/64 or a decimal. */
export function parseRatio(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+(?:\.\d+)?))?\s*$/.exec(text);
  const value = m ? Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2])) : NaN;
  if (!(value > 0 && value < 1)) throw new ImperaError('BAD_ARGUMENT', `the ratio '${text}' is not a share of the elements between 0 and 1`, 'write it as a fraction or a decimal, e.g. 1/64 or 0.015625');
  return value;
}

export interface ProxyOptions {
  /** Share of the cut tensor's elements the bottleneck sends (default 1/64). */
  ratio?: number;
  data: Dataset;
  /** Images the PCA is fitted on (keep them apart from `data`). */
  calibration: Dataset;
  samples?: number;
  calibrationSamples?: number;
  batchSize?: number;
  task?: TaskOptions;
  /** Progress of the calibration pass (the PCAs), then of the scoring. */
  onProgress?: (phase: 'calibrate' | 'proxies', done: number, total: number) => void;
}

export interface CutProxies {
  tensor: string;
  /** Per proxy: its shape and the task's metric through it on the samples. */
  proxies: (ProxyShape & { quality: QualityFigure })[];
}

export interface ProxyReport {
  ratio: number;
  samples: number;
  task: { metric: MetricName; better: 'higher' | 'lower'; reason: string };
  /** The full model's figure (null where the metric compares with the full model: it is the reference). */
  full: QualityFigure | null;
  cuts: CutProxies[];
}

/** The candidate tensor of a single-tensor cut, or a one-line refusal saying why a wider cut has no proxies. */
export function singleTensor(g: Graph, cut: Cut, axes: ReadonlyMap<string, number>): { name: string; layout: ChannelLayout } {
  if (cut.tensors.length !== 1) throw new ImperaError('BAD_ARGUMENT', `cut ${cut.id} crosses ${cut.tensors.length} tensors; a bottleneck (and its predictors) sits on one tensor`, 'name a single-tensor cut (see `impera inspect`)');
  const name = cut.tensors[0]!;
  const layout = tensorLayout(g, name, axes);
  if (!layout) throw new ImperaError('BAD_ARGUMENT', `cut ${cut.id}: tensor '${name}' [${tensor(g, name).shape.join(', ')}] has no channel layout (rank 2 to 4) to project`, 'name a cut on a feature map, token sequence or vector');
  return { name, layout };
}

/** Average pooling by `window` over the position axes and nearest upsampling back: each window's mean everywhere in it. */
function emitPoolBack(e: Emitter, x: string, l: ChannelLayout, shape: readonly number[], window: readonly number[]): string {
  if (window.every((w) => w === 1)) return x;
  const perm = [0, l.channelAxis, ...l.positionAxes];
  const identity = perm.every((a, i) => a === i);
  const first = identity ? x : e.op('Transpose', [x], { perm });
  const sizes = l.positionAxes.map((a) => shape[a]!);
  // windows that do not divide the axis end in a partial window: pooled over its own cells, cropped on the way back
  const ends = sizes.map((n, i) => Math.ceil(n / window[i]!) * window[i]! - n);
  const pads = [...sizes.map(() => 0), ...ends];
  const pooled = e.op('AveragePool', [first], { kernel_shape: [...window], strides: [...window], pads });
  const ones = e.constant(DataType.FLOAT, [l.channels, 1, ...window], new Array<number>(l.channels * window.reduce((p, w) => p * w, 1)).fill(1));
  const back = e.op('ConvTranspose', [pooled, ones], { kernel_shape: [...window], strides: [...window], pads, group: l.channels });
  return identity ? back : e.op('Transpose', [back], { perm: perm.map((_, i) => perm.indexOf(i)) });
}

/**
 * The tail of `cut` fed `t::in`, after each proxy's round trip (PCA, then pooling: the two commute), stacked along
 * the batch proxy after proxy, so one run of the tail scores every proxy.
 */
export function proxyTail(g: Graph, cut: Cut, shapes: readonly ProxyShape[], pcas: ReadonlyMap<ProxyName, FittedTensorCodec>, opset: number): ModelProto {
  const { name, layout } = singleTensor(g, cut, channelAxes(g));
  const tail = splitModel(g, [cut]).parts[1]!.proto;
  const graph = tail.graph!;
  const e = new Emitter(opset, 'proxy');
  const shape = tensor(g, name).shape;
  const trips = shapes.map((p) => {
    const fit = pcas.get(p.name);
    const projected = fit ? emitRoundTrip(e, sourceName(name), fit) : sourceName(name);
    return emitPoolBack(e, projected, layout, shape, p.window);
  });
  e.op('Concat', trips, { axis: 0 }, { output: name });
  const inputs = (graph.input ?? []).map((vi) => (vi.name === name ? onnx.ValueInfoProto.create({ ...vi, name: sourceName(name) }) : vi));
  return onnx.ModelProto.create({ ...tail, graph: { ...graph, input: inputs, node: [...e.nodes, ...(graph.node ?? [])], initializer: [...(graph.initializer ?? []), ...e.initializers] } });
}

/** The task of the model on its data, as eval/ chooses it: from the outputs' shapes and a first batch's value ranges, unless set. */
function taskOf(g: Graph, data: Dataset, out: Record<string, Tensor>, options: TaskOptions = {}): Promise<Task> {
  const range = (t: Tensor): [number, number] => Array.from(t.data, Number).reduce(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);
  const outputs: OutputInfo[] = g.outputs.map((o) => ({ name: o.name!, dims: tensor(g, o.name!).shape, ...(out[o.name!] ? { range: range(out[o.name!]!) } : {}), ...producerInfo(g, o.name!) }));
  return chooseTask(outputs, { labelled: data.labelled, classes: data.labelled ? data.classes.length : 0 }, options);
}

/** Rows [from, from + count) of a batch-first tensor. */
function rows(t: Tensor, from: number, count: number): Tensor {
  const per = t.data.length / t.dims[0]!;
  return { dtype: t.dtype, dims: [count, ...t.dims.slice(1)], data: t.data.subarray(from * per, (from + count) * per) as Tensor['data'] };
}

/**
 * Per cut, the PCA of every proxy that drops channels: one calibration pass for every cut, one spec per channel
 * divisor in use (C / d), so a tensor's moments are gathered once.
 */
async function fitProjections(g: Graph, cuts: readonly Cut[], shapes: readonly ProxyShape[][], o: ProxyOptions): Promise<Map<ProxyName, FittedTensorCodec>[]> {
  const divisors = [...new Set(shapes.flat().filter((p) => p.divisor > 1).map((p) => p.divisor))];
  if (!divisors.length) return cuts.map(() => new Map());
  const specs = divisors.map((d) => parseCodec(`pca:c/${d}`));
  const fitted = await fitCodecs(g, cuts, specs, o.calibration, { samples: o.calibrationSamples ?? 256, onProgress: (d, t) => o.onProgress?.('calibrate', d, t) });
  return cuts.map((cut, c) => new Map(shapes[c]!.filter((p) => p.divisor > 1).map((p) => [p.name, fitted.get(cut.id)![divisors.indexOf(p.divisor)]!.tensors[0]!])));
}

/** Every proxy at every cut, scored by the task's metric on `samples` images of `data`. */
export async function measureProxies(g: Graph, cuts: readonly Cut[], o: ProxyOptions): Promise<ProxyReport> {
  requireBatchFirst(g, 'the bottleneck predictors');
  const ratio = o.ratio ?? 1 / 64;
  const axes = channelAxes(g);
  const shapes = cuts.map((cut) => {
    const { name, layout } = singleTensor(g, cut, axes);
    return proxyShapes(layout, tensor(g, name).shape, ratio);
  });
  const total = Math.min(o.samples ?? o.data.size, o.data.size);
  const batch = o.batchSize ?? 16;
  const inputs = modelInputs(g);
  const opset = g.opsets.get('') ?? 13;
  const pcas = await fitProjections(g, cuts, shapes, o);
  const sessions: ort.InferenceSession[] = [];
  try {
    const full = await createSession(exposeTensors(g.proto, cuts.map((c) => c.tensors[0]!)), g.model.dir);
    sessions.push(full);
    // many sessions live at once: without arenas each returns its activation memory after every run
    const tails: ort.InferenceSession[] = [];
    for (const [c, cut] of cuts.entries()) {
      tails.push(await createSession(proxyTail(g, cut, shapes[c]!, pcas[c]!, opset), g.model.dir, { memoryArena: false }));
      sessions.push(tails[c]!);
    }
    let task: Task | undefined;
    const scores = shapes.map((s) => s.map(() => [] as number[]));
    const fullScores: number[] = [];
    const steps = Math.ceil(total / batch) * (cuts.length + 1);
    for (let start = 0, step = 0; start < total; start += batch) {
      const idx = Array.from({ length: Math.min(batch, total - start) }, (_, i) => start + i);
      const n = idx.length;
      const out = await run(full, o.data.feeds(idx, inputs));
      task ??= await taskOf(g, o.data, out, o.task);
      const reference = Object.fromEntries(task.metric.outputs.map((name) => [name, out[name]!]));
      const labels = o.data.labelled ? idx.map((i) => o.data.label(i)) : null;
      fullScores.push(...(await task.scoreFull({ n, full: reference, labels })));
      o.onProgress?.('proxies', ++step, steps);
      for (const [c, cut] of cuts.entries()) {
        const t = cut.tensors[0]!;
        const tailOut = await run(tails[c]!, { [sourceName(t)]: out[t]! }, task.metric.outputs);
        for (const [k] of shapes[c]!.entries()) {
          const split = Object.fromEntries(task.metric.outputs.map((name) => [name, rows(tailOut[name]!, k * n, n)]));
          scores[c]![k]!.push(...(await task.score({ n, split, full: reference, labels })));
        }
        o.onProgress?.('proxies', ++step, steps);
      }
    }
    const m = task!.metric;
    return {
      ratio,
      samples: total,
      task: { metric: m.name, better: m.better, reason: task!.reason },
      // as in eval/: metrics that compare with the full model (built in, without labels) have it as their reference
      full: !m.needsLabels && !m.name.startsWith('custom:') ? null : qualityFigure(m, fullScores),
      cuts: cuts.map((cut, c) => ({ tensor: cut.tensors[0]!, proxies: shapes[c]!.map((p, k) => ({ ...p, quality: qualityFigure(m, scores[c]![k]!) })) })),
    };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}
