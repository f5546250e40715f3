/**
 * Adaptive evaluation's rounds and stopping rules (eval/adaptive.ts), checked against closed forms: round ends by
 * doubling, intervals oriented by the metric's direction, each rule on either side of its boundary, and the rounds
 * driver on arms whose scores are fixed.
 */
import { describe, expect, it } from 'vitest';
import { measureInRounds, orientedInterval, roundEnds, screenStops, stopReasons, withinTie, type ArmFigure } from '../../src/eval/adaptive.js';
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

  it('no rule of the rounds outclasses: a split no better than the full model (paired) that the planner says is beaten goes on', () => {
    const rule = { tolerance: Infinity, outclassed: () => true };
    const arms = [{ ...arm('cut1', 2000, [0.85, 0.95]), paired: { ci: [-0.05, 0] as [number, number] } }];
    expect(stopReasons(arms, [true], rule)).toEqual([null]);
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

describe('the screen', () => {
  const screen = (gains: number[], bytes: number[], full = 0.93) => ({ gains, bytes, full, samples: 14 });
  const beaten = (group: string, bytes: number) => group === 'cut1' && bytes >= 1000;

  it('settles a split exactly when its gain bound is within the tie tolerance, the planner says it is beaten and the full model meets the QoS bound', () => {
    const arms = [{ group: 'cut1' }, { group: 'cut1' }, { group: 'cut1' }, { group: 'cut2' }];
    const rule = { tolerance: 0.005, bound: { limit: 0.9, bound: 'min' as const }, outclassed: beaten };
    // a gain of one image in 200 is a tie; two are not; fewer bytes than the rival's or another cut are not beaten
    expect(screenStops(arms, screen([1 / 200, 2 / 200, 0, 0], [2000, 2000, 500, 2000]), rule)).toEqual([true, false, false, false]);
    // a full model below the QoS bound outclasses nothing (a tied split could meet the bound where it does not)
    expect(screenStops(arms, screen([0, 0, 0, 0], [2000, 2000, 2000, 2000], 0.89), rule)).toEqual([false, false, false, false]);
    // the decision's tie tolerance, not the rounds' (Infinity where the objective does not rank by quality)
    expect(screenStops(arms, screen([0.004, 0.006, 0, 0], [2000, 2000, 2000, 2000]), { ...rule, tolerance: Infinity, tie: 0.005 })).toEqual([true, false, true, false]);
    // a metric the planner ties nothing on
    expect(screenStops(arms, { ...screen([0.004, 0, 0, 0], [2000, 2000, 2000, 2000]), tie: 0 }, rule)).toEqual([false, true, true, false]);
  });

  it('a tie is a gain of at most the tolerance, rounding aside', () => {
    expect(withinTie(0.935 - 0.93, 0.005)).toBe(true);
    expect(withinTie(0.0051, 0.005)).toBe(false);
  });

  it('runs before the rounds: settled arms are measured on no round, and when only pinned arms are left no round runs', async () => {
    const rule = { tolerance: 0.005, outclassed: beaten };
    const rounds: number[] = [];
    let settled = 0;
    const driver = (gains: number[]) => ({
      arms: 3,
      total: 200,
      pinned: [true, false, false],
      async measure(_alive: readonly boolean[], _from: number, to: number) {
        rounds.push(to);
      },
      figures: () => [arm('cut1', 2000, [0.9, 0.96]), arm('cut1', 2000, [0.9, 0.96]), arm('cut1', 2000, [0.9, 0.96])],
      screen: { arms: [{ group: 'cut1' }, { group: 'cut1' }, { group: 'cut1' }], run: async () => screen(gains, [2000, 2000, 2000]) },
      async settle() {
        settled++;
      },
    });
    expect(await measureInRounds(driver([0, 0, 0.02]), rule)).toEqual([{ samples: 200, reason: null }, { samples: 0, reason: 'outclassed' }, { samples: 200, reason: null }]);
    expect(rounds).toEqual([32, 64, 128, 200]);
    expect(settled).toBe(0);
    rounds.length = 0;
    expect((await measureInRounds(driver([0, 0, 0]), rule)).map((s) => s.reason)).toEqual([null, 'outclassed', 'outclassed']);
    expect(rounds).toEqual([]);
    expect(settled).toBe(1);
    // without the planner's outclassed no screen runs
    rounds.length = 0;
    expect((await measureInRounds(driver([0, 0, 0]), { tolerance: 0.005 })).map((s) => s.reason)).toEqual([null, null, null]);
  });

  it("tightens a survivor's bound by the losses of each round: settled once its gain is a tie, with the samples measured by then", async () => {
    const rule = { tolerance: 0.005, outclassed: beaten };
    let measured = 0;
    // two wins on the screened samples (1 point: no tie); one loss appears by 64 samples
    const stops = await measureInRounds(
      {
        arms: 2,
        total: 200,
        pinned: [true, false],
        async measure(_alive, _from, to) {
          measured = to;
        },
        figures: () => [arm('cut1', 2000, [0.9, 0.96]), { ...arm('cut1', 2000, [0.9, 0.96]), gainBound: (2 - (measured >= 64 ? 1 : 0)) / 200 }],
        screen: { arms: [{ group: 'cut1' }, { group: 'cut1' }], run: async () => screen([0, 2 / 200], [2000, 2000]) },
      },
      rule,
    );
    expect(stops).toEqual([{ samples: 200, reason: null }, { samples: 64, reason: 'outclassed' }]);
  });
});

