/**
 * Specialising a model to input values: inputs become constants and an If whose condition is then known is replaced
 * by the branch it takes. Oracle: ONNX Runtime on the original model fed the same value.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCuts } from '../../src/cuts/cuts.js';
import { modelInputs, openDataset } from '../../src/data/dataset.js';
import { splitModel } from '../../src/export/split.js';
import { verifyParts } from '../../src/export/verify.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { parseInputValues } from '../../src/graph/input-shapes.js';
import { symbolicShape, tensor } from '../../src/graph/graph.js';
import { controlInputs } from '../../src/graph/specialise.js';
import { buildStructure } from '../../src/graph/structure.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel, loadModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run } from '../../src/ort/session.js';
import { encodeNpz } from '../../src/data/npz.js';
import { dataDependentIf } from '../helpers/models.js';

/** y = Relu(If(k == 2, then: x * w, else: the constant c)) + x (w and c branch initializers); k an int64 scalar input. */
function ifOnValue() {
  const then = new ModelBuilder();
  then.initializer('w', DataType.FLOAT, [4], [1, -2, 3, -4]);
  then.op('Mul', ['x', 'w'], {}, { output: 'prod' });
  then.output('prod');
  const els = new ModelBuilder();
  els.initializer('c', DataType.FLOAT, [4], [-1, 2, -3, 4]);
  els.output('c');
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 4]);
  b.input('k', 'int64', []);
  b.op('Equal', ['k', b.constant(DataType.INT64, [], [2])], {}, { output: 'is2' });
  b.op('If', ['is2'], { then_branch: then.build().graph!, else_branch: els.build().graph! }, { output: 'chosen' });
  b.op('Relu', ['chosen'], {}, { output: 'r' });
  b.op('Add', ['r', 'x'], {}, { output: 'y' });
  b.output('y');
  return inMemoryModel(b.build(), 'if-on-value');
}

const x: Tensor = { dtype: DataType.FLOAT, dims: [2, 4], data: Float32Array.from([0.5, 1, -1, 2, -3, 0.25, 4, -0.5]) };
const int64 = (v: number): Tensor => ({ dtype: DataType.INT64, dims: [], data: BigInt64Array.from([BigInt(v)]) });

async function runModel(proto: Parameters<typeof createSession>[0], dir: string, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await createSession(proto, dir, { optimization: 'disabled' });
  try {
    return await run(session, feeds);
  } finally {
    await session.release();
  }
}

