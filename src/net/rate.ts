/**
 * Link rates over time: a constant rate, or a bandwidth trace (a CSV of time, Mb/s, or Mahimahi's packet-delivery
 * times) replayed in a loop. Every link model asks one question of a rate: when have `bits` sent from time `start`
 * left the sender? Times are in ms.
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

/** The formats a bandwidth trace file may be in. */
export const TRACE_FORMATS = ['csv', 'mahimahi'] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

export interface TraceOptions {
  /** The file's format; default: from the extension (.mahi, .up, .down: Mahimahi), else from the content. */
  format?: TraceFormat;
  /** Mahimahi: the width (ms) of the bins delivery opportunities are counted in (default MAHIMAHI_BIN_MS). */
  binMs?: number;
}

/** Bytes one Mahimahi delivery opportunity carries: one MTU-sized packet. */
export const MAHIMAHI_PACKET_BYTES = 1500;
/** Mahimahi traces are counted in bins this wide (ms): fine enough for a link's swings, coarse enough to smooth single packets. */
export const MAHIMAHI_BIN_MS = 100;

const CSV_HINT = 'write one "time_s, Mb/s" pair per line, times starting at 0 and increasing (a header line and # comments are allowed)';
const MAHIMAHI_HINT = "write Mahimahi's packet-delivery format: one whole number of ms per line, never decreasing, each a chance to send one 1500-byte packet";

const traceError = (source: string, what: string, hint = CSV_HINT) => new ImperaError('BAD_TRACE', `bandwidth trace '${source}': ${what}`, hint);

