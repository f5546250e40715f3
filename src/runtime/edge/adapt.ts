/**
 * What the adaptive edge knows of its conditions, and when it switches: an estimator fed by its own frames (the
 * uplink from the last k per-request throughputs: read from the body's arrival as the server reports it where it
 * does, their median (an arrival errs slow: a late timer or a busy receiver spreads it), else their harmonic mean,
 * robust to one fast outlier; the RTT and the server's queueing as EWMAs; the fixed cost
 * of a request as an EWMA of its network time beyond the transfer, or else the least network time of the last
 * requests; the
 * device's slowdown as an EWMA of its measured head and encode times over the plan's; the time between frames'
 * arrivals as an EWMA, against which an option's frames queue), and a chooser that evaluates
 * the switching plan's latency model at the estimate and switches only when another option wins by the plan's margin
 * for the plan's number of consecutive frames, or at once when the current option is predicted over the latency
 * limit and another meets it.
 */
import { predictLatency, rankAt, serviceMs, type NetworkPoint, type SwitchingOption, type SwitchingPlan } from '../../plan/switching.js';
import { median } from '../../util/stats.js';

export interface EstimatorSettings {
  /** Throughput samples the uplink estimate averages (harmonic mean). */
  window: number;
  /** EWMA weight of a new RTT, queueing or device slowdown sample. */
  alpha: number;
  /** Shortest transfer time credited to the bytes (ms): a request no slower than the RTT says little of the rate. */
  minTransferMs: number;
  /** Requests whose least network time is the fixed cost of a request (long enough to span a good spell of the link). */
  fixedWindow: number;
}

export const ESTIMATOR_DEFAULTS: EstimatorSettings = { window: 5, alpha: 0.3, minTransferMs: 0.5, fixedWindow: 40 };

export interface Estimate {
  /** Last per-request uplink throughputs (Mb/s), newest last. */
  throughputs: number[];
  rttMs?: number;
  queueMs?: number;
  /** Network times of the last requests (ms), newest last. */
  networkMs?: number[];
  /** The device's time over the plan's for the same work (EWMA; 1 until a frame is measured). */
  deviceSlowdown?: number;
  /** A request's network time beyond its transfer (EWMA), where the server reports the body's arrival. */
  overheadMs?: number;
  /** Time between frames' arrivals (EWMA), where they are given. */
  frameIntervalMs?: number;
}

/** The request body's arrival as the server reports it (impera_timing): bytes read after its headers, and the ms they took. */
export interface BodyArrival {
  ms: number;
  bytes: number;
}

export const harmonicMean = (xs: readonly number[]): number => xs.length / xs.reduce((s, x) => s + 1 / x, 0);

const ewma = (prev: number | undefined, x: number, alpha: number): number => (prev === undefined ? x : prev + alpha * (x - prev));

/** A round trip measured without payload (a health probe); a request faster than the RTT estimate lowers it too. */
export const observeRtt = (e: Estimate, ms: number, s = ESTIMATOR_DEFAULTS): Estimate => ({ ...e, rttMs: ewma(e.rttMs, ms, s.alpha) });

/** Queueing the server reported for a request (or a stand-in for a refusal: 429). */
export const observeQueue = (e: Estimate, ms: number, s = ESTIMATOR_DEFAULTS): Estimate => ({ ...e, queueMs: ewma(e.queueMs, ms, s.alpha) });

/**
 * A frame's device work (head and encoding) took `measuredMs` where the plan says `plannedMs`: the ratio is one
 * sample of the device's slowdown (other apps, thermal throttling), the same for every option's device work.
 */
export const observeDeviceTime = (e: Estimate, measuredMs: number, plannedMs: number, s = ESTIMATOR_DEFAULTS): Estimate =>
  plannedMs > 0 ? { ...e, deviceSlowdown: ewma(e.deviceSlowdown, measuredMs / plannedMs, s.alpha) } : e;

/** A frame arrived `gapMs` after the one before it (a camera's frame interval, as the edge saw it). */
export const observeArrival = (e: Estimate, gapMs: number, s = ESTIMATOR_DEFAULTS): Estimate => ({ ...e, frameIntervalMs: ewma(e.frameIntervalMs, gapMs, s.alpha) });

