/**
 * Adaptive evaluation: configurations measured in rounds on growing samples (32, 64, 128, … images), each one
 * stopped as soon as its quality's 95 % interval (the task layer's: Wilson for rates, bootstrap for means) shows it
 * cannot matter — its upper bound misses the QoS bound on quality, or lies more than the planner's tie tolerance
 * below the best configuration's lower bound, or another configuration at the same cut sends no more bytes and its
 * interval lies wholly above. Every configuration is scored on the same samples as the full model, so the interval
 * of its difference from the full model (task/quality.ts pairedDifference: only the samples where the two disagree
 * move it) rules as well: a configuration more than the tie tolerance below the full model is outranked by every
 * lossless one. Everything still alive at the end is measured on every sample. No rule at all is the exhaustive
 * evaluation: one round over every sample.
 *
 * Before the rounds, where the driver can screen (a metric of 0/1 scores) and the planner says which splits the
 * input sent losslessly outclasses (`outclassed`: faster at every percentile, no more bytes, no more energy), a
 * screen settles those splits exactly rather than statistically: a configuration can only score above the full
 * model on the samples where the full model's own score is not already the best there is (for accuracy: the
 * images it gets wrong, a few per cent of them), so its scores on those samples alone bound its gain over the full
 * model on every sample from above. Where that bound is at most the tie tolerance (a tie by the planner's own rule)
 * and the full model meets the QoS bound, the split is outclassed whatever its other scores are (a split that won
 * more stays, and each round's losses on the other samples lower its bound until it is settled so or measured on
 * all), and the planner
 * (recommend.ts) applies the same rule to every measured configuration, so adaptive and exhaustive evaluation
 * decide alike.
 */
import type { PairedDifference } from '../task/quality.js';
import type { QualityFigure } from '../task/types.js';

/** Why a configuration stopped being measured before the full sample. */
export type StopReason = 'below-qos' | 'outranked' | 'dominated' | 'outclassed';

/** When measuring a configuration can stop: the QoS bound on the metric (if any) and the planner's tie tolerance, in the metric's units. */
export interface AdaptiveRule {
  bound?: { limit: number; bound: 'min' | 'max' };
  tolerance: number;
  /** The tie tolerance of the decision whatever the objective (`tolerance` is Infinity where it does not rank by quality): the screen's; absent: `tolerance`. */
  tie?: number;
  /** Samples of the first round (default 32); every later round doubles them, the last takes all. */
  first?: number;
  /**
   * Whether, on every edge device and link, a configuration of the full model's quality (e.g. the input sent
   * losslessly) is faster at every percentile, sends no more bytes and spends no more energy than any split at cut
   * `group` sending `bytes` (the planner's cheap bounds, plan/bounds.ts); absent: never (no screen).
   */
  outclassed?: (group: string, bytes: number) => boolean;
}

/** A configuration as the rules see it: its group (configurations sharing a cut: the same head), bytes so far, quality so far. */
export interface ArmFigure {
  group: string;
  /** Mean bytes on the wire (NaN: not measured yet, never compared). */
  bytes: number;
  quality: Pick<QualityFigure, 'value' | 'ci' | 'better'>;
  /** Its difference from the full model on the same samples (this minus the full model, in the metric's units), where known. */
  paired?: Pick<PairedDifference, 'ci'>;
  /** After a screen: the exact upper bound of its gain over the full model on every sample (oriented), the screen's tightened by the losses measured since. */
  gainBound?: number;
}

/** Where a configuration's measuring ended: on how many samples, and why (null: it was measured on all). */
export interface ArmStop {
  samples: number;
  reason: StopReason | null;
}

/** Sample counts after each round: first, doubling, ending at total (one round of total without a rule). */
export function roundEnds(total: number, rule: AdaptiveRule | null): number[] {
  if (!rule) return [total];
  const ends: number[] = [];
  for (let n = Math.max(1, rule.first ?? 32); n < total; n *= 2) ends.push(n);
  return [...ends, total];
}

/** A quality interval oriented so that more is better. */
export function orientedInterval(q: ArmFigure['quality']): [number, number] {
  return q.better === 'higher' ? [q.ci[0], q.ci[1]] : [-q.ci[1], -q.ci[0]];
}

/** Why each arm should stop now (null: keep measuring it); `alive` says which are still measured (stopped ones keep their figures and still count as evidence). */
export function stopReasons(arms: readonly ArmFigure[], alive: readonly boolean[], rule: AdaptiveRule): (StopReason | null)[] {
  const intervals = arms.map((a) => orientedInterval(a.quality));
  const bestLower = Math.max(...intervals.map(([lo]) => lo));
  const limit = rule.bound ? (rule.bound.bound === 'min' ? rule.bound.limit : -rule.bound.limit) : -Infinity;
  return arms.map((arm, i) => {
    if (!alive[i]) return null;
    const upper = intervals[i]![1];
    // the upper bound of how much better than the full model it is (Infinity: not paired)
    const gainOverFull = arm.paired ? orientedInterval({ ...arm.quality, ci: arm.paired.ci })[1] : Infinity;
    if (upper < limit) return 'below-qos';
    if (upper < bestLower - rule.tolerance || gainOverFull < -rule.tolerance) return 'outranked';
    const dominated = arms.some((other, j) => j !== i && other.group === arm.group && other.bytes <= arm.bytes && intervals[j]![0] > upper);
    return dominated ? 'dominated' : null;
  });
}