describe('specialising a model to input values', () => {
  it.each([2, 5])('folds the If on k = %i into the branch it takes, and computes what the original does with that k', async (k) => {
    const model = ifOnValue();
    const g = await analyzeModel(model, { inputValues: { k: [k] } });
    expect(g.nodes.some((n) => n.opType === 'If')).toBe(false);
    expect(g.inputs.map((v) => v.name)).toEqual(['x']);
    expect(g.specialisation).toEqual({ inputValues: { k: [k] }, folded: [{ node: 'chosen', branch: k === 2 ? 'then' : 'else' }] });
    expect(g.warnings.join('\n')).toMatch(/specialised to the input value k=\d, with 1 If node folded .*ignores other values/);
    const want = await runModel(model.proto, model.dir, { x, k: int64(k) });
    const got = await runModel(g.proto, g.model.dir, { x });
    expect(Array.from(got.y!.data as Float32Array)).toEqual(Array.from(want.y!.data as Float32Array));
    // the taken branch's values are the If's: no extra tensor (k = 2 renames prod; k = 5 reads c through an Identity)
    expect(g.tensors.has('chosen')).toBe(true);
    expect(g.tensors.has('prod')).toBe(false);
  });

  it('keeps the If when its condition is not known, and finds the inputs that decide it', async () => {
    const model = ifOnValue();
    expect(controlInputs(buildStructure(model.proto))).toEqual(['k']);
    const g = await analyzeModel(model);
    expect(g.nodes.some((n) => n.opType === 'If')).toBe(true);
    expect(g.specialisation).toBeUndefined();
  });

  it('keeps an If whose condition reads the size of a data-dependent tensor (NonZero), which the probe run knows but another input changes', async () => {
    const model = dataDependentIf();
    const g = await analyzeModel(model);
    // the probe's uniform input has values above 0.5, so its run takes the else branch; an input without any takes then
    expect(g.specialisation).toBeUndefined();
    expect(g.nodes.filter((n) => g.live[n.index]).map((n) => n.opType)).toContain('If');
    expect(tensor(g, 'count').isStatic).toBe(false);
    expect(['nz', 'kept', 'y'].map((t) => tensor(g, t).dataDependent)).toEqual([true, true, true]);
    expect(['x', 'r', 'count'].map((t) => tensor(g, t).dataDependent)).toEqual([false, false, false]);
    expect(symbolicShape(g, 'kept')).toEqual(['kept_dim0']);
    for (const values of [[0, 0.9, 0.2, 0.7, 0.1, 0.6], [0, 0.1, 0.2, 0.3, 0.4, 0.5]]) {
      const feeds = { x: { dtype: DataType.FLOAT, dims: [1, 6], data: Float32Array.from(values) } };
      const want = await runModel(model.proto, model.dir, feeds);
      expect(Array.from((await runModel(g.proto, g.model.dir, feeds)).y!.data as BigInt64Array)).toEqual(Array.from(want.y!.data as BigInt64Array));
    }
  });

  it("keeps an If on the data itself (a scripted PyTorch model's `if y.mean() > 0.5`): the image is no control input, and the shapes after it hold", async () => {
    const doubled = new ModelBuilder();
    doubled.op('Mul', ['x', doubled.constant(DataType.FLOAT, [], [2])], {}, { output: 'twice' });
    doubled.output('twice', 'float32');
    const lowered = new ModelBuilder();
    lowered.op('Sub', ['x', lowered.constant(DataType.FLOAT, [], [1])], {}, { output: 'less' });
    lowered.output('less', 'float32');
    const b = new ModelBuilder({ opset: 13 });
    b.input('x', 'float32', ['batch', 3, 4, 4]);
    b.op('Greater', [b.op('ReduceMean', ['x'], { keepdims: 0 }, { output: 'mean' }), b.constant(DataType.FLOAT, [], [0.5])], {}, { output: 'bright' });
    b.op('If', ['bright'], { then_branch: doubled.build().graph!, else_branch: lowered.build().graph! }, { output: 'chosen' });
    b.op('Relu', ['chosen'], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 3, 4, 4]);
    const model = inMemoryModel(b.build(), 'if-on-data');
    expect(controlInputs(buildStructure(model.proto))).toEqual([]);
    const g = await analyzeModel(model);
    expect(g.specialisation).toBeUndefined();
    expect(tensor(g, 'y').dataDependent).toBe(false);
    expect(symbolicShape(g, 'y')).toEqual(['batch', 3, 4, 4]);
    // the parts compose to the model whichever branch the data takes
    const parts = splitModel(g, [findCuts(g).find((c) => c.tensors.join() === 'chosen')!]).parts;
    for (const level of [0.2, 0.8]) {
      const x = { dtype: DataType.FLOAT, dims: [2, 3, 4, 4], data: new Float32Array(96).fill(level) };
      expect((await verifyParts(g, parts, { x })).ok).toBe(true);
    }
  });

  it('refuses values that do not fit the input', async () => {
    await expect(analyzeModel(ifOnValue(), { inputValues: { k: [1, 2] } })).rejects.toThrow(/input 'k' is \[\] \(1 value\), --input-value gives 2/);
    await expect(analyzeModel(ifOnValue(), { inputValues: { k: [1.5] } })).rejects.toThrow(/not all integers/);
    await expect(analyzeModel(ifOnValue(), { inputValues: { x: [1] } })).rejects.toMatchObject({ message: expect.stringMatching(/'x' has dynamic dims/), hint: expect.stringMatching(/--input-shape x=/) });
    expect(parseInputValues(['k=16000', 'm=1,0,1'], ['k', 'm'])).toEqual({ k: [16000], m: [1, 0, 1] });
    expect(() => parseInputValues(['16000'], ['a', 'b'])).toThrow(/does not say which input/);
    expect(() => parseInputValues(['z=1'], ['a'])).toThrow(/'z', which is not an input/);
    expect(() => parseInputValues(['a=x'], ['a'])).toThrow(/must give numbers/);
  });
});

