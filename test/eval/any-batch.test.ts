/**
 * Evaluation of real models whose batch is not on axis 0 of every tensor (Silero VAD v5: state [2, N, 128]) or is
 * fixed at 1 (openWakeWord's head: [1, 25, 96]), checked against ONNX Runtime running the original model sample by
 * sample: a lossless codec scores exactly, fp16 at a cut of the inputs themselves scores as the model on fp16-rounded
 * inputs, and stacking samples (and codecs) along the batch axis scores as a loop at batch 1.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCodec } from '../../src/codecs/spec.js';
import { findCuts } from '../../src/cuts/cuts.js';
import { openDataset } from '../../src/data/dataset.js';
import { encodeNpz } from '../../src/data/npz.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel, loadModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { relL2 } from '../../src/task/fidelity.js';
import { seededRandom } from '../../src/util/random.js';
import { weights } from '../helpers/models.js';

const MODULES = new URL('../../node_modules/', import.meta.url).pathname;
const VAD_V5 = join(MODULES, '@ricky0123/vad-web/dist/silero_vad_v5.onnx');
const WAKE_HEAD = join(MODULES, 'openwakeword-js/models/hello_deepa.onnx');
const N = 5;

/** v rounded to the nearest float16 (ties to even), as a float32 -> float16 -> float32 cast does. */
function toHalf(v: number): number {
  if (v === 0) return v;
  const ulp = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(v))), -14) - 10);
  const q = v / ulp;
  const r = Math.abs(q % 1) === 0.5 ? 2 * Math.round(q / 2) : Math.round(q);
  return r * ulp;
}

const float = (dims: number[], data: Float32Array): Tensor => ({ dtype: DataType.FLOAT, dims, data });
const seeded = (n: number, seed: number, scale: number): Float32Array => {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (rand() - 0.5) * scale);
};
const npzFile = (arrays: Record<string, Tensor>): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'impera-anybatch-')), 'data.npz');
  writeFileSync(file, encodeNpz(arrays));
  return file;
};

/** The original model's outputs at batch 1 for each of `feeds`. */
async function oneByOne(path: string, feeds: readonly Record<string, Tensor>[]): Promise<Record<string, Tensor>[]> {
  const model = loadModel(path);
  const session = await createSession(model.proto, model.dir);
  try {
    const out = [];
    for (const f of feeds) out.push(await run(session, f));
    return out;
  } finally {
    await session.release();
  }
}

describe('evaluate Silero VAD v5, whose state [2, N, 128] holds the batch on axis 1', async () => {
  const audio = seeded(N * 512, 1, 0.6);
  const state = seeded(N * 256, 2, 0.4);
  const sr: Tensor = { dtype: DataType.INT64, dims: [], data: BigInt64Array.from([16000n]) };
  const data = openDataset(npzFile({ input: float([N, 512], audio), state: float([N, 2, 128], state), sr }));
  const g = await analyzeModel(loadModel(VAD_V5), { inputShapes: { input: [1, 512], state: [2, 1, 128] }, inputValues: { sr: [16000] } });
  // the first cut: the state and the padded audio, both copies of the inputs (reflect padding moves values, exactly)
  const cut = findCuts(g)[0]!;
  const options = { cuts: [cut], codecs: ['fp32', 'fp16', 'int8'].map(parseCodec), data, calibration: data, byteSamples: N, detail: true, task: { metric: 'rel-l2' as const } };
  const stacked = await evaluate(g, options);
  const alone = await evaluate(g, { ...options, batchSize: 1 });

  it('scores the lossless codec exactly, on the outputs with their batch moved first', () => {
    expect(cut.tensors).toContain('state');
    expect(stacked.task.reason).toBe("set: rel-l2 on 'output' [1, 1], 'stateN' [1, 2, 128]");
    expect(stacked.cuts[0]!.codecs[0]!.scores).toEqual(new Array(N).fill(0));
  });

  it('scores fp16 as the model run on fp16-rounded inputs, sample by sample', async () => {
    const feeds = (round: (v: number) => number) =>
      Array.from({ length: N }, (_, n) => ({ input: float([1, 512], audio.slice(n * 512, (n + 1) * 512).map(round)), state: float([2, 1, 128], state.slice(n * 256, (n + 1) * 256).map(round)), sr }));
    const exact = await oneByOne(VAD_V5, feeds((v) => v));
    const half = await oneByOne(VAD_V5, feeds(toHalf));
    const expected = exact.map((r, n) => ['output', 'stateN'].reduce((s, o) => s + relL2(half[n]![o]!.data as Float32Array, r[o]!.data as Float32Array), 0) / 2);
    expect(expected.every((e) => e > 1e-5)).toBe(true); // fp16 is not lossless here: the check can fail
    stacked.cuts[0]!.codecs[1]!.scores!.forEach((s, n) => expect(s).toBeCloseTo(expected[n]!, 5));
  });

  it('stacking samples and codecs along each batch axis scores as running them one at a time', () => {
    const [a, b] = [stacked.cuts[0]!.codecs, alone.cuts[0]!.codecs];
    a.forEach((codec, k) => codec.scores!.forEach((s, n) => expect(s).toBeCloseTo(b[k]!.scores![n]!, 6)));
    expect(a.map((c) => c.bytes.mean)).toEqual(b.map((c) => c.bytes.mean));
    // the state's 256 values and the 512 + padding audio samples, at 4, 2 and 1 bytes each
    expect(a[1]!.bytes.mean).toBeLessThan(a[0]!.bytes.mean / 1.9);
  });
}, 120_000);

