import { describe, expect, it } from 'vitest';
import { applyPolicy, entropy, missedDeadline, outageProbability, softmax, sweep, type ExitLogits } from '../../src/exits/policy.js';

/** Two exits, 3 classes, 4 samples: rows of logits chosen so confidences are obvious. */
const sure = (k: number) => [0, 1, 2].map((i) => (i === k ? 10 : 0));
const unsure = [0, 0, 0];
const o: ExitLogits = {
  classes: 3,
  labels: Int32Array.of(0, 1, 2, 0),
  //                    sample 0     sample 1   sample 2   sample 3
  exits: [Float32Array.from([...sure(0), ...unsure, ...sure(1), ...unsure]), Float32Array.from([...unsure, ...sure(1), ...unsure, ...unsure])],
  final: Float32Array.from([...sure(0), ...sure(1), ...sure(2), ...sure(1)]),
};

describe('exit policies', () => {
  it('sends each sample out at the first confident exit and counts rates and accuracies', () => {
    const r = applyPolicy(o, { kind: 'softmax', thresholds: [0.9, 0.9] });
    expect([...r.taken]).toEqual([0, 1, 0, 2]);
    expect(r.rates).toEqual([0.5, 0.25]);
    expect(r.finalRate).toBe(0.25);
    expect(r.exitAccuracy).toEqual([0.5, 1]); // sample 2 leaves at exit 0 with the wrong class
    expect(r.finalAccuracy).toBe(0); // sample 3: the full model says 1, the label is 0
    // sum_k a_k n_k / N + (1 - sum_k n_k / N) a_final
    expect(r.accuracy).toBeCloseTo(0.5 * 0.5 + 1 * 0.25 + 0.25 * 0, 12);
  });

  it('entropy <= T is the same decision from the other side', () => {
    const h = entropy(softmax(sure(0)));
    const r = applyPolicy(o, { kind: 'entropy', thresholds: [h * 1.01, h * 1.01] });
    expect([...r.taken]).toEqual([0, 1, 0, 2]);
  });

  it('a higher tau never lets more samples leave early', () => {
    const rows = sweep(o, 'softmax', [0.3, 0.5, 0.9, 0.99999]);
    const early = rows.map((r) => r.rates.reduce((a, b) => a + b, 0));
    expect(early).toEqual([...early].sort((a, b) => b - a));
    expect(early[0]).toBe(1); // tau 0.3 < 1/3: everyone leaves at exit 0
  });

  it('temperatures change confidence, not predictions', () => {
    const hot = applyPolicy(o, { kind: 'softmax', thresholds: [0.9, 0.9] }, [100, 100]);
    expect(hot.rates).toEqual([0, 0]);
    expect(hot.accuracy).toBe(0.75);
  });

  it('rejects tau outside (0, 1], negative entropies and a threshold count that does not match the exits', () => {
    expect(() => applyPolicy(o, { kind: 'softmax', thresholds: [0, 0.9] })).toThrow(/tau 0 is outside \(0, 1\]/);
    expect(() => applyPolicy(o, { kind: 'softmax', thresholds: [1.2, 0.9] })).toThrow(/tau 1.2 is outside \(0, 1\]/);
    expect(() => applyPolicy(o, { kind: 'entropy', thresholds: [-1, 0] })).toThrow(/negative/);
    expect(() => applyPolicy(o, { kind: 'softmax', thresholds: [0.9] })).toThrow(/1 thresholds for 2 exits/);
  });

  it('outage: batches whose early answers miss the accuracy target; missed deadline: paths over the deadline', () => {
    const r = applyPolicy(o, { kind: 'softmax', thresholds: [0.9, 0.9] });
    expect(outageProbability(o, r, 0.9, 2)).toBe(0.5); // batch {0, 1}: 2/2 right; batch {2, 3}: 0/1 right
    expect(missedDeadline(r.taken, [5, 20, 50], 30)).toBe(0.25);
  });
});
