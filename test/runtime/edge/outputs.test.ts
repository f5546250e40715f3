/**
 * The edge runner on a model that is not a classifier: a probability map and a score served by a real server.
 * Every output of every frame is saved as .npy and equals the full model's on the same frame (ONNX Runtime as the
 * oracle, fp32 on the wire); no prediction is read from a map; quality is the task's map IoU against the full model
 * run here, checked against IoU computed by brute force from the saved files.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/data/npy.js';
import { readNpz } from '../../../src/data/npz.js';
import { inMemoryModel, loadModel, saveModel } from '../../../src/onnx/io.js';
import { ModelBuilder } from '../../../src/onnx/builder.js';
import { DataType } from '../../../src/onnx/dtype.js';
import { createSession, run } from '../../../src/ort/session.js';
import { resolveRuntimeConfig } from '../../../src/runtime/edge/config.js';
import { frameSource } from '../../../src/runtime/edge/frames.js';
import { FrameQuality, outputFile, saveOutputs } from '../../../src/runtime/edge/quality.js';
import { EdgeRunner, type FrameAnswer } from '../../../src/runtime/edge/runner.js';
import { summarize } from '../../../src/runtime/edge/summary.js';
import type { RunningServer } from '../../../src/runtime/server/app.js';
import { mapModel, weights } from '../../helpers/models.js';
import { serve, splitRepo, type SplitRepo } from '../../helpers/runtime.js';

const FRAMES = 4;

/** IoU of two maps thresholded at `t`, as a person would count it (both empty: 1). */
function iou(a: ArrayLike<number>, b: ArrayLike<number>, t: number): number {
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i]! > t, b[i]! > t];
    if (x && y) both++;
    if (x || y) either++;
  }
  return either === 0 ? 1 : both / either;
}

interface Run {
  answers: FrameAnswer[];
  quality: FrameQuality;
  dir: string;
}

/** FRAMES synthetic frames through the served split with `codec`, outputs saved, scored against the full model. */
async function runFrames(repo: SplitRepo, server: RunningServer, full: string, codec: string | undefined, threshold?: number): Promise<Run> {
  const raw = { format: 'impera-runtime/1', head: 'head.onnx', tail: 'tail.onnx', ...(codec ? { codec } : {}), latencyBudgetMs: 5000, server: { url: server.url, model: 'tail' } };
  const runner = await EdgeRunner.open(resolveRuntimeConfig(raw, join(repo.dir, 'edge.yaml')));
  const source = frameSource('synthetic', runner.inputs);
  const quality = await FrameQuality.open(full, { labelled: false, classes: 0 }, threshold === undefined ? {} : { threshold });
  const dir = mkdtempSync(join(tmpdir(), 'impera-outputs-'));
  const answers: FrameAnswer[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const f = source.frame(i);
    const answer = await runner.processWithOutputs(i, f.feeds);
    saveOutputs(dir, answer);
    await quality.add(answer, f.feeds, undefined);
    answers.push(answer);
  }
  await runner.close();
  await quality.close();
  return { answers, quality, dir };
}

