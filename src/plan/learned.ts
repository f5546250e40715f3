/**
 * Learned bottlenecks in the plan (the scenario's `bottleneck: {train: K, ...}`): the candidate cuts ranked by the
 * training-free predictor `predicted` (docs/BOTTLENECKS.md), a bottleneck trained at each of the best K — cached,
 * its folder beside the analysis cache, keyed by model, cut, design, training data, seed and epochs — then each
 * measured as the codec `learned:<folder>` on the plan's images (cached too), so the exploration weighs it beside
 * the training-free codecs.
 */
import { bottleneckSummary, writeBottleneckDir } from '../bottlenecks/files.js';
import { trainBottleneck } from '../bottlenecks/pipeline.js';
import { parseCodec } from '../codecs/spec.js';
import type { Cut } from '../cuts/cuts.js';
import { subsetDataset } from '../data/dataset.js';
import { ImperaError } from '../errors.js';
import { evaluate } from '../eval/evaluate.js';
import { tensor, type Graph } from '../graph/graph.js';
import { tensorLayout } from '../graph/layout.js';
import { modelFingerprint } from '../profile/profile-file.js';
import type { TaskOptions } from '../task/types.js';
import type { AnalysisCache } from '../util/analysis-cache.js';
import { BYTE_SAMPLES, codecFigure, dataKey, rankAnalysis, type CodecFigure, type PlanData } from './analyses.js';

export interface BottleneckPlanOptions {
  /** Bottlenecks to train: at the K candidate cuts with the highest `predicted`. */
  train: number;
  ratio: number;
  epochs: number;
  /** Training images (10 % of them validate). */
  samples: number;
  bits: number;
  deflate: boolean;
  seed: number;
  learningRate: number;
  batchSize: number;
}

export interface LearnedCodecs {
  /** The learned codecs (`learned:<folder>+int<bits>[+deflate]`), one per trained cut. */
  codecs: string[];
  /** Their figures at their cuts, as the quality analysis keeps every codec's. */
  figures: CodecFigure[];
  trained: { cut: string; predicted: number; codec: string; trainSamples: number; epochs: number; bestEpoch: number }[];
}

/** Candidates a bottleneck can sit on: one tensor with channels (a feature map, token sequence or vector). */
const trainable = (g: Graph, cut: Cut): boolean => cut.tensors.length === 1 && [2, 3, 4].includes(tensor(g, cut.tensors[0]!).shape.length) && tensorLayout(g, cut.tensors[0]!) !== undefined;

/**
 * Train (or take from the cache) bottlenecks at the best `o.train` of `cuts` and measure each as a codec on
 * `evalData`; `data` gives the training images. Cached: `cached` is true only when nothing was trained or measured.
 */
export async function learnedAnalysis(g: Graph, cuts: readonly Cut[], data: PlanData, evalData: PlanData, o: BottleneckPlanOptions, task: TaskOptions, cache: AnalysisCache, onProgress?: (stage: string, done: number, total: number) => void): Promise<{ value: LearnedCodecs; cached: boolean }> {
  const candidates = cuts.filter((c) => trainable(g, c));
  if (!candidates.length) return { value: { codecs: [], figures: [], trained: [] }, cached: true };
  const ranking = await rankAnalysis(g, data, candidates.map((c) => c.tensors[0]!), { samples: 64, ratio: o.ratio }, cache, (d, t) => onProgress?.('ranking', d, t));
  const best = [...ranking.value.layers].sort((a, b) => b.predicted - a.predicted || a.cut - b.cut).slice(0, o.train);
  let cached = ranking.cached;
  const out: LearnedCodecs = { codecs: [], figures: [], trained: [] };
  for (const [k, pick] of best.entries()) {
    const cut = candidates.find((c) => c.tensors[0] === pick.layer)!;
    const trainKey = { model: modelFingerprint(g.model), cut: pick.layer, ratio: o.ratio, epochs: o.epochs, samples: o.samples, seed: o.seed, learningRate: o.learningRate, batchSize: o.batchSize, bits: o.bits, deflate: o.deflate, train: { name: data.train.name, size: data.train.size, tested: data.testedInTrain?.length ?? 0 } };
    const folder = cache.folder('bottleneck', trainKey);
    const stage = (s: string) => `${s} ${k + 1}/${best.length}`;
    const trained = await cache.get('bottleneck', trainKey, async () => {
      const tested = new Set(data.testedInTrain ?? []);
      const free = Array.from({ length: data.train.size }, (_, i) => i).filter((i) => !tested.has(i));
      if (free.length < 2 * o.batchSize) throw new ImperaError('BAD_SCENARIO', `bottleneck: ${data.train.name} leaves ${free.length} images beside the ${tested.size} the plan tests on, too few to train on`, 'give data with a training split of its own, or more images than samples:');
      const train = subsetDataset(data.train, free.slice(0, o.samples));
      // the plan measures the codec on its own images below: the pipeline's own test is one image
      const r = await trainBottleneck(g, cut, { train, test: subsetDataset(data.test, [0]) }, { ratio: o.ratio, epochs: o.epochs, bits: o.bits, deflate: o.deflate, seed: o.seed, learningRate: o.learningRate, batchSize: o.batchSize, onProgress: (phase, d, t, epoch) => onProgress?.(stage(phase === 'train' ? `bottleneck training, epoch ${epoch}` : `bottleneck ${phase}`), d, t) });
      writeBottleneckDir(folder, g, cut, r, bottleneckSummary(r));
      return { dir: folder, trainSamples: r.trainSamples, epochs: r.epochs, bestEpoch: r.bestEpoch };
    });
    const codec = `learned:${trained.value.dir}+int${o.bits}${o.deflate ? '+deflate' : ''}`;
    const figure = await cache.get('bottleneck-quality', { trained: trainKey, codec, data: dataKey(evalData), task }, async () => {
      const report = await evaluate(g, { cuts: [cut], codecs: [parseCodec(codec)], data: evalData.test, calibration: evalData.calibration, samples: evalData.samples, byteSamples: Math.min(BYTE_SAMPLES, evalData.samples), task, detail: true, onProgress: (s, d, t) => onProgress?.(stage(`bottleneck ${s}`), d, t) });
      return codecFigure(cut.id, report.cuts[0]!.codecs[0]!);
    });
    cached &&= trained.cached && figure.cached;
    out.codecs.push(codec);
    out.figures.push(figure.value);
    out.trained.push({ cut: cut.id, predicted: pick.predicted, codec, trainSamples: trained.value.trainSamples, epochs: trained.value.epochs, bestEpoch: trained.value.bestEpoch });
  }
  return { value: out, cached };
}
