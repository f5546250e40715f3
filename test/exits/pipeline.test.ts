import { describe, expect, it } from 'vitest';
import { findCuts } from '../../src/cuts/cuts.js';
import type { Dataset } from '../../src/data/dataset.js';
import { checkExitCuts, splitSamples } from '../../src/exits/pipeline.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { residual } from '../helpers/models.js';

/** Only the name and size matter to the splits. */
const fake = (name: string, size: number) => ({ name, size }) as Dataset;

describe('exit data splits', () => {
  it('holds out 20 % for testing and 10 % each for validation and calibration, disjoint and covering every sample', () => {
    const s = splitSamples({ train: fake('d', 2000) }, {});
    expect([s.train.length, s.val.length, s.cal.length, s.test.indices.length]).toEqual([1280, 160, 160, 400]);
    const all = [...s.train, ...s.val, ...s.cal, ...s.test.indices];
    expect(new Set(all).size).toBe(2000);
    expect(Math.min(...all)).toBe(0);
    expect(Math.max(...all)).toBe(1999);
  });

  it('is reproducible under a seed and differs across seeds', () => {
    const d = { train: fake('d', 2000) };
    expect(splitSamples(d, { seed: 3 })).toEqual(splitSamples(d, { seed: 3 }));
    expect(splitSamples(d, { seed: 3 }).train).not.toEqual(splitSamples(d, { seed: 4 }).train);
  });

  it('tests on a separate test set when given, and takes no calibration split without calibration', () => {
    const test = fake('t', 50);
    const s = splitSamples({ train: fake('d', 1000), test }, { calibrate: false, testSamples: 30 });
    expect(s.test.data).toBe(test);
    expect(s.test.indices).toEqual([...Array(30).keys()]);
    expect([s.train.length, s.val.length, s.cal.length]).toEqual([900, 100, 0]);
  });

  it('refuses a calibration split under 100 samples and splits that leave nothing to train on, saying what to change', () => {
    expect(() => splitSamples({ train: fake('small', 500) }, {})).toThrow(/calibration needs at least 100 samples, but small leaves 40/);
    expect(() => splitSamples({ train: fake('small', 500) }, { valSamples: 300, calSamples: 100 })).toThrow(/too few samples \(500\).*100 held out for testing, 300 for validation, 100 for calibration leave 0 to train on/);
    expect(() => splitSamples({ train: fake('small', 500) }, { valSamples: 300, calSamples: 100 })).toThrow(expect.objectContaining({ hint: expect.stringMatching(/--val-samples/) }));
  });
});

describe('exit cuts', async () => {
  const g = await analyzeModel(residual());
  const cuts = findCuts(g, { maxWidth: 2 });
  const single = cuts.filter((c) => c.tensors.length === 1);

  it('accepts distinct single-tensor cuts in depth order', () => {
    expect(() => checkExitCuts(single.slice(0, 2))).not.toThrow();
  });

  it('refuses no cut, a cut of two tensors, and cuts out of depth order', () => {
    expect(() => checkExitCuts([])).toThrow(/no exit given/);
    const wide = cuts.find((c) => c.tensors.length === 2)!;
    expect(() => checkExitCuts([wide])).toThrow(/an exit reads one tensor, but cut .* has 2/);
    expect(() => checkExitCuts([single[1]!, single[0]!])).toThrow(/distinct and in depth order/);
    expect(() => checkExitCuts([single[0]!, single[0]!])).toThrow(/distinct and in depth order/);
  });
});