describe('a probability map through serve and edge', () => {
  let plain: SplitRepo;
  let coded: SplitRepo;
  let servers: RunningServer[];
  let full: string;
  beforeAll(async () => {
    plain = await splitRepo(undefined, mapModel(), 'feat');
    coded = await splitRepo('int4+deflate', mapModel(), 'feat');
    servers = [await serve(plain), await serve(coded)];
    full = join(plain.dir, 'full.onnx');
    saveModel(mapModel(), full);
  });
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  it('saves one .npy per frame and output, equal to the full model run on the same frame; reads no prediction from a map', async () => {
    const { answers, dir } = await runFrames(plain, servers[0]!, full, undefined);
    expect(readdirSync(dir).sort()).toEqual(Array.from({ length: FRAMES }, (_, i) => [`frame-00000${i}.map.npy`, `frame-00000${i}.score.npy`]).flat());
    const reference = await createSession(mapModel().proto, '.');
    const source = frameSource('synthetic', [{ name: 'x', datatype: 'FP32', shape: [1, 3, 16, 16] }]);
    for (const [i, a] of answers.entries()) {
      expect(a.result.outcome).toBe('server');
      expect(a.result.prediction).toBeUndefined();
      expect(a.result.confidence).toBeUndefined();
      const want = await run(reference, source.frame(i).feeds);
      for (const name of ['map', 'score']) {
        const saved = readNpy(outputFile(dir, i, name));
        expect(saved.dims).toEqual(want[name]!.dims);
        const [got, exp] = [saved.data as Float32Array, want[name]!.data as Float32Array];
        for (let k = 0; k < exp.length; k++) expect(got[k]).toBeCloseTo(exp[k]!, 5);
      }
    }
    await reference.release();
  });

  it("quality is the task's map IoU against the full model: 1 for fp32, and the brute-force IoU of the saved maps for int4", async () => {
    const exact = await runFrames(plain, servers[0]!, full, undefined);
    const s = summarize(FRAMES, exact.answers.map((a) => a.result), exact.quality.summary());
    expect(s.quality).toMatchObject({ metric: 'map-iou', better: 'higher', value: 1, samples: FRAMES, against: 'the full model run here on the same frames' });
    expect(s.quality!.reason).toMatch(/probability map/);

    // thresholded at the median of the first frame's map, so that int4's small errors move some pixels across it
    const reference = await createSession(mapModel().proto, '.');
    const source = frameSource('synthetic', [{ name: 'x', datatype: 'FP32', shape: [1, 3, 16, 16] }]);
    const first = Array.from((await run(reference, source.frame(0).feeds)).map!.data as Float32Array).sort((a, b) => a - b);
    const t = first[first.length / 2]!;
    const lossy = await runFrames(coded, servers[1]!, full, 'codec.json', t);
    const brute: number[] = [];
    for (let i = 0; i < FRAMES; i++) brute.push(iou(readNpy(outputFile(lossy.dir, i, 'map')).data as Float32Array, (await run(reference, source.frame(i).feeds)).map!.data as Float32Array, t));
    await reference.release();
    const q = summarize(FRAMES, lossy.answers.map((a) => a.result), lossy.quality.summary()).quality!;
    expect(q.value).toBeCloseTo(brute.reduce((a, b) => a + b, 0) / FRAMES, 12);
    expect(q.value).toBeLessThan(1); // int4 moves some pixels across the threshold
    expect(q.ci[0]).toBeLessThanOrEqual(q.value);
  });

  it('without a reference, a metric that compares with the full model is left out with a note saying how to get it', async () => {
    const runner = await EdgeRunner.open(resolveRuntimeConfig({ format: 'impera-runtime/1', head: 'head.onnx', tail: 'tail.onnx', server: { url: servers[0]!.url, model: 'tail' } }, join(plain.dir, 'edge.yaml')));
    const quality = await FrameQuality.open(undefined, { labelled: false, classes: 0 }, {});
    const f = frameSource('synthetic', runner.inputs).frame(0);
    await quality.add(await runner.processWithOutputs(0, f.feeds), f.feeds, undefined);
    await runner.close();
    expect(quality.summary()).toEqual({ note: expect.stringMatching(/^map IoU .* compares the outputs with the full model's: give --reference FULL\.onnx to measure it$/) });
  });
});

describe('the metric the edge chooses with a reference model', () => {
  it('reads what made the output: an L2-normalised embedding [1, 8] is no class scores (rel-l2, not top-1 agreement)', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 8]);
    const h = b.op('MatMul', ['x', weights(b, 'w', [8, 8], 2)]);
    b.op('Div', [h, b.op('ReduceL2', [h], { axes: [1], keepdims: 1 })], {}, { output: 'embedding' });
    b.output('embedding', 'float32', ['batch', 8]);
    const file = join(mkdtempSync(join(tmpdir(), 'impera-embedding-')), 'embedding.onnx');
    saveModel(inMemoryModel(b.build(), 'embedding'), file);
    const feeds = { x: { dtype: DataType.FLOAT, dims: [1, 8], data: Float32Array.from({ length: 8 }, (_, i) => Math.sin(i + 1)) } };
    const session = await createSession(loadModel(file).proto, tmpdir());
    const outputs = await run(session, feeds);
    await session.release();
    const quality = await FrameQuality.open(file, { labelled: false, classes: 0 }, {});
    await quality.add({ outputs } as unknown as FrameAnswer, feeds, undefined);
    await quality.close();
    const summary = quality.summary() as { quality: { metric: string; value: number; reason: string } };
    expect(summary.quality.metric).toBe('rel-l2');
    expect(summary.quality.value).toBe(0);
  });
});

describe('what the edge reads of the outputs from a graph', () => {
  const fixtures = new URL('../../fixtures/pytorch-models/', import.meta.url).pathname;
  const images = readNpz(join(fixtures, 'detector.npz')).get('image')!;
  const frame = { feeds: { image: { dtype: DataType.FLOAT, dims: [1, 3, 64, 64], data: (images.data as Float32Array).subarray(0, 3 * 64 * 64) } } };

  it("reads the tail's graph without a reference: a detector's NMS outputs of data-dependent length get a note saying no built-in metric fits, not a top-1 agreement over [K, 4] boxes", async () => {
    const repo = await splitRepo(undefined, loadModel(join(fixtures, 'detector.onnx')), '/backbone/backbone.3/Relu_output_0');
    const full = await createSession(loadModel(join(fixtures, 'detector.onnx')).proto, '.');
    const f = frame;
    const outputs = await run(full, f.feeds);
    await full.release();
    const answer = { result: {}, outputs } as FrameAnswer;
    // shapes alone: boxes [K, 4] look like class scores of K frames
    const blind = await FrameQuality.open(undefined, { labelled: false, classes: 0 }, {});
    await blind.add(answer, f.feeds, undefined);
    expect(blind.summary()).toEqual({ note: expect.stringMatching(/^top-1 agreement compares/) });
    const quality = await FrameQuality.open(undefined, { labelled: false, classes: 0 }, {}, undefined, join(repo.dir, 'tail.onnx'));
    await quality.add(answer, f.feeds, undefined);
    expect(quality.summary()).toEqual({ note: expect.stringMatching(/^no metric measured: output 'boxes' has a data-dependent length/) });
  });

  it("reads a reference with dynamic H and W at the frames' shapes: a PyTorch U-Net's class scores per pixel get class-map mIoU, as in impera eval, not rel-L2", async () => {
    const unet = join(fixtures, 'unet.onnx');
    const session = await createSession(loadModel(unet).proto, '.');
    const outputs = await run(session, frame.feeds);
    await session.release();
    const quality = await FrameQuality.open(unet, { labelled: false, classes: 0 }, {});
    await quality.add({ result: {}, outputs } as FrameAnswer, frame.feeds, undefined);
    const summary = quality.summary() as { quality: { metric: string; value: number; reason: string } };
    await quality.close();
    expect(summary.quality).toMatchObject({ metric: 'class-map-miou', value: 1 });
    expect(summary.quality.reason).toMatch(/made by Conv/);
  });
});