/** A trace file's lines without comments and blanks, with their 1-based line numbers. */
function dataLines(text: string): { line: string; raw: string; number: number }[] {
  return text.split(/\r?\n/).flatMap((raw, idx) => {
    const line = raw.replace(/#.*/, '').trim();
    return line ? [{ line, raw: raw.trim(), number: idx + 1 }] : [];
  });
}

/** The format a trace is in: the one asked for, else Mahimahi's extensions, else one field per line means Mahimahi. */
export function traceFormat(source: string, text: string, format?: TraceFormat): TraceFormat {
  if (format) return format;
  if (/\.(mahi|up|down)$/i.test(source)) return 'mahimahi';
  if (/\.(csv|tsv)$/i.test(source)) return 'csv';
  const first = dataLines(text)[0];
  return first && first.line.split(/[\s,;]+/).filter(Boolean).length === 1 ? 'mahimahi' : 'csv';
}

/** Parse a trace in either format (see parseCsvTrace and parseMahimahiTrace). */
export function parseTrace(text: string, source: string, options: TraceOptions = {}): BandwidthTrace {
  return traceFormat(source, text, options.format) === 'mahimahi' ? parseMahimahiTrace(text, source, options.binMs) : parseCsvTrace(text, source);
}

const CSV_FIELDS = ['time_s', 'Mb/s'] as const;

/**
 * Parse a CSV trace: one `time_s, Mb/s` pair per line (comma, tab or spaces), an optional header line, `#` comments.
 * Each rate holds until the next line's time; the last one for as long as the step before it; then it repeats.
 */
export function parseCsvTrace(text: string, source: string): BandwidthTrace {
  const timesS: number[] = [];
  const mbps: number[] = [];
  for (const { line, raw, number } of dataLines(text)) {
    const fields = line.split(/[\s,;]+/).filter(Boolean);
    const nums = fields.map(Number);
    if (timesS.length === 0 && nums.every((x) => Number.isNaN(x))) continue; // header line
    if (fields.length !== 2) throw traceError(source, `line ${number}: expected two numbers "time_s, Mb/s", got '${raw}'`);
    const bad = nums.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw traceError(source, `line ${number}, field ${bad + 1} (${CSV_FIELDS[bad]}): expected a number, got '${fields[bad]}'`);
    const [t, r] = nums as [number, number];
    if (timesS.length === 0 && t !== 0) throw traceError(source, `line ${number}, field 1 (time_s): the first time must be 0, got ${t}`);
    if (timesS.length > 0 && t <= timesS[timesS.length - 1]!) throw traceError(source, `line ${number}, field 1 (time_s): times must increase, got ${t} after ${timesS[timesS.length - 1]}`);
    if (r < 0) throw traceError(source, `line ${number}, field 2 (Mb/s): a rate cannot be negative, got ${r} Mb/s`);
    timesS.push(t);
    mbps.push(r);
  }
  if (timesS.length < 2) throw traceError(source, `needs at least two rows, found ${timesS.length}`);
  if (mbps.every((r) => r === 0)) throw traceError(source, 'every rate is 0 Mb/s: nothing could ever be sent');
  const lastStep = timesS[timesS.length - 1]! - timesS[timesS.length - 2]!;
  return { source, timesS, mbps, periodS: timesS[timesS.length - 1]! + lastStep };
}

/**
 * Parse a Mahimahi packet-delivery trace: each line a time in ms (from the start, never decreasing) at which one
 * 1500-byte packet may leave; a time repeated k times is k packets in that ms; the file repeats every P ms, P its
 * last time (as mm-link replays it). Turned into a rate over time by counting the opportunities in bins of `binMs`:
 * the one at t ms counts in the bin (k b, (k+1) b] that holds t (one at 0 is the instant the previous period ends,
 * P, so it counts in the last bin), and a bin with n opportunities runs at n * 1500 * 8 bits over its width (the
 * last bin is P's remainder when b does not divide P). So N opportunities per ms read as N * 12 Mb/s, and the mean
 * rate is mm-link's.
 */
export function parseMahimahiTrace(text: string, source: string, binMs = MAHIMAHI_BIN_MS): BandwidthTrace {
  if (!(binMs > 0)) throw new ImperaError('BAD_ARGUMENT', `the bin width of a Mahimahi trace must be > 0 ms, got ${binMs}`);
  const times: number[] = [];
  for (const { line, raw, number } of dataLines(text)) {
    const fields = line.split(/[\s,;]+/).filter(Boolean);
    if (fields.length !== 1) throw traceError(source, `line ${number}: expected one delivery time in ms, got '${raw}'`, MAHIMAHI_HINT);
    const t = Number(fields[0]);
    if (!Number.isInteger(t) || t < 0) throw traceError(source, `line ${number}, field 1 (delivery time, ms): expected a whole number >= 0, got '${fields[0]}'`, MAHIMAHI_HINT);
    if (times.length > 0 && t < times[times.length - 1]!) throw traceError(source, `line ${number}, field 1 (delivery time, ms): times must not decrease, got ${t} after ${times[times.length - 1]}`, MAHIMAHI_HINT);
    times.push(t);
  }
  const periodMs = times[times.length - 1] ?? 0;
  if (periodMs <= 0) throw traceError(source, times.length ? 'the last delivery time must be > 0 ms: it is the period the trace repeats with' : 'has no delivery times', MAHIMAHI_HINT);
  const bins = Math.ceil(periodMs / binMs);
  const counts = new Array<number>(bins).fill(0);
  for (const t of times) counts[t === 0 ? bins - 1 : Math.ceil(t / binMs) - 1]!++;
  const bitsPerMs = (n: number, widthMs: number) => (n * MAHIMAHI_PACKET_BYTES * 8) / widthMs;
  return {
    source,
    timesS: counts.map((_, i) => (i * binMs) / 1000),
    // bits per ms are kb/s: / 1000 for Mb/s
    mbps: counts.map((n, i) => bitsPerMs(n, Math.min(binMs, periodMs - i * binMs)) / 1000),
    periodS: periodMs / 1000,
  };
}

export function loadTrace(path: string, options: TraceOptions = {}): BandwidthTrace {
  const text = readUserFile(path, 'bandwidth trace', 'check the path (relative paths are relative to the scenario file)');
  return parseTrace(text, path, options);
}
