/**
 * Link rates over time: a constant rate, or a bandwidth trace (time, Mb/s) replayed in a loop. Every link model
 * asks one question of a rate: when have `bits` sent from time `start` left the sender? Times are in ms.
 */
import { ImperaError } from '../errors.js';
import { readUserFile } from '../util/config.js';

export interface Rate {
  /** The time (ms) at which `bits` handed to the link at `startMs` have been serialised. */
  finish(startMs: number, bits: number): number;
  /** The long-run mean rate in Mb/s. */
  meanMbps: number;
  /** Whether the rate never changes (lets models precompute transfer times). */
  constant: boolean;
}

/** A bandwidth trace: rate `mbps[i]` holds from `timesS[i]` to `timesS[i+1]`; the trace repeats every `periodS`. */
export interface BandwidthTrace {
  source: string;
  timesS: number[];
  mbps: number[];
  periodS: number;
}

export function constantRate(mbps: number): Rate {
  const bitsPerMs = mbps * 1000;
  return { finish: (startMs, bits) => startMs + bits / bitsPerMs, meanMbps: mbps, constant: true };
}

export function traceRate(trace: BandwidthTrace): Rate {
  const n = trace.timesS.length;
  const starts = trace.timesS.map((t) => t * 1000);
  const periodMs = trace.periodS * 1000;
  const ends = [...starts.slice(1), periodMs];
  const perMs = trace.mbps.map((m) => m * 1000);
  // cum[i]: bits sent from the start of a period to starts[i]
  const cum = [0];
  for (let i = 0; i < n; i++) cum.push(cum[i]! + perMs[i]! * (ends[i]! - starts[i]!));
  const perPeriod = cum[n]!;
  /** The segment holding time `t` within a period (the last start <= t). */
  const segmentAt = (t: number): number => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const bitsAt = (t: number): number => {
    const k = Math.floor(t / periodMs);
    const inP = t - k * periodMs;
    const i = segmentAt(inP);
    return k * perPeriod + cum[i]! + perMs[i]! * (inP - starts[i]!);
  };
  const timeAt = (bits: number): number => {
    let k = Math.floor(bits / perPeriod);
    let rest = bits - k * perPeriod;
    if (rest === 0 && k > 0) {
      k -= 1;
      rest = perPeriod;
    }
    // the first segment by whose end `rest` bits are out; it has a rate, since rest > cum[i] (outages send nothing)
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid + 1]! >= rest) hi = mid;
      else lo = mid + 1;
    }
    return k * periodMs + starts[lo]! + (rest - cum[lo]!) / perMs[lo]!;
  };
  return { finish: (startMs, bits) => (bits <= 0 ? startMs : timeAt(bitsAt(startMs) + bits)), meanMbps: perPeriod / periodMs / 1000, constant: false };
}

const traceError = (source: string, what: string) =>
  new ImperaError('BAD_TRACE', `bandwidth trace '${source}': ${what}`, 'write one "time_s, Mb/s" pair per line, times starting at 0 and increasing (a header line and # comments are allowed)');

/**
 * Parse a trace: one `time_s, Mb/s` pair per line (comma, tab or spaces), an optional header line, `#` comments.
 * Each rate holds until the next line's time; the last one for as long as the step before it; then it repeats.
 */
export function parseTrace(text: string, source: string): BandwidthTrace {
  const timesS: number[] = [];
  const mbps: number[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const fields = line.split(/[\s,;]+/).filter(Boolean);
    const nums = fields.map(Number);
    if (fields.length !== 2 || nums.some((x) => !Number.isFinite(x))) {
      if (timesS.length === 0 && nums.every((x) => Number.isNaN(x))) return; // header line
      throw traceError(source, `line ${idx + 1}: expected two numbers "time_s, Mb/s", got '${raw.trim()}'`);
    }
    const [t, r] = nums as [number, number];
    if (timesS.length === 0 && t !== 0) throw traceError(source, `line ${idx + 1}: the first time must be 0, got ${t}`);
    if (timesS.length > 0 && t <= timesS[timesS.length - 1]!) throw traceError(source, `line ${idx + 1}: times must increase, got ${t} after ${timesS[timesS.length - 1]}`);
    if (r < 0) throw traceError(source, `line ${idx + 1}: a rate cannot be negative, got ${r} Mb/s`);
    timesS.push(t);
    mbps.push(r);
  });
  if (timesS.length < 2) throw traceError(source, `needs at least two rows, found ${timesS.length}`);
  if (mbps.every((r) => r === 0)) throw traceError(source, 'every rate is 0 Mb/s: nothing could ever be sent');
  const lastStep = timesS[timesS.length - 1]! - timesS[timesS.length - 2]!;
  return { source, timesS, mbps, periodS: timesS[timesS.length - 1]! + lastStep };
}

export function loadTrace(path: string): BandwidthTrace {
  const text = readUserFile(path, 'bandwidth trace', 'check the path (relative paths are relative to the scenario file)');
  return parseTrace(text, path);
}