/** Slack for rounding when a gain is compared with the tie tolerance (a gain of exactly one tolerance is a tie). */
const TIE_SLACK = 1e-9;

/** Whether a gain over the full model (oriented: more is better) is a tie under `tolerance`. */
export const withinTie = (gain: number, tolerance: number): boolean => gain <= tolerance + TIE_SLACK;

/** What a screen found: per arm the exact upper bound of its gain over the full model and its bytes (all byte samples), and the full model's quality. */
export interface Screen {
  /** Per arm, oriented (more is better): its quality minus the full model's on every sample is at most this. */
  gains: number[];
  bytes: number[];
  /** The full model's quality (a lossless configuration's), which the QoS bound must admit for the rival to be feasible. */
  full: number;
  /** Samples the screen scored the arms on (those where the full model could be beaten). */
  samples: number;
  /** The tie tolerance the decision will use, where the metric makes it narrower than the rule's (the planner ties nothing on a metric without classes but accuracy). */
  tie?: number;
}

/** The arms a screen settles: outclassed where the gain bound is a tie and the planner's `outclassed` holds, the full model meeting the QoS bound. */
export function screenStops(arms: readonly { group: string }[], screen: Screen, rule: AdaptiveRule): boolean[] {
  const fullMeets = !rule.bound || (rule.bound.bound === 'min' ? screen.full >= rule.bound.limit : screen.full <= rule.bound.limit);
  const tie = screen.tie ?? rule.tie ?? rule.tolerance;
  return arms.map((a, i) => fullMeets && withinTie(screen.gains[i]!, tie) && rule.outclassed !== undefined && rule.outclassed(a.group, screen.bytes[i]!));
}

/** What a stop reason means, for reports. */
export const STOP_REASONS: Record<StopReason, string> = {
  'below-qos': "its interval's upper bound misses the QoS bound on quality",
  outranked: "its interval's upper bound lies more than the tie tolerance below the best configuration's lower bound",
  dominated: 'a configuration at the same cut sends no more bytes and its interval lies wholly above',
  outclassed: "its gain over the full model is at most the tie tolerance (bounded exactly on the samples the full model gets wrong) and sending the input losslessly is faster, sends no more bytes and spends no more energy",
};

/** Progress of an adaptive evaluation after a round. */
export interface RoundProgress {
  round: number;
  rounds: number;
  /** Samples every live configuration has been measured on. */
  samples: number;
  alive: number;
  arms: number;
}

export interface RoundDriver {
  arms: number;
  total: number;
  /** Measure the live arms (alive[i]) on samples [from, to). */
  measure(alive: readonly boolean[], from: number, to: number): Promise<void>;
  /** Every arm's figure so far. */
  figures(): ArmFigure[];
  /** Arms that are measured on every sample whatever their figures (e.g. lossless codecs, which cost nothing). */
  pinned?: readonly boolean[];
  /** Each arm's group and the metric's orientation, and the screen (module comment); absent: no screen. */
  screen?: { arms: readonly { group: string }[]; run(): Promise<Screen> };
  /** Called when the screen stops every arm not pinned: the pinned arms' figures come from the screen, no round runs. */
  settle?(): Promise<void>;
  onRound?(p: RoundProgress): void;
}

/** Run the rounds: measure the live arms up to each round's end, then stop those the rule rules out. Returns where each arm stopped. */
export async function measureInRounds(d: RoundDriver, rule: AdaptiveRule | null): Promise<ArmStop[]> {
  const stops: ArmStop[] = Array.from({ length: d.arms }, () => ({ samples: d.total, reason: null }));
  const alive = stops.map(() => true);
  const screen = rule?.outclassed && d.screen ? await d.screen.run() : null;
  if (rule && screen && d.screen) {
    screenStops(d.screen.arms, screen, rule).forEach((out, i) => {
      if (!out || d.pinned?.[i]) return;
      alive[i] = false;
      stops[i] = { samples: 0, reason: 'outclassed' };
    });
    if (d.settle && alive.every((on, i) => !on || d.pinned?.[i])) {
      await d.settle();
      return stops;
    }
  }
  const ends = roundEnds(d.total, rule);
  let from = 0;
  for (const [r, to] of ends.entries()) {
    await d.measure(alive, from, to);
    from = to;
    if (rule && to < d.total) {
      const figures = d.figures();
      const reasons = stopReasons(figures, alive, rule);
      // the screen's bounds tightened by the losses since: a split whose gain is a tie by now is settled
      if (screen && d.screen) screenStops(d.screen.arms, { ...screen, gains: figures.map((f) => f.gainBound ?? Infinity) }, rule).forEach((out, i) => out && alive[i] && reasons[i] === null && (reasons[i] = 'outclassed'));
      reasons.forEach((reason, i) => {
        if (reason === null || d.pinned?.[i]) return;
        alive[i] = false;
        stops[i] = { samples: to, reason };
      });
    }
    d.onRound?.({ round: r + 1, rounds: ends.length, samples: to, alive: alive.filter(Boolean).length, arms: d.arms });
    if (!alive.some(Boolean)) break;
  }
  return stops;
}
