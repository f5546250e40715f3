import { describe, expect, it } from 'vitest';
import { expectedCalibrationError, fitTemperature, nll } from '../../src/exits/calibration.js';
import { softmax } from '../../src/exits/policy.js';
import { seededRandom } from '../../src/util/random.js';

/** Labels drawn from softmax(z) (so z is perfectly calibrated), and logits z * scale (over- or under-confident). */
function synthetic(n: number, classes: number, scale: number, seed = 1) {
  const rand = seededRandom(seed);
  const logits = new Float32Array(n * classes);
  const labels = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const z = Array.from({ length: classes }, () => 3 * (rand() - 0.5));
    z[s % classes]! += 2;
    const p = softmax(z);
    let u = rand();
    let y = 0;
    while (y < classes - 1 && (u -= p[y]!) > 0) y++;
    labels[s] = y;
    z.forEach((v, i) => (logits[s * classes + i] = v * scale));
  }
  return { logits, labels };
}

describe('temperature scaling', () => {
  it('recovers the temperature of logits scaled by 2.5 (over-confident) and by 0.5 (under-confident)', () => {
    for (const scale of [2.5, 0.5]) {
      const { logits, labels } = synthetic(20_000, 10, scale);
      expect(fitTemperature([logits], labels, 10)).toBeCloseTo(scale, 1);
    }
  });

  it('minimises NLL: the fitted T beats its neighbours', () => {
    const { logits, labels } = synthetic(5000, 10, 2);
    const t = fitTemperature([logits], labels, 10);
    expect(nll([logits], labels, 10, t)).toBeLessThan(nll([logits], labels, 10, t * 1.05));
    expect(nll([logits], labels, 10, t)).toBeLessThan(nll([logits], labels, 10, t / 1.05));
  });

  it('lowers ECE of over-confident logits to near zero, and bins hold every sample', () => {
    const { logits, labels } = synthetic(20_000, 10, 3);
    const before = expectedCalibrationError(logits, labels, 10);
    const after = expectedCalibrationError(logits, labels, 10, fitTemperature([logits], labels, 10));
    expect(before.ece).toBeGreaterThan(0.1);
    expect(after.ece).toBeLessThan(0.02);
    expect(after.bins.reduce((s, b) => s + b.count, 0)).toBe(20_000);
  });

  it('refuses to calibrate on fewer than 100 samples', () => {
    const { logits, labels } = synthetic(99, 10, 1);
    expect(() => fitTemperature([logits], labels, 10)).toThrow(/at least 100 samples, got 99/);
  });
});
