/**
 * Fitting codecs on calibration data (by default images from the training split, never the test images the
 * evaluation uses). The statistics are computed in ONNX Runtime by the model itself with small heads appended to
 * each cut tensor — per-channel min/max, the channel Gram matrix for PCA, a strided sample for percentiles — so
 * only small tensors reach JavaScript. PCA + quantisation needs a second pass over the projected tensor.
 */
import { Emitter } from '../onnx/emitter.js';
import type { Cut } from '../cuts/cuts.js';
import { modelInputs, type Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { batchAxis, takesAnyBatch, tensor, type Graph } from '../graph/graph.js';
import { channelAxes, tensorLayout } from '../graph/layout.js';
import { valueInfo } from '../onnx/builder.js';
import { DataType, dtypeName, numel } from '../onnx/dtype.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { createSession, run } from '../ort/session.js';
import { emitEncode } from './onnx.js';
import { checkLearnedAt, emitLearned, loadLearned, type LearnedStage } from './learned.js';
import { fitPca, type ChannelMoments, type Pca } from './pca.js';
import { codecParamBytes, type FittedCodec, type FittedTensorCodec } from './fitted.js';
import type { CodecSpec } from './spec.js';
import { quantile } from '../util/stats.js';

export interface CalibrationOptions {
  /** Calibration images (default 256). */
  samples?: number;
  /** Default 16, or 1 for a model with a fixed batch. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Values kept per channel for percentile calibration. */
const RESERVOIR = 4096;

interface Stats {
  min: Float64Array;
  max: Float64Array;
  samples: number[][];
  moments?: ChannelMoments;
}

interface Plan {
  tensor: string;
  rank: number;
  channelAxis: number;
  channels: number;
  /** PCA sizes wanted for this tensor. */
  pcaKs: Set<number>;
  /** Learned bottlenecks trained at this tensor, by folder (their latents' ranges are fitted in the first pass). */
  learned: Map<string, LearnedStage>;
  percentiles: boolean;
}

/** Key of a learned latent's statistics. */
const learnedKey = (t: string, dir: string) => `${t}@learned:${dir}`;

/** The k a PCA stage keeps for a tensor with `channels` channels: k as given (at most C), or max(1, floor(C / d)). */
function pcaK(spec: CodecSpec, tensorName: string, channels: number): number {
  const k = spec.pca!.k ?? Math.max(1, Math.floor(channels / spec.pca!.divisor!));
  if (k > channels) throw new ImperaError('BAD_CODEC', `codec '${spec.name}' keeps ${k} PCA channels, but '${tensorName}' has only ${channels}`, `use k <= ${channels}`);
  return k;
}

function planTensors(g: Graph, cuts: readonly Cut[], specs: readonly CodecSpec[], learned: ReadonlyMap<string, LearnedStage>): Map<string, Plan> {
  const plans = new Map<string, Plan>();
  const axes = channelAxes(g);
  for (const cut of cuts) {
    for (const t of cut.tensors.filter((name) => !passthroughType(g, name))) {
      const shape = tensor(g, t).shape;
      const layout = tensorLayout(g, t, axes);
      const plan = plans.get(t) ?? { tensor: t, rank: shape.length, channelAxis: layout?.channelAxis ?? -1, channels: layout?.channels ?? 1, pcaKs: new Set<number>(), learned: new Map(), percentiles: false };
      for (const spec of specs) {
        if (spec.learned) {
          const stage = learned.get(spec.learned.dir)!;
          checkLearnedAt(stage, spec.name, t, shape);
          plan.learned.set(stage.dir, stage);
        }
        if (spec.pca) {
          if (!layout) throw new ImperaError('BAD_CODEC', `codec '${spec.name}' needs channels, but cut tensor '${t}' has shape [${shape}]`, 'PCA works on [N, C, H, W], [N, T, C] and [N, C] tensors');
          plan.pcaKs.add(pcaK(spec, t, layout.channels));
        }
        if (spec.quant?.percentile !== undefined) plan.percentiles = true;
      }
      plans.set(t, plan);
    }
  }
  return plans;
}

const range = (n: number) => [...Array(n).keys()];

/** The element type of a cut tensor codecs leave as it is (anything but float32), or undefined. */
const passthroughType = (g: Graph, t: string): string | undefined => {
  const dtype = tensor(g, t).dtype;
  return dtype === DataType.FLOAT ? undefined : dtypeName(dtype);
};

/** Elements of one sample of a tensor (the analysed shape over its batch, on whichever axis it is). */
const perSample = (g: Graph, t: string): number => {
  const shape = tensor(g, t).shape;
  return numel(shape) / (shape[batchAxis(g, t)] ?? 1);
};

/**
 * Append statistics heads for `source` (named `prefix`) to an emitter: per-channel min and max, and optionally
 * the Gram matrix and channel sums (PCA) and the values as rows (percentiles). Returns the output names.
 */
function statsHeads(e: Emitter, source: string, prefix: string, plan: Plan, channels: number, moments: boolean): string[] {
  const others = range(plan.rank).filter((a) => a !== plan.channelAxis);
  const name = (suffix: string, t: string) => e.op('Identity', [t], {}, { output: `${prefix}::${suffix}` });
  const outs = [name('min', e.reduce('ReduceMin', source, others, false)), name('max', e.reduce('ReduceMax', source, others, false))];
  // one row per (sample, position), channels last
  const rows = e.op('Reshape', [plan.channelAxis < 0 ? source : e.op('Transpose', [source], { perm: [...others, plan.channelAxis] }), e.ints([-1, channels])]);
  if (moments) {
    outs.push(name('gram', e.op('MatMul', [e.op('Transpose', [rows], { perm: [1, 0] }), rows])));
    outs.push(name('sum', e.reduceSum(rows, [0], false)));
  }
  if (plan.percentiles) outs.push(name('rows', rows));
  return outs;
}

interface Head {
  key: string;
  plan: Plan;
  channels: number;
  /** Positions per sample (rows each image adds to the moments). */
  positions: number;
  moments: boolean;
}

/** The model plus statistics heads; `pcas` given, PCA encoders go first (the second pass, on projected tensors). */
function statsModel(g: Graph, plans: readonly Plan[], pcas?: ReadonlyMap<string, Pca>): { proto: ModelProto; heads: Head[] } {
  const e = new Emitter(g.opsets.get('') ?? 13, 'calib');
  const heads: Head[] = [];
  const outputs: string[] = [];
  for (const plan of plans) {
    const positions = perSample(g, plan.tensor) / plan.channels;
    const sources: [string, Pca | undefined][] = pcas ? [...pcas].filter(([key]) => key.startsWith(`${plan.tensor}@`)) : [[plan.tensor, undefined]];
    for (const [key, pca] of sources) {
      const source = pca ? emitEncode(e, plan.tensor, { tensor: plan.tensor, rank: plan.rank, channelAxis: plan.channelAxis, wireElements: 0, pca }) : plan.tensor;
      const head = { key, plan, channels: pca ? pca.k : plan.channels, positions, moments: !pca && plan.pcaKs.size > 0 };
      outputs.push(...statsHeads(e, source, key, plan, head.channels, head.moments));
      heads.push(head);
    }
    // learned latents: ranges (and percentiles) of the encoder's output, in the first pass
    for (const stage of pcas ? [] : plan.learned.values()) {
      const channels = stage.latentShape[plan.channelAxis]!;
      const head = { key: learnedKey(plan.tensor, stage.dir), plan, channels, positions: numel(stage.latentShape.slice(1)) / channels, moments: false };
      outputs.push(...statsHeads(e, emitLearned(e, plan.tensor, stage.encoder), head.key, plan, channels, false));
      heads.push(head);
    }
  }
  const graph = g.proto.graph!;
  const proto = onnx.ModelProto.create({
    ...g.proto,
    graph: { ...graph, node: [...(graph.node ?? []), ...e.nodes], initializer: [...(graph.initializer ?? []), ...e.initializers], output: outputs.map((n) => valueInfo(n, DataType.FLOAT)) },
  });
  return { proto, heads };
}

async function collect(g: Graph, data: Dataset, model: ReturnType<typeof statsModel>, opts: CalibrationOptions): Promise<Map<string, Stats>> {
  const stats = new Map<string, Stats>();
  for (const h of model.heads) {
    stats.set(h.key, {
      min: new Float64Array(h.channels).fill(Infinity),
      max: new Float64Array(h.channels).fill(-Infinity),
      samples: h.plan.percentiles ? range(h.channels).map(() => []) : [],
      ...(h.moments ? { moments: { gram: new Float64Array(h.channels * h.channels), sum: new Float64Array(h.channels), count: 0 } } : {}),
    });
  }
  const inputs = modelInputs(g);
  const count = Math.min(opts.samples ?? 256, data.size);
  const batch = opts.batchSize ?? (takesAnyBatch(g) ? 16 : 1);
  const session = await createSession(model.proto, g.model.dir);
  let seen = 0;
  try {
    for (let start = 0; start < count; start += batch) {
      const idx = range(Math.min(batch, count - start)).map((i) => start + i);
      const out = await run(session, data.feeds(idx, inputs));
      for (const h of model.heads) {
        const s = stats.get(h.key)!;
        const mn = out[`${h.key}::min`]!.data as Float32Array;
        const mx = out[`${h.key}::max`]!.data as Float32Array;
        for (let i = 0; i < h.channels; i++) {
          s.min[i] = Math.min(s.min[i]!, mn[i] ?? mn[0]!);
          s.max[i] = Math.max(s.max[i]!, mx[i] ?? mx[0]!);
        }
        if (s.moments) {
          (out[`${h.key}::gram`]!.data as Float32Array).forEach((v, i) => (s.moments!.gram[i]! += v));
          (out[`${h.key}::sum`]!.data as Float32Array).forEach((v, i) => (s.moments!.sum[i]! += v));
          s.moments.count += idx.length * h.positions;
        }
        if (h.plan.percentiles) reservoir(s, out[`${h.key}::rows`]!.data as Float32Array, h.channels, seen);
      }
      seen += idx.length;
      opts.onProgress?.(seen, count);
    }
  } finally {
    await session.release();
  }
  return stats;
}

/** Keep a bounded, evenly strided sample of each channel's values. */
function reservoir(s: Stats, rows: Float32Array, channels: number, seen: number): void {
  const n = rows.length / channels;
  const per = Math.max(1, Math.floor(n / 64));
  for (let r = (seen * 7) % per; r < n; r += per) {
    for (let ch = 0; ch < channels; ch++) {
      const bucket = s.samples[ch]!;
      if (bucket.length < RESERVOIR) bucket.push(rows[r * channels + ch]!);
      else bucket[(r * 31 + ch + seen) % RESERVOIR] = rows[r * channels + ch]!;
    }
  }
}

const percentile = (values: number[], p: number): number => (values.length ? quantile(values, p / 100) : 0);

/** Scale and zero point of an affine quantiser covering [lo, hi]. */
function affine(lo: number, hi: number, bits: number): [number, number] {
  const levels = 2 ** bits - 1;
  const [a, b] = [Math.min(lo, 0), Math.max(hi, 0)]; // keep 0 exact: post-ReLU zeros stay zeros (sparse coding)
  const scale = b > a ? (b - a) / levels : 1;
  return [scale, Math.min(levels, Math.max(0, Math.round(-a / scale)))];
}

function quantParams(spec: CodecSpec, s: Stats, channels: number, perChannelPossible: boolean): FittedTensorCodec['quant'] {
  const q = spec.quant!;
  const perChannel = q.granularity === 'channel' && perChannelPossible;
  const groups = perChannel ? range(channels).map((c) => [c]) : [range(channels)];
  const ranges = groups.map((chs) => {
    if (q.percentile === undefined) return [Math.min(...chs.map((c) => s.min[c]!)), Math.max(...chs.map((c) => s.max[c]!))] as const;
    const values = chs.flatMap((c) => s.samples[c]!);
    return [percentile(values, 100 - q.percentile), percentile(values, q.percentile)] as const;
  });
  const params = ranges.map(([lo, hi]) => affine(lo, hi, q.bits));
  return { bits: q.bits, scale: Float32Array.from(params.map((p) => p[0])), zeroPoint: Float32Array.from(params.map((p) => p[1])) };
}

/** Fit every codec to every cut: per cut id, one FittedCodec per spec (same order). */
export async function fitCodecs(g: Graph, cuts: readonly Cut[], specs: readonly CodecSpec[], data: Dataset, opts: CalibrationOptions = {}): Promise<Map<string, FittedCodec[]>> {
  const learned = new Map<string, LearnedStage>();
  for (const spec of specs) if (spec.learned && !learned.has(spec.learned.dir)) learned.set(spec.learned.dir, await loadLearned(spec.learned.dir, spec.name));
  const plans = planTensors(g, cuts, specs, learned);
  const needsData = specs.some((s) => s.pca || s.quant);
  const first = needsData ? await collect(g, data, statsModel(g, [...plans.values()]), opts) : new Map<string, Stats>();
  const pcas = new Map<string, Pca>();
  for (const plan of plans.values()) for (const k of plan.pcaKs) pcas.set(`${plan.tensor}@${k}`, await fitPca(first.get(plan.tensor)!.moments!, k));
  const projectedQuant = specs.some((s) => s.pca && s.quant);
  const second = projectedQuant ? await collect(g, data, statsModel(g, [...plans.values()].filter((p) => p.pcaKs.size > 0), pcas), opts) : new Map<string, Stats>();
  const fitted = new Map<string, FittedCodec[]>();
  for (const cut of cuts) {
    fitted.set(
      cut.id,
      specs.map((spec) => {
        const tensors = cut.tensors.map((t): FittedTensorCodec => {
          const passthrough = passthroughType(g, t);
          if (passthrough) return { tensor: t, rank: tensor(g, t).shape.length, channelAxis: -1, wireElements: perSample(g, t), passthrough };
          const plan = plans.get(t)!;
          if (spec.learned) return fitLearned(spec, plan, learned.get(spec.learned.dir)!, first.get(learnedKey(t, spec.learned.dir)));
          const k = spec.pca ? pcaK(spec, t, plan.channels) : undefined;
          const pca = k ? pcas.get(`${t}@${k}`) : undefined;
          const channels = pca ? pca.k : plan.channels;
          const stats = pca ? second.get(`${t}@${k}`) : first.get(t);
          const elements = perSample(g, t);
          return {
            tensor: t,
            rank: plan.rank,
            channelAxis: plan.channelAxis,
            wireElements: pca ? (elements / plan.channels) * pca.k : elements,
            ...(pca ? { pca: { ...pca } } : {}),
            ...(spec.quant ? { quant: quantParams(spec, stats!, channels, plan.channelAxis >= 0) } : {}),
            ...(spec.fp16 ? { fp16: true } : {}),
          };
        });
        return { spec, tensors, paramBytes: codecParamBytes(tensors) };
      }),
    );
  }
  return fitted;
}

/** A learned bottleneck's codec at its tensor: the latent on the wire, quantised with ranges fitted on its calibration values. */
function fitLearned(spec: CodecSpec, plan: Plan, stage: LearnedStage, stats: Stats | undefined): FittedTensorCodec {
  return {
    tensor: plan.tensor,
    rank: plan.rank,
    channelAxis: plan.channelAxis,
    wireElements: numel(stage.latentShape.slice(1)),
    learned: stage,
    ...(spec.quant ? { quant: quantParams(spec, stats!, stage.latentShape[plan.channelAxis]!, true) } : {}),
    ...(spec.fp16 ? { fp16: true } : {}),
  };
}