describe('Silero VAD legacy (the whole network inside one If on sr)', () => {
  const file = join(dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-web/package.json')), 'dist', 'silero_vad_legacy.onnx');
  const inputShapes = { input: [1, 512], h: [2, 1, 64], c: [2, 1, 64] };

  it('gets cuts at sr = 16000, and its parts compose to the specialised model, which computes what the original does', async () => {
    const g = await analyzeModel(loadModel(file), { inputShapes, inputValues: { sr: [16000] } });
    expect(g.nodes.filter((n) => g.live[n.index] && n.opType === 'If')).toEqual([]);
    // h and c carry the batch on dim 1, named as the audio's batch: the model runs one batch larger, parts keep it dynamic
    expect(tensor(g, 'h').batchScale).toEqual([0, 1, 0]);
    const cuts = findCuts(g, { maxWidth: 3 });
    expect(cuts.length).toBeGreaterThan(10);
    // audio + recurrent state + sr, one row per sample as the data layer reads them
    const frames = 4;
    const audio = Float32Array.from({ length: frames * 512 }, (_, i) => 0.3 * Math.sin(i / 7) + 0.05 * Math.cos(i * 1.3));
    const state = Float32Array.from({ length: frames * 128 }, (_, i) => 0.01 * (i % 13));
    const dir = mkdtempSync(join(tmpdir(), 'impera-vad-'));
    const npz = join(dir, 'speech.npz');
    writeFileSync(npz, encodeNpz({ input: { dtype: DataType.FLOAT, dims: [frames, 512], data: audio }, sr: int64(16000), h: { dtype: DataType.FLOAT, dims: [frames, 2, 64], data: state }, c: { dtype: DataType.FLOAT, dims: [frames, 2, 64], data: state } }));
    const data = openDataset(npz);
    const feeds = data.feeds([0, 1, 2, 3], modelInputs(g));
    // a cut deep in the encoder: one activation plus h and c, which the tail's LSTM reads
    const cut = cuts.filter((c) => c.tensors.length === 3)[Math.floor(cuts.length / 2)] ?? cuts[cuts.length - 1]!;
    const { parts } = splitModel(g, [cut]);
    const report = await verifyParts(g, parts, feeds);
    expect(report.ok).toBe(true);
    const original = await runModel(loadModel(file).proto, dirname(file), { ...feeds, sr: int64(16000) });
    const specialised = await runModel(g.proto, g.model.dir, feeds);
    for (const o of ['output', 'hn', 'cn']) expect(Array.from(specialised[o]!.data as Float32Array)).toEqual(Array.from(original[o]!.data as Float32Array));
  });
});

describe('Silero VAD v5 (If on sr, state [2, ?, 128] with an unnamed batch dim)', () => {
  it('folds at sr = 16000 and finds that the unnamed dim of the state follows the batch', async () => {
    const file = join(dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-web/package.json')), 'dist', 'silero_vad_v5.onnx');
    const g = await analyzeModel(loadModel(file), { inputShapes: { input: [1, 512], state: [2, 1, 128] }, inputValues: { sr: [16000] } });
    expect(g.specialisation?.folded[0]).toEqual({ node: 'If_0', branch: 'then' });
    expect(tensor(g, 'state').batchScale).toEqual([0, 1, 0]);
    expect(g.warnings.join('\n')).not.toMatch(/does not run at batch/);
  });
});
