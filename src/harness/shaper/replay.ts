/**
 * A bandwidth trace replayed on a shaped path: from the moment the replay starts, the path's rate follows the trace
 * (src/net/rate.ts), step after step and period after period, until it is stopped. Each step is one `set` of the
 * path (netns: a line to the link emulator; proxy: new pacing), sent when the step begins on a timer that re-reads
 * the clock, so a late timer applies the step due now rather than drifting. Both shapers fix a packet's (or chunk's)
 * serialisation time when it is queued: bytes queued before a change keep the old rate, so the replay is faithful
 * to within the queue's drain time at a step. Neither shaper can stop a link (a rate of 0 is unlimited in the
 * emulator), so an outage (0 Mb/s) is replayed at MIN_REPLAY_MBPS. The step timing is shared with any condition
 * that follows a trace (replaySteps: a device's CPU quota, harness/cpu-quota.ts).
 */
import type { BandwidthTrace } from '../../net/rate.js';
import type { ShapedPath, ShapeParams } from './path.js';

/** The rate an outage of the trace is replayed at (Mb/s): a 1500-byte packet takes 120 ms. */
export const MIN_REPLAY_MBPS = 0.1;

/** Which directions follow the trace; 'up' as in a link with a trace (src/net/link.ts: the trace is the uplink). */
export type ReplayDirection = 'up' | 'down' | 'both';

export interface TraceReplay {
  /** performance.now() (ms) at which the trace's time 0 was applied: a prediction of the replay starts here. */
  readonly startMs: number;
  /** The first error a step met (e.g. the path closed under the replay); the replay stops at it. */
  readonly error: Error | undefined;
  /** Stop changing the rate; resolves once a step under way is applied. The path keeps the last rate set. */
  stop(): Promise<void>;
}

/** The step of `trace` at `elapsedMs` after its start: its index within a period and when the next step begins. */
export function traceStepAt(trace: StepTrace, elapsedMs: number): { index: number; nextMs: number } {
  const periodMs = trace.periodS * 1000;
  const cycle = Math.floor(elapsedMs / periodMs);
  const within = elapsedMs - cycle * periodMs;
  let index = 0;
  while (index + 1 < trace.timesS.length && trace.timesS[index + 1]! * 1000 <= within) index++;
  const end = index + 1 < trace.timesS.length ? trace.timesS[index + 1]! * 1000 : periodMs;
  return { index, nextMs: cycle * periodMs + end };
}

/** The shape of the path during step `index`: `base` with the trace's rate in the replayed directions. */
export function replayParams(trace: BandwidthTrace, index: number, base: ShapeParams, direction: ReplayDirection): ShapeParams {
  const mbps = Math.max(trace.mbps[index]!, MIN_REPLAY_MBPS);
  return { ...base, ...(direction !== 'down' ? { upMbps: mbps } : {}), ...(direction !== 'up' ? { downMbps: mbps } : {}) };
}

/** What times a replay: step start times within a period (s) and the period (s); a bandwidth trace is one. */
export type StepTrace = Pick<BandwidthTrace, 'timesS' | 'periodS'>;

/**
 * Apply the steps of `trace` from now on, `apply(index)` when each begins, until stopped. Resolves once step 0 is
 * applied, which is the replay's time 0 (`startMs`).
 */
export async function replaySteps(trace: StepTrace, apply: (index: number) => Promise<void>): Promise<TraceReplay> {
  await apply(0);
  const startMs = performance.now();
  let applied = 0;
  let stopped = false;
  let error: Error | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pending: Promise<void> = Promise.resolve();
  const tick = (): void => {
    const { index, nextMs } = traceStepAt(trace, performance.now() - startMs);
    if (index !== applied) {
      applied = index;
      pending = apply(index).catch((e: Error) => {
        error ??= e;
        stopped = true;
        clearTimeout(timer);
      });
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, startMs + nextMs - performance.now()));
  };
  tick();
  return {
    startMs,
    get error() {
      return error;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pending;
    },
  };
}

/**
 * Replay `trace` on `path` from now on; the other numbers of the link (delay, loss, the other direction) are
 * `base`'s. Resolves once the trace's first step is applied, which is the replay's time 0 (`startMs`).
 */
export const replayTrace = (path: ShapedPath, trace: BandwidthTrace, base: ShapeParams, direction: ReplayDirection = 'up'): Promise<TraceReplay> =>
  replaySteps(trace, (index) => path.set(replayParams(trace, index, base, direction)));
