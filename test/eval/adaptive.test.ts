/**
 * Adaptive evaluation's rounds and stopping rules (eval/adaptive.ts), checked against closed forms: round ends by
 * doubling, intervals oriented by the metric's direction, each rule on either side of its boundary, and the rounds
 * driver on arms whose scores are fixed.
 */
import { describe, expect, it } from 'vitest';
import { measureInRounds, orientedInterval, roundEnds, stopReasons, type ArmFigure } from '../../src/eval/adaptive.js';
import { qualityFigure } from '../../src/task/quality.js';
import type { Metric } from '../../src/task/types.js';

const arm = (group: string, bytes: number, ci: [number, number], better: 'higher' | 'lower' = 'higher'): ArmFigure => ({ group, bytes, quality: { value: (ci[0] + ci[1]) / 2, ci, better } });
const accuracy: Metric = { name: 'accuracy', label: 'top-1 accuracy', better: 'higher', kind: 'rate', needsLabels: true, outputs: ['y'] };

describe('rounds', () => {
  it('double from the first round and end at the total; without a rule, one round of every sample', () => {
    expect(roundEnds(200, { tolerance: 0 })).toEqual([32, 64, 128, 200]);
    expect(roundEnds(1000, { tolerance: 0 })).toEqual([32, 64, 128, 256, 512, 1000]);
    expect(roundEnds(256, { tolerance: 0, first: 64 })).toEqual([64, 128, 256]);
    expect(roundEnds(20, { tolerance: 0 })).toEqual([20]);
    expect(roundEnds(200, null)).toEqual([200]);
  });
});

describe('stopping rules', () => {
  it('orient a lower-is-better interval so that more is better', () => {
    expect(orientedInterval({ value: 0.2, ci: [0.1, 0.3], better: 'lower' })).toEqual([-0.3, -0.1]);
    expect(orientedInterval({ value: 0.2, ci: [0.1, 0.3], better: 'higher' })).toEqual([0.1, 0.3]);
  });

  it("outranked exactly when the upper bound is below the best lower bound minus the tolerance", () => {
    const arms = [arm('a', 100, [0.81, 0.9]), arm('b', 50, [0.7, 0.8])];
    // 0.80 < 0.81 - 0.005 = 0.805: stops; 0.80 < 0.81 - 0.02 = 0.79 does not hold: goes on
    expect(stopReasons(arms, [true, true], { tolerance: 0.005 })).toEqual([null, 'outranked']);
    expect(stopReasons(arms, [true, true], { tolerance: 0.02 })).toEqual([null, null]);
  });

  it('below the QoS bound: a floor on a higher-is-better metric, a ceiling on a lower-is-better one', () => {
    const high = [arm('a', 100, [0.85, 0.89]), arm('b', 100, [0.86, 0.95])];
    expect(stopReasons(high, [true, true], { tolerance: 1, bound: { limit: 0.9, bound: 'min' } })).toEqual(['below-qos', null]);
    // relative L2 error in [0.2, 0.3] against a ceiling of 0.15: its best case (0.2) is still over
    const low = [arm('a', 100, [0.2, 0.3], 'lower'), arm('b', 100, [0.1, 0.16], 'lower')];
    expect(stopReasons(low, [true, true], { tolerance: 1, bound: { limit: 0.15, bound: 'max' } })).toEqual(['below-qos', null]);
  });

  it('dominated only by a configuration at the same cut that sends no more bytes and lies wholly above', () => {
    const arms = [arm('cut1', 100, [0.9, 0.95]), arm('cut1', 100, [0.8, 0.89]), arm('cut1', 50, [0.5, 0.6]), arm('cut2', 10, [0.5, 0.6]), arm('cut1', 200, [0.85, 0.89]), arm('cut1', 200, [0.85, 0.9])];
    // with a huge tolerance nothing is outranked: only dominance acts; intervals that touch (0.9 and 0.9) overlap
    expect(stopReasons(arms, arms.map(() => true), { tolerance: 10 })).toEqual([null, 'dominated', null, null, 'dominated', null]);
  });

  it('paired with the full model: outranked once its difference lies wholly more than the tolerance below, though its own interval overlaps the best', () => {
    // both near 0.9 on their own; paired, the second is 0.02-0.05 below the full model
    const arms = [{ ...arm('a', 100, [0.85, 0.95]), paired: { ci: [-0.01, 0.01] as [number, number] } }, { ...arm('b', 50, [0.83, 0.93]), paired: { ci: [-0.05, -0.02] as [number, number] } }];
    expect(stopReasons(arms, [true, true], { tolerance: 0.005 })).toEqual([null, 'outranked']);
    expect(stopReasons(arms, [true, true], { tolerance: 0.02 })).toEqual([null, null]);
    // lower is better: a difference of +0.02..+0.05 (more error) is the same loss
    const low = [{ ...arm('a', 100, [0.1, 0.2], 'lower'), paired: { ci: [0.02, 0.05] as [number, number] } }];
    expect(stopReasons(low, [true], { tolerance: 0.005 })).toEqual(['outranked']);
  });

  it('outclassed only when no better than the full model (paired upper bound <= 0) and the planner says the lossless input beats it at its cut and bytes', () => {
    const outclassed = (group: string, bytes: number) => group === 'cut1' && bytes >= 1000;
    const rule = { tolerance: Infinity, outclassed };
    const paired = (hi: number) => ({ ci: [hi - 0.05, hi] as [number, number] });
    const arms = [
      { ...arm('cut1', 2000, [0.85, 0.95]), paired: paired(0) },
      { ...arm('cut1', 2000, [0.85, 0.95]), paired: paired(0.001) },
      { ...arm('cut1', 500, [0.85, 0.95]), paired: paired(-0.01) },
      { ...arm('cut2', 2000, [0.85, 0.95]), paired: paired(-0.01) },
      arm('cut1', 2000, [0.85, 0.95]),
    ];
    expect(stopReasons(arms, arms.map(() => true), rule)).toEqual(['outclassed', null, null, null, null]);
  });

  it('stopped arms keep counting as evidence but get no new reason', () => {
    const arms = [arm('a', 100, [0.81, 0.9]), arm('b', 50, [0.7, 0.8])];
    expect(stopReasons(arms, [false, true], { tolerance: 0 })).toEqual([null, 'outranked']);
    expect(stopReasons(arms, [true, false], { tolerance: 0 })).toEqual([null, null]);
  });
});