describe('evaluate a model with a fixed batch of 1 (the openWakeWord "hello deepa" head, [1, 25, 96])', () => {
  it('runs sample by sample, fp16 at the flattened input scoring as the model on fp16-rounded inputs', async () => {
    const x = seeded(N * 2400, 3, 2);
    const name = 'onnx::Flatten_0';
    const data = openDataset(npzFile({ [name]: float([N, 25, 96], x) }));
    const g = await analyzeModel(loadModel(WAKE_HEAD));
    const cut = findCuts(g)[0]!;
    expect(cut.tensors).toEqual(['/flatten/Flatten_output_0']);
    const report = await evaluate(g, { cuts: [cut], codecs: ['fp32', 'fp16', 'int8'].map(parseCodec), data, calibration: data, batchSize: 16, detail: true, task: { metric: 'rel-l2' } });
    const feeds = (round: (v: number) => number) => Array.from({ length: N }, (_, n) => ({ [name]: float([1, 25, 96], x.slice(n * 2400, (n + 1) * 2400).map(round)) }));
    const [exact, half] = [await oneByOne(WAKE_HEAD, feeds((v) => v)), await oneByOne(WAKE_HEAD, feeds(toHalf))];
    const [fp32, fp16, int8] = report.cuts[0]!.codecs;
    expect(fp32!.scores).toEqual(new Array(N).fill(0));
    fp16!.scores!.forEach((s, n) => expect(s).toBeCloseTo(relL2(half[n]!['39']!.data as Float32Array, exact[n]!['39']!.data as Float32Array), 6));
    expect(int8!.quality.value).toBeGreaterThan(fp16!.quality.value);
    expect(report.samples).toBe(N);
  }, 120_000);

  it('refuses a fixed batch of several samples in one line', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', [2, 3]);
    b.op('Relu', [b.op('MatMul', ['x', weights(b, 'w', [3, 4], 1)], {}, { output: 'h' })], {}, { output: 'y' });
    b.output('y', 'float32', [2, 4]);
    const g = await analyzeModel(inMemoryModel(b.build(), 'fixed2'));
    const data = openDataset(npzFile({ x: float([4, 3], seeded(12, 4, 1)) }));
    await expect(evaluate(g, { cuts: [findCuts(g)[0]!], codecs: [parseCodec('int8')], data, calibration: data })).rejects.toThrow(/evaluation runs a fixed-batch model one sample at a time, but input 'x' \[2, 3\] takes a fixed batch of 2/);
  });
});

describe('evaluate a scripted PyTorch model with an If on its data (test/fixtures/pytorch-models/scripted.onnx)', () => {
  it('runs its tail on samples stacked for several codecs: the If branches\' declared [batch, ...] outputs bind no part dim', async () => {
    const fixtures = new URL('../fixtures/pytorch-models/', import.meta.url).pathname;
    const data = openDataset(join(fixtures, 'scripted.npz'));
    const g = await analyzeModel(loadModel(join(fixtures, 'scripted.onnx')));
    const cut = findCuts(g).find((c) => c.tensors.join() === '/Relu_output_0')!;
    const report = await evaluate(g, { cuts: [cut], codecs: ['fp32', 'int8', 'int4'].map(parseCodec), data, calibration: data, batchSize: 5, detail: true, task: { metric: 'rel-l2' } });
    const [fp32, int8, int4] = report.cuts[0]!.codecs;
    expect(fp32!.scores).toEqual(new Array(10).fill(0));
    expect(int8!.quality.value).toBeGreaterThan(0);
    expect(int4!.quality.value).toBeGreaterThan(int8!.quality.value);
  });
});
