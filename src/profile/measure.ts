/**
 * Timing runs until the median is stable. A shared, noisy machine makes single runs unreliable: after a warm-up,
 * the tasks run in turns, and timing stops once the median of every task moved less than `tolerance` (relative)
 * over the last check interval — twice in a row — or the run or time budget is spent.
 */
import { median } from '../util/stats.js';

export interface MeasureOptions {
  /** Untimed runs of each (non-auxiliary) task first (allocations, caches, thread pool spin-up). */
  warmup: number;
  /** Timed runs per task at least, and at most. */
  minRuns: number;
  maxRuns: number;
  /** Runs of one task in a row per turn. */
  block: number;
  /** Runs per task between stability checks. */
  checkEvery: number;
  /** Relative change of the median that counts as stable. */
  tolerance: number;
  /** Stop after this much timed wall time (all tasks) even if not stable, ms. */
  budgetMs: number;
  /**
   * Idle time before switching to another task, ms, plus one untimed run. ORT's intra-op threads spin after a
   * run; on a machine with few cores the spinning pool of one session slows the next session's run 2-3x until
   * it parks. Not needed with one thread per session (no pool).
   */
  switchPauseMs: number;
}

export const DEFAULT_MEASURE: MeasureOptions = { warmup: 3, minRuns: 10, maxRuns: 200, block: 5, checkEvery: 5, tolerance: 0.02, budgetMs: 4000, switchPauseMs: 0 };

/** Measurement settings for sessions with `threads` intra-op threads. */
export const measureFor = (threads: number): MeasureOptions => (threads > 1 ? { ...DEFAULT_MEASURE, switchPauseMs: 20 } : DEFAULT_MEASURE);

/** A task to time: a function, or one with its own runs per turn that does not decide when timing stops. */
export type Task = (() => Promise<unknown>) | { run: () => Promise<unknown>; block: number; auxiliary: true };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Tasks measured in turns of `block` runs each, so that slow phases of a noisy machine hit all of them alike.
 * Auxiliary tasks run alongside (with their own runs per turn) without holding up the stop. Returns each task's
 * samples, ms.
 */
export async function measureAlternating(tasks: readonly Task[], options: Partial<MeasureOptions> = {}): Promise<number[][]> {
  const o = { ...DEFAULT_MEASURE, ...options };
  const runs = tasks.map((t) => (typeof t === 'function' ? t : t.run));
  const blocks = tasks.map((t) => (typeof t === 'function' ? o.block : t.block));
  const deciding = tasks.flatMap((t, k) => (typeof t === 'function' ? [k] : []));
  const lead = deciding[0] ?? 0;
  const switching = tasks.length > 1 && o.switchPauseMs > 0;
  const samples = tasks.map((): number[] => []);
  // Auxiliary tasks are long-lived and already warm.
  for (let i = 0; i < o.warmup; i++) for (const k of deciding) await runs[k]!();
  const previous = tasks.map(() => NaN);
  const stable = tasks.map(() => 0);
  let spent = 0;
  while (samples[lead]!.length < o.maxRuns && spent < o.budgetMs) {
    for (const [k, run] of runs.entries()) {
      if (switching) {
        await pause(o.switchPauseMs);
        await run();
      }
      for (let r = 0; r < blocks[k]!; r++) {
        const start = performance.now();
        await run();
        const ms = performance.now() - start;
        samples[k]!.push(ms);
        spent += ms;
      }
    }
    if (samples[lead]!.length % o.checkEvery >= o.block) continue;
    for (const k of deciding) {
      const m = median(samples[k]!);
      stable[k] = Math.abs(m - previous[k]!) <= o.tolerance * m ? stable[k]! + 1 : 0;
      previous[k] = m;
    }
    if (samples[lead]!.length >= o.minRuns && deciding.every((k) => stable[k]! >= 2)) break;
  }
  return samples;
}