describe('rounds driver', () => {
  /** Arms with fixed per-sample scores: arm i scores `score(i, s)` on sample s. */
  function driver(total: number, score: (arm: number, sample: number) => number, arms: number, pinned?: boolean[]) {
    const scores: number[][] = Array.from({ length: arms }, () => []);
    const calls: [number, number, number][] = [];
    return {
      scores,
      calls,
      d: {
        arms,
        total,
        ...(pinned ? { pinned } : {}),
        async measure(alive: readonly boolean[], from: number, to: number) {
          calls.push([from, to, alive.filter(Boolean).length]);
          alive.forEach((a, i) => a && scores[i]!.push(...Array.from({ length: to - from }, (_, k) => score(i, from + k))));
        },
        figures: () => scores.map((s) => ({ group: 'g', bytes: NaN, quality: qualityFigure(accuracy, s) })),
      },
    };
  }

  it('an arm always wrong stops after the first round; the always-right one and a pinned one get every sample', async () => {
    // Wilson on 32 of 32 right: lower bound 32 / (32 + 1.96^2) = 0.893; 0 of 32: upper bound 1.96^2 / (32 + 1.96^2) = 0.107
    const { d, calls, scores } = driver(200, (i) => (i === 0 ? 1 : 0), 3, [false, false, true]);
    const stops = await measureInRounds(d, { tolerance: 0.005 });
    expect(stops).toEqual([{ samples: 200, reason: null }, { samples: 32, reason: 'outranked' }, { samples: 200, reason: null }]);
    expect(calls).toEqual([[0, 32, 3], [32, 64, 2], [64, 128, 2], [128, 200, 2]]);
    expect(scores.map((s) => s.length)).toEqual([200, 32, 200]);
  });

  it('without a rule: one round, every arm on every sample', async () => {
    const { d, calls } = driver(100, (i) => (i === 0 ? 1 : 0), 2);
    expect(await measureInRounds(d, null)).toEqual([{ samples: 100, reason: null }, { samples: 100, reason: null }]);
    expect(calls).toEqual([[0, 100, 2]]);
  });

  it('arms a point apart (90 % and 89 %) are not told apart on 512 samples: both measured to the end', async () => {
    const { d } = driver(512, (i, s) => (s % 100 < 90 - i ? 1 : 0), 2);
    expect((await measureInRounds(d, { tolerance: 0.005 })).map((s) => s.samples)).toEqual([512, 512]);
  });
});
