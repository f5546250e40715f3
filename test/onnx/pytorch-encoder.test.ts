/**
 * A transformer as PyTorch's TorchScript exporter writes it (test/fixtures/pytorch-encoder, made by its
 * make_encoder.py): two encoder layers with a key padding mask, int64 token ids and an int64 attention mask in.
 * Exporters compute tensors beside the main path that only Shape reads, and every layer reads the bool mask: the
 * cuts between layers carry the activation and the mask, and codecs must send the mask as it is.
 */
import { describe, expect, it } from 'vitest';
import { fitCodecs } from '../../src/codecs/calibrate.js';
import { parseCodec } from '../../src/codecs/spec.js';
import { findCuts, type Cut } from '../../src/cuts/cuts.js';
import { modelInputs, openDataset } from '../../src/data/dataset.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { attachCodec, runCodecPair } from '../../src/export/codec.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { tensor } from '../../src/graph/graph.js';
import { DataType } from '../../src/onnx/dtype.js';
import { loadModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';

const DIR = new URL('../fixtures/pytorch-encoder/', import.meta.url).pathname;

const argmax = (logits: Float32Array, n: number, k: number) => Array.from({ length: n }, (_, i) => {
  const row = Array.from(logits.subarray(i * k, (i + 1) * k));
  return row.indexOf(Math.max(...row));
});

describe('a PyTorch TransformerEncoder with a key padding mask (TorchScript exporter, opset 14)', async () => {
  const g = await analyzeModel(loadModel(`${DIR}encoder.onnx`));
  const data = openDataset(`${DIR}tokens.npz`);
  const layer0 = '/enc/layers.0/norm2/Add_1_output_0';
  const between = (cuts: readonly Cut[]) => cuts.find((c) => c.tensors.length === 2 && c.tensors.includes(layer0) && c.tensors.some((t) => tensor(g, t).dtype === DataType.BOOL))!;

  it('has cuts between its layers: the first layer\'s output and the mask the next one reads', () => {
    const cut = between(findCuts(g));
    expect(cut).toBeDefined();
    expect(cut.detail.map((t) => t.dtype).sort()).toEqual(['bool', 'float32']);
  });

  it('splits there with int8 on the activation and the mask sent as it is: the pair predicts as the full model', async () => {
    const cut = between(findCuts(g));
    const fitted = (await fitCodecs(g, [cut], [parseCodec('int8')], data)).get(cut.id)![0]!;
    const parts = attachCodec(g, splitModel(g, [cut]).parts as [never, never], fitted);
    const sessions = [await createSession(parts[0].proto, g.model.dir), await createSession(parts[1].proto, g.model.dir)] as const;
    const all = [...Array(data.size).keys()];
    const feeds = data.feeds(all, modelInputs(g));
    const { outputs, bytes } = await runCodecPair(parts, sessions, fitted, feeds);
    await Promise.all(sessions.map((s) => s.release()));
    const full = await createSession(g.model.proto, g.model.dir);
    const reference = (await run(full, feeds)).logits!.data as Float32Array;
    await full.release();
    expect(argmax(outputs.logits!.data as Float32Array, data.size, 3)).toEqual(argmax(reference, data.size, 3));
    // 16 x 32 int8 codes and 16 mask bytes, each with its length
    expect(bytes.every((b) => b === 2 + 512 + 1 + 16)).toBe(true);
  });

  it('evaluates codecs there under top-1 agreement (no labels): lossless agrees on every sequence', async () => {
    const cut = between(findCuts(g));
    const report = await evaluate(g, { cuts: [cut], codecs: [parseCodec('fp32'), parseCodec('int4')], data, calibration: data, byteSamples: 4 });
    expect(report.task.metric).toBe('top1-agreement');
    expect(report.cuts[0]!.codecs[0]!.quality.value).toBe(1);
    expect(report.cuts[0]!.codecs[1]!.quality.value).toBeGreaterThan(0.5);
  });
});
