import { describe, expect, it } from 'vitest';
import { makeBranch, channelStats } from '../../src/exits/branch.js';
import { trainBranch, type TrainData } from '../../src/exits/train.js';
import { seededRandom } from '../../src/util/random.js';

/** Gaussian blobs: class k centred at a random point of R^width, so a linear classifier separates them. */
function blobs(count: number, width: number, classes: number, seed: number): TrainData {
  const centres = (() => {
    const r = seededRandom(99);
    return Array.from({ length: classes }, () => Array.from({ length: width }, () => 4 * (r() - 0.5)));
  })();
  const rand = seededRandom(seed);
  const x = new Float32Array(count * width);
  const y = new Int32Array(count);
  for (let s = 0; s < count; s++) {
    y[s] = s % classes;
    for (let j = 0; j < width; j++) x[s * width + j] = centres[y[s]!]![j]! + (rand() - 0.5) * 1.5;
  }
  return { x, y, count, width };
}

describe('training exit branches with backward graphs in ONNX Runtime', () => {
  const train = blobs(2000, 32, 4, 1);
  const val = blobs(400, 32, 4, 2);

  it('learns a separable problem with a linear branch, keeping the best validation epoch', async () => {
    const branch = makeBranch({ kind: 'linear', hidden: 0 }, 'e', [1, 32], 4, 1, channelStats(train.x, train.count, 32));
    const r = await trainBranch(branch, train, val, { maxEpochs: 20, batchSize: 64, learningRate: 1e-2 });
    const best = r.history[r.bestEpoch - 1]!;
    expect(best.valAccuracy).toBeGreaterThan(0.97);
    expect(r.history[0]!.loss).toBeGreaterThan(r.history[r.history.length - 1]!.loss);
    expect(Math.max(...r.history.map((h) => h.valAccuracy))).toBe(best.valAccuracy);
    expect(r.history[0]!.steps).toBe(Math.floor(2000 / 64));
  });

  it('stops early when validation accuracy stops improving', async () => {
    const branch = makeBranch({ kind: 'linear', hidden: 0 }, 'e', [1, 32], 4);
    const r = await trainBranch(branch, train, val, { maxEpochs: 50, batchSize: 64, learningRate: 5e-2, patience: 2 });
    expect(r.history.length).toBeLessThan(50);
    expect(r.history.length - r.bestEpoch).toBe(2);
  });

  it('keeps predefined-sparse connections at zero through training and still learns', async () => {
    const branch = makeBranch({ kind: 'linear', hidden: 16, fanOut: [4, 2] }, 'e', [1, 32], 4, 3);
    const r = await trainBranch(branch, train, val, { maxEpochs: 15, batchSize: 64, learningRate: 1e-2 });
    for (const p of branch.params.filter((q) => q.mask)) {
      const w = r.values.get(p.name)!;
      const off = [...p.mask!.keys()].filter((i) => !p.mask![i]);
      expect(off.length).toBeGreaterThan(0);
      expect(off.every((i) => w[i] === 0)).toBe(true);
      expect([...p.mask!.keys()].some((i) => p.mask![i] && w[i] !== 0)).toBe(true);
    }
    expect(r.history[r.bestEpoch - 1]!.valAccuracy).toBeGreaterThan(0.9);
  });

  it('trains the conv branch on feature maps', async () => {
    const rand = seededRandom(4);
    const make = (count: number): TrainData => {
      // class = which quadrant of a 4-channel 8x8 map is bright
      const x = new Float32Array(count * 4 * 64);
      const y = Int32Array.from({ length: count }, (_, s) => s % 4);
      for (let s = 0; s < count; s++)
        for (let c = 0; c < 4; c++)
          for (let i = 0; i < 8; i++)
            for (let j = 0; j < 8; j++) x[s * 256 + c * 64 + i * 8 + j] = rand() * 0.5 + ((i < 4 ? 0 : 2) + (j < 4 ? 0 : 1) === y[s] && c === y[s] ? 1 : 0);
      return { x, y, count, width: 256 };
    };
    const branch = makeBranch({ kind: 'conv', hidden: 8 }, 'e', [1, 4, 8, 8], 4);
    const r = await trainBranch(branch, make(800), make(200), { maxEpochs: 20, batchSize: 32, learningRate: 1e-2 });
    expect(r.history[r.bestEpoch - 1]!.valAccuracy).toBeGreaterThan(0.9);
  });

  it('rejects a negative hidden size, a conv branch on a vector, too many fan-outs and a tensor without a batch and channels', () => {
    expect(() => makeBranch({ kind: 'linear', hidden: -1 }, 'e', [1, 32], 4)).toThrow(/hidden units must be a whole number >= 0/);
    expect(() => makeBranch({ kind: 'conv', hidden: 8 }, 'e', [1, 32], 4)).toThrow(/conv exit needs an \[N, C, H, W\] cut tensor/);
    expect(() => makeBranch({ kind: 'linear', hidden: 8, fanOut: [2, 2, 2] }, 'e', [1, 32], 4)).toThrow(/3 fan-outs for 2 fully connected layer/);
    expect(() => makeBranch({ kind: 'linear', hidden: 0 }, 'e', [5], 4)).toThrow(/an exit needs a feature map .* got \[5\]/);
    // rank 5 reads as [N, C, D, H, W] (graph/layout.ts): the linear exit pools it like a feature map
    expect(makeBranch({ kind: 'linear', hidden: 0 }, 'e', [1, 2, 3, 4, 5], 4).params.length).toBeGreaterThan(0);
  });
});
