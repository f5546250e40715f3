/**
 * A model with a known information bottleneck, and data for it. x [N, 16, 8, 8]: channel 0 holds the class (+1 or -1
 * everywhere), channels 1-15 noise of std 0.3. 'open' (a 1x1 conv, identity) keeps the class in the channel of
 * most variance, constant over positions: any projection to 1/64 keeps it. 'hidden' (deeper) scales channel 0 by
 * 1e-3 and multiplies it by a checkerboard: the class now sits in the channel of least variance, in the finest
 * spatial pattern, so channel PCA and pooling both drop it. The tail undoes this exactly: the full model is right
 * on every sample, a bottleneck at 'open' can be too, one at 'hidden' cannot without learning the pattern.
 * Also a small classifier and noise images labelled by it, for training a bottleneck end to end quickly.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../../src/data/dataset.js';
import { encodeNpz } from '../../src/data/npz.js';
import { createSession, run } from '../../src/ort/session.js';
import { argmax } from '../../src/util/stats.js';
import { weights } from '../helpers/models.js';
import { DataType } from '../../src/onnx/dtype.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel, saveModel, type OnnxModel } from '../../src/onnx/io.js';
import { gaussian, seededRandom } from '../../src/util/random.js';

export const C = 16;
export const S = 8;

const checker = (y: number, x: number) => ((y + x) % 2 ? -1 : 1);

/** A constant [1, C, S, S]: the checkerboard on channel 0, `rest` on the others. */
function channelZeroPattern(b: ModelBuilder, name: string, scale: number): string {
  const v = new Float32Array(C * S * S).fill(1);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) v[y * S + x] = scale * checker(y, x);
  return b.initializer(name, 'float32', [1, C, S, S], v);
}

/** 1x1 convolution weights: the identity with channel 0 scaled by `scale`. */
function diagonal(b: ModelBuilder, name: string, scale: number): string {
  const w = new Float32Array(C * C);
  for (let c = 0; c < C; c++) w[c * C + c] = c === 0 ? scale : 1;
  return b.initializer(name, 'float32', [C, C, 1, 1], w);
}

export function bottleneckModel(): OnnxModel {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', C, S, S]);
  const open = b.op('Conv', ['x', diagonal(b, 'open.w', 1)], { kernel_shape: [1, 1] }, { output: 'open' });
  const hidden = b.op('Mul', [b.op('Conv', [open, diagonal(b, 'hide.w', 1e-3)], { kernel_shape: [1, 1] }), channelZeroPattern(b, 'hide.p', 1)], {}, { output: 'hidden' });
  const restored = b.op('Mul', [hidden, channelZeroPattern(b, 'show.p', 1e3)], {}, { output: 'restored' });
  const gap = b.op('Flatten', [b.op('GlobalAveragePool', [restored])], {}, { output: 'gap' });
  const pick = new Float32Array(2 * C);
  pick[0] = -1;
  pick[C] = 1;
  b.op('MatMul', [gap, b.initializer('pick', 'float32', [C, 2], pick)], {}, { output: 'logits' });
  b.output('logits', 'float32', ['batch', 2]);
  return inMemoryModel(b.build(), 'bottleneck');
}

/** `n` samples as the fixture describes, labels 0 (channel 0 = -1) and 1 (+1) alternating. */
export function bottleneckData(n: number, seed: number): { x: Float32Array; labels: number[] } {
  const rand = seededRandom(seed);
  const x = new Float32Array(n * C * S * S);
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) for (let p = 0; p < S * S; p++) x[((i * C + c) * S * S) + p] = c === 0 ? 2 * labels[i]! - 1 : 0.3 * gaussian(rand);
  }
  return { x, labels };
}

/** The model and `n` samples written to `dir` (model.onnx, data.npz, calibration.npz). */
export function writeBottleneckFixture(dir: string, n: number): { model: string; data: string; calibration: string } {
  const model = join(dir, 'model.onnx');
  saveModel(bottleneckModel(), model);
  const npz = (file: string, seed: number) => {
    const { x, labels } = bottleneckData(n, seed);
    writeFileSync(join(dir, file), encodeNpz({ x: { dtype: DataType.FLOAT, dims: [n, C, S, S], data: x }, labels: { dtype: DataType.INT64, dims: [n], data: BigInt64Array.from(labels.map(BigInt)) } }));
    return join(dir, file);
  };
  return { model, data: npz('data.npz', 1), calibration: npz('calibration.npz', 2) };
}

/** x [N,3,8,8] -> conv 3->16, relu ('feat', the cut) -> conv 16->8, relu -> GAP -> Gemm -> y [N,4]. */
export function classifier() {
  const b = new ModelBuilder();
  b.input('x', 'float32', ['batch', 3, 8, 8]);
  const f = b.op('Relu', [b.op('Conv', ['x', weights(b, 'c1.w', [16, 3, 3, 3], 1), weights(b, 'c1.b', [16], 2)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })], {}, { output: 'feat' });
  const h = b.op('Relu', [b.op('Conv', [f, weights(b, 'c2.w', [8, 16, 3, 3], 3), weights(b, 'c2.b', [8], 4)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })], {}, { output: 'h' });
  const g = b.op('Flatten', [b.op('GlobalAveragePool', [h])]);
  b.op('Gemm', [g, weights(b, 'fc.w', [4, 8], 5), weights(b, 'fc.b', [4], 6)], { transB: 1 }, { output: 'y' });
  b.output('y', 'float32', ['batch', 4]);
  return inMemoryModel(b.build(), 'classifier');
}

export const noise = (seed: number, n: number) => {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
};

/** Noise images labelled by the full model's own decision, so the labels are learnable through the frozen tail. */
export async function labelledNoise(size: number, seed: number, labelled = true): Promise<Dataset> {
  const x = noise(seed, size * 3 * 64);
  const s = await createSession(classifier().proto, '.');
  const y = (await run(s, { x: { dtype: DataType.FLOAT, dims: [size, 3, 8, 8], data: x } })).y!.data as Float32Array;
  await s.release();
  const labels = Array.from({ length: size }, (_, n) => argmax(y.subarray(4 * n, 4 * n + 4)));
  const rows = (idx: readonly number[]) => {
    const out = new Float32Array(idx.length * 192);
    idx.forEach((i, k) => out.set(x.subarray(i * 192, (i + 1) * 192), k * 192));
    return out;
  };
  return { name: `noise${seed}`, size, classes: ['a', 'b', 'c', 'd'], labelled, label: (i) => labels[i]!, load: rows, feeds: (idx) => ({ x: { dtype: DataType.FLOAT, dims: [idx.length, 3, 8, 8], data: rows(idx) } }) };
}
