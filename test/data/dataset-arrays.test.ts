import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataShapes, declaredInputs, modelInputs, openDataset, type InputSpec } from '../../src/data/dataset.js';
import { encodeGrayPng } from '../../src/data/images.js';
import { encodeNpy } from '../../src/data/npy.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { encodeNpz } from '../../src/data/npz.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'impera-arrays-'));
const f32 = (dims: number[], values: number[]): Tensor => ({ dtype: DataType.FLOAT, dims, data: Float32Array.from(values) });
const i64 = (dims: number[], values: number[]): Tensor => ({ dtype: DataType.INT64, dims, data: BigInt64Array.from(values.map(BigInt)) });
const iota = (n: number) => [...Array(n).keys()];

// a model with a token input, per-sample recurrent state [2, N, 3] (batch on axis 1, as Silero VAD's) and a scalar
const inputs: InputSpec[] = [
  { name: 'ids', dtype: DataType.INT64, dims: [-1, 4] },
  { name: 'state', dtype: DataType.FLOAT, dims: [2, -1, 3] },
  { name: 'sr', dtype: DataType.INT64, dims: [] },
];

function npzFile(arrays: Record<string, Tensor>): string {
  const file = join(tmp(), 'data.npz');
  writeFileSync(file, encodeNpz(arrays));
  return file;
}

describe('array datasets', () => {
  it('slice an .npy file by rows for a one-input model, labels from labels.npy beside it', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x.npy'), encodeNpy(f32([3, 2], [0, 1, 10, 11, 20, 21])));
    writeFileSync(join(dir, 'labels.npy'), encodeNpy(i64([3], [2, 0, 1])));
    const d = openDataset(join(dir, 'x.npy'));
    expect([d.size, d.labelled, d.label(0), d.classes]).toEqual([3, true, 2, ['0', '1', '2']]);
    expect(d.feeds([2, 0], [{ name: 'input', dtype: DataType.FLOAT, dims: [-1, 2] }])).toEqual({ input: f32([2, 2], [20, 21, 0, 1]) });
  });

  it('are unlabelled without labels, and label() says so', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x.npy'), encodeNpy(f32([1, 2], [0, 1])));
    const d = openDataset(join(dir, 'x.npy'));
    expect([d.labelled, d.classes]).toEqual([false, []]);
    expect(() => d.label(0)).toThrow(/has no labels/);
  });

  it('fill every input of a multi-input model from an .npz: rows moved to the batch axis, scalars whole, int64 kept', () => {
    // state per sample [2, 3]: sample n holds 100n + k
    const state = f32([3, 2, 3], iota(18).map((k) => 100 * Math.floor(k / 6) + (k % 6)));
    const d = openDataset(npzFile({ ids: i64([3, 4], iota(12)), state, sr: i64([], [16000]), labels: i64([3], [1, 1, 0]) }));
    expect([d.size, d.labelled, d.label(2)]).toEqual([3, true, 0]);
    const feeds = d.feeds([2, 0], inputs);
    expect(feeds.ids).toEqual(i64([2, 4], [8, 9, 10, 11, 0, 1, 2, 3]));
    // [2, n=2, 3]: slab o of sample 2, then of sample 0
    expect(feeds.state).toEqual(f32([2, 2, 3], [200, 201, 202, 0, 1, 2, 203, 204, 205, 3, 4, 5]));
    expect(feeds.sr).toEqual(i64([], [16000]));
  });

  it('refuse a multi-input model fed one array, naming the inputs it needs', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x.npy'), encodeNpy(i64([3, 4], iota(12))));
    expect(() => openDataset(join(dir, 'x.npy')).feeds([0], inputs)).toThrow(expect.objectContaining({ code: 'DATASET', message: expect.stringMatching(/holds one array; the model takes 3 inputs: ids, state, sr$/), hint: expect.stringMatching(/numpy\.savez\(file, ids=\.\.\., state=\.\.\., sr=\.\.\.\)/) }));
  });

  it('refuse an .npz missing an input, an array of another dtype, and rows of another shape', () => {
    const ids = i64([3, 4], iota(12));
    expect(() => openDataset(npzFile({ ids, sr: i64([], [8000]) })).feeds([0], inputs)).toThrow(/has no array 'state' for the model's input of that name \(it holds ids, sr\)/);
    expect(() => openDataset(npzFile({ ids: f32([3, 4], iota(12)) })).feeds([0], inputs.slice(0, 1))).toThrow(/array 'ids' of '.*data\.npz' is float32, input 'ids' takes int64/);
    expect(() => openDataset(npzFile({ ids: i64([2, 5], iota(10)) })).feeds([0], inputs.slice(0, 1))).toThrow(/array 'ids' of '.*' is \[2, 5\], input 'ids' takes \[\?, 4\]: give it one row per sample, \[N, 4\]/);
  });

  it('slice rows for an input with a fixed batch ([1, T, C] as exported): the runner feeds the model batch by batch', () => {
    const file = join(tmp(), 'x.npy');
    writeFileSync(file, encodeNpy(f32([3, 1, 2], [0, 1, 10, 11, 20, 21])));
    const fixed: InputSpec = { name: 'x', dtype: DataType.FLOAT, dims: [1, 1, 2] };
    const d = openDataset(file);
    expect(d.feeds([2, 0], [fixed])).toEqual({ x: f32([2, 1, 2], [20, 21, 0, 1]) });
    expect(d.feeds([1], [fixed])).toEqual({ x: f32([1, 1, 2], [10, 11]) });
    // the sample's own dims still have to match
    expect(() => d.feeds([0], [{ ...fixed, dims: [1, 2, 1] }])).toThrow(/is \[3, 1, 2\], input 'x' takes \[1, 2, 1\]: give it one row per sample, \[N, 2, 1\]/);
  });

  it('refuse labels that do not count the samples', () => {
    expect(() => openDataset(npzFile({ ids: i64([3, 4], iota(12)), labels: i64([2], [0, 1]) }))).toThrow(/hold 2 labels for 3 samples/);
  });
});

