/**
 * A trained bottleneck's folder: what `impera split --codec` writes for the deployed pair (head.onnx ending in the
 * encoder and the wire codec, tail.onnx starting with the decoder, codec.json, split.json), the model with the
 * bottleneck inside, the encoder and decoder alone and bottleneck.json — which the `learned:DIR` codec reads
 * (codecs/learned.ts), so `eval`, `plan`, `split`, `serve` and `edge` use it like any codec.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEARNED_FILES } from '../codecs/learned.js';
import { cutRecord, type Cut } from '../cuts/cuts.js';
import { describeWire } from '../export/codec.js';
import { writeManifest, writeParts } from '../export/split.js';
import type { Graph } from '../graph/graph.js';
import { saveModel } from '../onnx/io.js';
import type { TrainedBottleneck } from './pipeline.js';

/** What bottleneck.json and `impera bottleneck --json` say about a trained bottleneck. */
export function bottleneckSummary(r: TrainedBottleneck) {
  return {
    cut: r.cut,
    latent: r.latent,
    design: { layout: r.design.layout, channels: r.design.channels, hidden: r.design.hidden, latentChannels: r.design.latentChannels, stride: r.design.stride, ratio: r.design.ratio, latentShape: r.design.latentShape },
    loss: r.loss,
    quality: r.quality,
    fullQuality: r.fullQuality,
    bytesPerSample: r.bytesPerSample,
    rawBytes: r.rawBytes,
    elementsRatio: r.elementsRatio,
    epochs: r.epochs,
    bestEpoch: r.bestEpoch,
    trainSamples: r.trainSamples,
    history: r.history,
    codec: r.codec.spec.name,
  };
}

/** Write the folder; bottleneck.json is `summary` (bottleneckSummary's fields and any others). */
export function writeBottleneckDir(dir: string, g: Graph, cut: Cut, result: TrainedBottleneck, summary: ReturnType<typeof bottleneckSummary>): void {
  mkdirSync(dir, { recursive: true });
  const files = writeParts(g, result.parts, dir);
  writeFileSync(join(dir, 'codec.json'), `${JSON.stringify(describeWire(result.codec), null, 2)}\n`);
  saveModel({ proto: result.model, dir: g.model.dir }, join(dir, 'model.onnx'));
  saveModel({ proto: result.encoder, dir: g.model.dir }, join(dir, LEARNED_FILES.encoder));
  saveModel({ proto: result.decoder, dir: g.model.dir }, join(dir, LEARNED_FILES.decoder));
  writeManifest(dir, { model: g.model.source, cuts: [cutRecord(cut)], bottleneck: result.latent, parts: result.parts.map((p, i) => ({ name: p.name, file: files[i]!, inputs: p.inputs, outputs: p.outputs, dynamicBatch: p.dynamicBatch, dynamicDims: p.dynamicDims })), codec: describeWire(result.codec) });
  writeFileSync(join(dir, LEARNED_FILES.manifest), `${JSON.stringify(summary, null, 2)}\n`);
}
