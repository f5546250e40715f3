/** Human-readable numbers for every output (CLI tables, reports). */
export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Decimal units, as network and storage figures are quoted. */
export function fmtBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** 4.09 G, 299.5 M, 12.3 k. */
export function fmtCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, s] of units) if (Math.abs(n) >= scale) return `${(n / scale).toFixed(n / scale < 10 ? 2 : 1)} ${s}`;
  return String(Math.round(n));
}

export const fmtShape = (shape: readonly (number | string)[]): string => (shape.length ? shape.join('×') : 'scalar');

/** Milliseconds for tables: 2 decimals below 10 ms, 1 above; '-' when there is no value. */
export const fmtMs = (ms: number | undefined): string => (ms === undefined ? '-' : ms.toFixed(ms < 10 ? 2 : 1));

/** A fraction as a percentage: 0.906 -> 90.6%. */
export const fmtFraction = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** A relative error or change (a fraction) with its sign: +9.9%, -0.4%. */
export const fmtSignedPercent = (x: number): string => `${x >= 0 ? '+' : ''}${fmtFraction(x)}`;

export const fmtPercent = (part: number, whole: number): string => (whole > 0 ? fmtFraction(part / whole) : '-');

/** Milliseconds spanning orders of magnitude (queueing delays reach seconds): 4321, 56.7, 8.90; '-' when not finite. */
export const fmtMsWide = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(ms >= 100 ? 0 : ms >= 10 ? 1 : 2) : '-');

/** Milliseconds of single layers and parts, often below 1 ms: 0.042, 3.14; '-' when there is no value. */
export const fmtMsFine = (ms: number | undefined): string => (ms === undefined ? '-' : ms.toFixed(ms < 1 ? 3 : 2));

/** A fraction as percentage points for columns and sentences that carry the '%' themselves: 0.906 -> 90.6. */
export const fmtPoints = (x: number | null): string => (x === null || !Number.isFinite(x) ? '-' : (100 * x).toFixed(1));

/** A fraction as a percentage that keeps rare events visible: 0.0004 -> 0.040% (not 0.0%); '-' when unknown. */
export const fmtFractionFine = (x: number | null): string => (x === null || !Number.isFinite(x) ? '-' : `${(100 * x).toFixed(x < 0.001 && x > 0 ? 3 : 1)}%`);
