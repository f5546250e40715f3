/**
 * Accuracy and bytes of every cut x codec on a labelled dataset. The work is the unavoidable minimum: one forward
 * pass of the full model per image batch, exposing every cut tensor at once (each head computed once), then for
 * every lossy codec one codec round trip and one tail pass per batch; lossless codecs reuse the full model's
 * predictions. Bytes are measured per sample (batch 1, as sc2bench reports) on the first `byteSamples` images by
 * running the real wire encoder.
 */
import { emitStackedRoundTrips, multiEncoderModel, sourceName } from '../codecs/onnx.js';
import { Emitter } from '../onnx/emitter.js';
import { valueInfo } from '../onnx/builder.js';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { fitCodecs } from '../codecs/calibrate.js';
import type { FittedCodec, FittedTensorCodec } from '../codecs/fitted.js';
import { isLossy, type CodecSpec } from '../codecs/spec.js';
import { packWire, encodeWire, type WireValues } from '../codecs/wire.js';
import type { Cut, CutTensor } from '../cuts/cuts.js';
import type { Dataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { splitModel } from '../export/split.js';
import { symbolicShape, tensor, type Graph } from '../graph/graph.js';
import { DataType } from '../onnx/dtype.js';
import { exposeTensors } from '../onnx/expose.js';
import type { Tensor } from '../onnx/tensor.js';
import { createSession, run, type ort } from '../ort/session.js';
import { argmax, mean, quantile, wilson } from '../util/stats.js';
import { paretoFront } from './pareto.js';

export interface EvaluateOptions {
  cuts: readonly Cut[];
  codecs: readonly CodecSpec[];
  data: Dataset;
  /** Images the codecs are fitted on (keep them apart from `data`). */
  calibration: Dataset;
  samples?: number;
  byteSamples?: number;
  calibrationSamples?: number;
  batchSize?: number;
  /** Keep each image's predicted class and each measured sample's bytes (CodecEval.predictions, .byteSizes). */
  detail?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface CodecEval {
  codec: string;
  lossy: boolean;
  accuracy: number;
  /** 95 % Wilson interval. */
  ci: [number, number];
  /** Share of images predicted as the full model predicts them. */
  agreement: number;
  /** Bytes per sample on the wire (batch 1). */
  bytes: { mean: number; p95: number; samples: number };
  /** Mean bytes before the entropy stage. */
  packedBytes: number;
  /** What the device stores: the head's weights plus the codec's parameters. */
  encoderBytes: number;
  /** Share of variance the PCA stage keeps (the least over the cut's tensors). */
  pcaExplained?: number;
  /** With `detail`: the predicted class of every image, and the bytes of every measured sample. */
  predictions?: number[];
  byteSizes?: number[];
}

export interface CutEval {
  index: number;
  id: string;
  tensors: CutTensor[];
  /** Bytes of the cut tensors as float32. */
  floatBytes: number;
  codecs: CodecEval[];
  /** Codecs on the rate-accuracy Pareto front, by increasing bytes. */
  front: string[];
}

export interface EvalTiming {
  wallS: number;
  calibrationS: number;
  /** ONNX Runtime running the full model and the tails (the unavoidable passes). */
  fullS: number;
  tailS: number;
  /**
   * The tail passes include decoding (they are the codec's round trip plus the tail, fused); codecS estimates the
   * share of that spent in the round trips, from one timed batch per cut. bytesS: encoder runs and the wire encoder.
   */
  codecS: number;
  bytesS: number;
}

export interface EvalReport {
  dataset: string;
  samples: number;
  full: { accuracy: number; ci: [number, number] };
  cuts: CutEval[];
  timing: EvalTiming;
}

const rowsOf = (t: Tensor, n: number): number => t.data.length / n;

/** Interface dims of a codec model: the tensor's own, with the channel count k on the wire after PCA. */
function codecDims(g: Graph) {
  return (fit: FittedTensorCodec, wire: boolean) => {
    const dims = symbolicShape(g, fit.tensor);
    if (wire && fit.pca) dims[fit.channelAxis] = fit.pca.k;
    return dims;
  };
}

export async function evaluate(g: Graph, options: EvaluateOptions): Promise<EvalReport> {
  const started = performance.now();
  const { cuts, codecs, data } = options;
  const inputs = [...g.inputShapes];
  if (inputs.length !== 1 || inputs[0]![1].shape.length !== 4) throw new ImperaError('BAD_ARGUMENT', 'evaluation needs a model with one image input [N, C, H, W]');
  const [inputName, inputInfo] = inputs[0]!;
  const [, channels, height, width] = inputInfo.shape as [number, number, number, number];
  const classes = tensor(g, g.outputs[0]!.name!).shape[1]!;
  const total = Math.min(options.samples ?? data.size, data.size);
  for (let i = 0; i < total; i++) {
    const label = data.label(i);
    if (label >= classes) throw new ImperaError('DATASET', `'${data.name}' has class index ${label} (${data.classes[label]}), but the model only has ${classes} classes`);
  }
  const byteSamples = Math.min(options.byteSamples ?? 100, total);
  const batch = options.batchSize ?? 16;
  const opset = g.opsets.get('') ?? 13;

  const t0 = performance.now();
  const fitted = await fitCodecs(g, cuts, codecs, options.calibration, { samples: options.calibrationSamples ?? 256, onProgress: (d, t) => options.onProgress?.('calibrate', d, t) });
  const calibrationS = (performance.now() - t0) / 1000;

  const logitsName = g.outputs[0]!.name!;
  // many sessions live at once: without arenas each returns its activation memory after every run
  const sessionOptions = { memoryArena: false };
  const full = await createSession(exposeTensors(g.proto, cuts.flatMap((c) => c.tensors)), g.model.dir);
  const fused = new Map<string, ort.InferenceSession>();
  const encoders = new Map<string, ort.InferenceSession>();
  const timing = { fullS: 0, tailS: 0, codecS: 0, bytesS: 0 };
  const timed = async <T>(key: keyof typeof timing, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      timing[key] += (performance.now() - t) / 1000;
    }
  };
  const acc = cuts.map((cut) => fitted.get(cut.id)!.map(() => ({ correct: 0, agree: 0, bytes: [] as number[], packed: [] as number[], predictions: [] as number[] })));
  const lossyOf = (cut: Cut) => fitted.get(cut.id)!.flatMap((f, k) => (isLossy(f.spec) ? [k] : []));
  const batches = Math.ceil(total / batch);
  let fullCorrect = 0;
  try {
    for (const cut of cuts) {
      const fits = fitted.get(cut.id)!;
      const lossy = lossyOf(cut);
      if (lossy.length) fused.set(cut.id, await createSession(fusedTail(g, cut, lossy.map((k) => fits[k]!.tensors), opset), g.model.dir, sessionOptions));
      if (byteSamples > 0) encoders.set(cut.id, await createSession(multiEncoderModel(fits.map((f) => f.tensors), opset, codecDims(g)), '.', sessionOptions));
    }
    for (let start = 0; start < total; start += batch) {
      const idx = Array.from({ length: Math.min(batch, total - start) }, (_, i) => start + i);
      const labels = idx.map((i) => data.label(i));
      const feeds = { [inputName]: { dtype: DataType.FLOAT, dims: [idx.length, channels, height, width], data: data.load(idx, { channels, height, width }) } };
      const out = await timed('fullS', () => run(full, feeds));
      const logits = out[logitsName]!;
      const fullPred = idx.map((_, n) => argmax(logits.data.subarray(n * classes, (n + 1) * classes) as Float32Array));
      fullPred.forEach((p, n) => p === labels[n] && fullCorrect++);
      const measure = Math.max(0, Math.min(idx.length, byteSamples - start)); // images of this batch whose bytes are measured
      for (const [c, cut] of cuts.entries()) {
        const fits = fitted.get(cut.id)!;
        if (measure > 0) {
          const wire = await timed('bytesS', () => run(encoders.get(cut.id)!, Object.fromEntries(cut.tensors.map((t) => [t, out[t]!]))));
          await timed('bytesS', async () => fits.forEach((fit, k) => measureBytes(fit, cut.tensors.map((t) => wire[`${t}::wire::${k}`]!), measure, acc[c]![k]!)));
          if (start + batch >= byteSamples) {
            await encoders.get(cut.id)!.release();
            encoders.delete(cut.id);
          }
        }
        fits.forEach((fit, k) => {
          if (isLossy(fit.spec)) return;
          const a = acc[c]![k]!;
          fullPred.forEach((p, n) => {
            if (p === labels[n]) a.correct++;
            a.agree++;
          });
          if (options.detail) a.predictions.push(...fullPred);
        });
        const lossy = lossyOf(cut);
        if (!lossy.length) continue;
        // one tail run for every lossy codec: the batch is codec after codec
        const tailOut = await timed('tailS', () => run(fused.get(cut.id)!, Object.fromEntries(cut.tensors.map((t) => [sourceName(t), out[t]!])), [logitsName]));
        const tl = tailOut[logitsName]!.data as Float32Array;
        lossy.forEach((k, j) => {
          const a = acc[c]![k]!;
          labels.forEach((label, n) => {
            const row = (j * idx.length + n) * classes;
            const p = argmax(tl.subarray(row, row + classes));
            if (p === label) a.correct++;
            if (p === fullPred[n]) a.agree++;
            if (options.detail) a.predictions.push(p);
          });
        });
        if (start === 0) timing.codecS += (await codecShare(cut, lossy.map((k) => fits[k]!.tensors), out, opset, g)) * batches;
      }
      options.onProgress?.('evaluate', start + idx.length, total);
    }
  } finally {
    await Promise.all([full, ...fused.values(), ...encoders.values()].map((s) => s.release()));
  }
  const cutEvals = cuts.map((cut, c): CutEval => {
    const evals = fitted.get(cut.id)!.map((fit, k): CodecEval => {
      const a = acc[c]![k]!;
      const explained = fit.tensors.filter((t) => t.pca).map((t) => t.pca!.explained);
      return {
        codec: fit.spec.name,
        lossy: isLossy(fit.spec),
        accuracy: a.correct / total,
        ci: wilson(a.correct, total),
        agreement: a.agree / total,
        bytes: { mean: mean(a.bytes), p95: quantile(a.bytes, 0.95), samples: a.bytes.length },
        packedBytes: mean(a.packed),
        encoderBytes: cut.headCost.paramBytes + fit.paramBytes,
        ...(explained.length ? { pcaExplained: Math.min(...explained) } : {}),
        ...(options.detail ? { predictions: a.predictions, byteSizes: a.bytes } : {}),
      };
    });
    return {
      index: cut.index,
      id: cut.id,
      tensors: cut.detail,
      floatBytes: cut.wireBytes.float32,
      codecs: evals,
      front: paretoFront(evals.map((e) => ({ label: e.codec, bytes: e.bytes.mean, accuracy: e.accuracy }))).map((p) => p.label),
    };
  });
  return {
    dataset: data.name,
    samples: total,
    full: { accuracy: fullCorrect / total, ci: wilson(fullCorrect, total) },
    cuts: cutEvals,
    timing: { wallS: (performance.now() - started) / 1000, calibrationS, ...timing },
  };
}

/** The tail of `cut` preceded by the round trips of several codecs, stacked along the batch (see emitStackedRoundTrips). */
function fusedTail(g: Graph, cut: Cut, codecs: readonly (readonly FittedTensorCodec[])[], opset: number): ModelProto {
  const tail = splitModel(g, [cut]).parts[1]!.proto;
  const graph = tail.graph!;
  const e = new Emitter(opset, 'codec');
  emitStackedRoundTrips(e, codecs);
  const inputs = (graph.input ?? []).map((vi) => (cut.tensors.includes(vi.name!) ? onnx.ValueInfoProto.create({ ...vi, name: sourceName(vi.name!) }) : vi));
  return onnx.ModelProto.create({ ...tail, graph: { ...graph, input: inputs, node: [...e.nodes, ...(graph.node ?? [])], initializer: [...(graph.initializer ?? []), ...e.initializers] } });
}

/** Seconds the codec round trips alone take on one batch (what the fused tail runs spend decoding). */
async function codecShare(cut: Cut, codecs: readonly (readonly FittedTensorCodec[])[], out: Record<string, Tensor>, opset: number, g: Graph): Promise<number> {
  const e = new Emitter(opset, 'codec');
  emitStackedRoundTrips(e, codecs);
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'roundtrips', node: e.nodes, initializer: e.initializers, input: cut.tensors.map((t) => valueInfo(sourceName(t), DataType.FLOAT, symbolicShape(g, t))), output: cut.tensors.map((t) => valueInfo(t, DataType.FLOAT)) },
  });
  const session = await createSession(proto, '.', { memoryArena: false });
  try {
    const feeds = Object.fromEntries(cut.tensors.map((t) => [sourceName(t), out[t]!]));
    await run(session, feeds); // warm-up
    const t0 = performance.now();
    await run(session, feeds);
    return (performance.now() - t0) / 1000;
  } finally {
    await session.release();
  }
}

/** Wire bytes of the first `count` samples of a batch, one sample at a time. */
function measureBytes(fit: FittedCodec, wire: readonly Tensor[], count: number, into: { bytes: number[]; packed: number[] }): void {
  for (let n = 0; n < count; n++) {
    const sample = wire.map((t) => {
      const per = rowsOf(t, t.dims[0]!);
      return t.data.subarray(n * per, (n + 1) * per) as WireValues;
    });
    const packed = packWire(fit, sample);
    into.packed.push(packed.length);
    into.bytes.push(encodeWire(fit, sample, packed).length);
  }
}