/**
 * The fixed cost of a request (ms): what it spends on the network whatever it sends (propagation, the protocol's
 * work at both ends, on a slow device its waits for the CPU), read as the least network time of the last
 * requests, the one whose transfer was shortest; never under the probed RTT. A health probe misses the work of an
 * inference request, so crediting the bytes with all the time beyond the RTT reads a fast link as a slow one when
 * the payload is small (measured: 3.3 kB at 20 Mb/s read as 1.7 Mb/s, with 25 ms of fixed cost). On a link that
 * never changes while one option runs, fixed cost and transfer cannot be told apart; the least time counts as
 * fixed, so the estimate reads the link as fast until a larger payload or a slower spell shows its rate. Where the
 * server reports the body's arrival, the fixed cost is measured instead (observeTransfer).
 */
export const fixedMs = (e: Estimate): number => e.overheadMs ?? Math.max(e.rttMs ?? 0, e.networkMs?.length ? Math.min(...e.networkMs) : 0);

/**
 * A request that sent `bytes` and spent `networkMs` on the network (its time less the server's queueing and
 * compute): the uplink it saw. Where the server reports the body's arrival (bytes after the headers' read, spread
 * over their transfer), the rate is those bytes over their time — what the link did, whatever the device spent
 * around the request: a device slowed by other work sends and reads more slowly, which the network time alone
 * would read as a slow link — and the rest of the network time is a sample of the fixed cost. Otherwise 8 x bytes
 * over the time beyond the fixed cost of a request (the requests before it).
 */
export function observeTransfer(e: Estimate, bytes: number, networkMs: number, s = ESTIMATOR_DEFAULTS, arrival?: BodyArrival): Estimate {
  if (arrival && arrival.bytes > 0) {
    const mbps = (8 * arrival.bytes) / (1e3 * Math.max(s.minTransferMs, arrival.ms));
    const transferMs = (8 * bytes) / (1e3 * mbps);
    return { ...e, throughputs: [...e.throughputs, mbps].slice(-s.window), overheadMs: ewma(e.overheadMs, Math.max(0, networkMs - transferMs), s.alpha) };
  }
  const rttMs = e.rttMs !== undefined && networkMs < e.rttMs ? networkMs : e.rttMs;
  const mbps = (8 * bytes) / (1e3 * Math.max(s.minTransferMs, networkMs - fixedMs({ ...e, ...(rttMs !== undefined ? { rttMs } : {}) })));
  return { ...e, ...(rttMs !== undefined ? { rttMs } : {}), throughputs: [...e.throughputs, mbps].slice(-s.window), networkMs: [...(e.networkMs ?? []), networkMs].slice(-s.fixedWindow) };
}

/**
 * A request that sent `bytes` and had no answer after `elapsedMs`: the uplink is at most 8 x bytes over the time
 * beyond the fixed cost (an upper bound), and the throughputs start again from it, so the estimate falls at once.
 */
export function observeTimeout(e: Estimate, bytes: number, elapsedMs: number, s = ESTIMATOR_DEFAULTS): Estimate {
  const bound = (8 * bytes) / (1e3 * Math.max(s.minTransferMs, elapsedMs - fixedMs(e)));
  return { ...e, throughputs: [bound] };
}

/** The point the estimate stands for (its RTT: the fixed cost of a request); undefined before the first transfer. */
export const currentPoint = (e: Estimate): NetworkPoint | undefined =>
  e.throughputs.length ? { upMbps: e.overheadMs === undefined ? harmonicMean(e.throughputs) : median(e.throughputs), rttMs: fixedMs(e), queueMs: e.queueMs ?? 0, deviceSlowdown: e.deviceSlowdown ?? 1, ...(e.frameIntervalMs !== undefined ? { frameIntervalMs: e.frameIntervalMs } : {}) } : undefined;

export interface ChooserState {
  current: string;
  /** The option that has been winning, and for how many consecutive frames. */
  candidate?: string;
  streak: number;
}

export interface SwitchDecision {
  from: string;
  to: string;
  reason: string;
}