describe('image folders', () => {
  it('without class sub-folders are unlabelled images, fed as the spec says', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'b.png'), encodeGrayPng(2, 1, Uint8Array.from([0, 255])));
    writeFileSync(join(dir, 'a.png'), encodeGrayPng(2, 1, Uint8Array.from([255, 0])));
    const d = openDataset(dir, { preprocess: 'resize=none,mean=0.5,std=0.5,layout=nhwc' });
    expect([d.size, d.labelled, d.classes]).toEqual([2, false, []]);
    const x = d.feeds([0, 1], [{ name: 'img', dtype: DataType.FLOAT, dims: [-1, -1, -1, 1] }]).img!;
    expect(x).toEqual(f32([2, 1, 2, 1], [1, -1, -1, 1]));
  });

  it('with class sub-folders stay labelled, and refuse a second input', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'cat'));
    writeFileSync(join(dir, 'cat', '0.png'), encodeGrayPng(1, 1, Uint8Array.from([7])));
    const d = openDataset(dir);
    expect([d.labelled, d.classes, d.label(0)]).toEqual([true, ['cat'], 0]);
    expect(() => d.feeds([0], inputs)).toThrow(/holds images, which fill one input; the model takes 3: ids, state, sr/);
    expect(() => d.feeds([0], inputs.slice(0, 1))).toThrow(/input 'ids' takes int64, images become float32/);
  });
});

describe('the inputs data fills', () => {
  it("are each input's declared dims, symbolic ones -1, before analysis; the analysed dims with the batch -1 after", async () => {
    const b = new ModelBuilder();
    b.input('ids', 'int64', ['batch', 4]);
    b.input('x', 'float32', ['batch', 3, 'h', 'w']);
    b.op('Cast', ['ids'], { to: DataType.FLOAT }, { output: 'f' });
    b.op('ReduceSum', ['x'], { keepdims: 0 }, { output: 'y' });
    b.output('f', 'float32', ['batch', 4]);
    b.output('y', 'float32', []);
    const model = inMemoryModel(b.build(), 'two');
    expect(declaredInputs(model)).toEqual([
      { name: 'ids', dtype: DataType.INT64, dims: [-1, 4] },
      { name: 'x', dtype: DataType.FLOAT, dims: [-1, 3, -1, -1] },
    ]);
    const g = await analyzeModel(model, { inputShapes: { x: [1, 3, 8, 6] } });
    expect(modelInputs(g)).toEqual([
      { name: 'ids', dtype: DataType.INT64, dims: [-1, 4] },
      { name: 'x', dtype: DataType.FLOAT, dims: [-1, 3, 8, 6] },
    ]);
  });

  it('take dynamic dims from the data: the shapes to analyse a model at', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.png'), encodeGrayPng(20, 10, new Uint8Array(200)));
    const x: InputSpec = { name: 'x', dtype: DataType.FLOAT, dims: [-1, 3, 48, -1] };
    expect(dataShapes(openDataset(dir, { preprocess: 'resize=pad,multiple=32' }), [x])).toEqual({ x: [1, 3, 48, 96] });
  });
});