const fmt = (x: number) => (x >= 10 || x === 0 ? x.toFixed(0) : x.toPrecision(2));
export const describePoint = (p: NetworkPoint): string =>
  `uplink ${fmt(p.upMbps)} Mb/s, RTT ${fmt(p.rttMs)} ms, queue ${fmt(p.queueMs)} ms, device x${fmt(p.deviceSlowdown ?? 1)}${p.frameIntervalMs !== undefined ? `, a frame every ${fmt(p.frameIntervalMs)} ms` : ''}`;

/** An option's predicted latency in words: its ms, or its frames piling up (service time over the frame interval). */
const describeLatency = (o: SwitchingOption, ms: number, p: NetworkPoint): string =>
  Number.isFinite(ms) ? `${fmt(ms)} ms` : `frames piling up (${fmt(serviceMs(o, p))} ms each)`;

/** Why `best` beats the current option by the margin (undefined: it does not). */
function winsBy(plan: Pick<SwitchingPlan, 'latencyLimitMs' | 'tolerance' | 'hysteresis'>, b: { best: SwitchingOption; lb: number }, c: { current: SwitchingOption; lc: number }, bestLimit: number, p: NetworkPoint): string | undefined {
  const { latencyLimitMs: limit, hysteresis: { margin } } = plan;
  // where both options' frames pile up, the one with the shorter service time by the margin grows its backlog slower
  const faster = Number.isFinite(b.lb) ? b.lb <= c.lc * (1 - margin) : !Number.isFinite(c.lc) && serviceMs(b.best, p) <= serviceMs(c.current, p) * (1 - margin);
  const late = `${c.current.name} predicted ${describeLatency(c.current, c.lc, p)}, over the ${fmt(limit)} ms limit`;
  if (c.lc > limit) return b.lb <= bestLimit ? `${late}; ${b.best.name} ${fmt(b.lb)} ms` : faster ? `${late}; ${b.best.name} is faster (${describeLatency(b.best, b.lb, p)})` : undefined;
  if (b.best.goodness > c.current.goodness + plan.tolerance) return `${b.best.name} fits the ${fmt(limit)} ms limit (${fmt(b.lb)} ms) with better quality than ${c.current.name}`;
  return faster ? `${b.best.name} is faster (${fmt(b.lb)} ms against ${fmt(c.lc)} ms) at equal quality` : undefined;
}

/**
 * The option to run the next frame with. Another option must beat the current one by the margin: it counts as
 * meeting the latency limit only with the margin to spare, and when nothing meets it, it must be faster by the
 * margin; and it must win `frames` times in a row — except when the current option is predicted over the limit and
 * the winner meets it with the margin to spare: then every frame waited is a likely miss (measured: 3 frames of
 * hysteresis cost most of a 4 s slow spell at 4 fps), so it switches at once.
 */
export function choose(plan: Pick<SwitchingPlan, 'options' | 'latencyLimitMs' | 'tolerance' | 'hysteresis'>, state: ChooserState, p: NetworkPoint): { state: ChooserState; decision?: SwitchDecision } {
  const { margin, frames } = plan.hysteresis;
  const limit = plan.latencyLimitMs;
  const current = plan.options.find((o) => o.name === state.current)!;
  const limitOf = (o: SwitchingOption) => (o === current ? limit : limit * (1 - margin));
  const best = rankAt(plan, p, limitOf)[0]!;
  const [lb, lc] = [predictLatency(best, p), predictLatency(current, p)];
  const why = winsBy(plan, { best, lb }, { current, lc }, limitOf(best), p);
  if (best === current || !why) return { state: { current: state.current, streak: 0 } };
  const rescue = lc > limit && lb <= limitOf(best);
  const streak = state.candidate === best.name ? state.streak + 1 : 1;
  if (!rescue && streak < frames) return { state: { current: state.current, candidate: best.name, streak } };
  const after = rescue ? 'at once' : `for ${frames} frame${frames > 1 ? 's' : ''}`;
  return { state: { current: best.name, streak: 0 }, decision: { from: current.name, to: best.name, reason: `${describePoint(p)}: ${why}, ${after}` } };
}
