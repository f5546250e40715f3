/**
 * Fidelity of any output to the full model's: relative L2 error, cosine similarity, SNR and PSNR in dB, per sample.
 * Identical outputs have no finite SNR; the dB figures are capped at MAX_DB (beyond float32's ~140 dB resolution)
 * so that means and intervals stay finite.
 */
import { perSample, type MetricDef, type Numbers } from './metric.js';

export const MAX_DB = 200;

/** Sums a sample's figures need: ||y_full||^2, ||y - y_full||^2, <y, y_full>, ||y||^2 and max |y_full|. */
function sums(s: Numbers, r: Numbers) {
  let ref = 0;
  let err = 0;
  let dot = 0;
  let own = 0;
  let peak = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s[i]! - r[i]!;
    ref += r[i]! * r[i]!;
    err += d * d;
    dot += s[i]! * r[i]!;
    own += s[i]! * s[i]!;
    peak = Math.max(peak, Math.abs(r[i]!));
  }
  return { ref, err, dot, own, peak, count: s.length };
}

/** 10 log10(signal / noise), MAX_DB when the noise is nil. */
const db = (signal: number, noise: number): number => (noise === 0 ? MAX_DB : Math.min(MAX_DB, 10 * Math.log10(signal / noise)));

export const relL2 = (s: Numbers, r: Numbers): number => {
  const x = sums(s, r);
  if (x.err === 0) return 0;
  return Math.sqrt(x.err) / Math.sqrt(x.ref || Number.MIN_VALUE);
};

export const cosine = (s: Numbers, r: Numbers): number => {
  const x = sums(s, r);
  if (x.own === 0 && x.ref === 0) return 1;
  if (x.own === 0 || x.ref === 0) return 0;
  return x.dot / Math.sqrt(x.own * x.ref);
};

export const snrDb = (s: Numbers, r: Numbers): number => {
  const x = sums(s, r);
  return db(x.ref, x.err);
};

export const psnrDb = (s: Numbers, r: Numbers): number => {
  const x = sums(s, r);
  return db(x.peak * x.peak, x.err / x.count);
};

const fidelity = (name: MetricDef['name'], label: string, better: 'higher' | 'lower', f: (s: Numbers, r: Numbers) => number): MetricDef => ({
  name,
  label: () => label,
  better,
  kind: 'mean',
  needsLabels: false,
  readsAll: true,
  misfit: () => null,
  score: (split, full, n) => perSample(split, full, n, null, f),
});

export const fidelityMetrics: readonly MetricDef[] = [
  fidelity('rel-l2', 'relative L2 error', 'lower', relL2),
  fidelity('cosine', 'cosine similarity', 'higher', cosine),
  fidelity('snr-db', 'SNR (dB)', 'higher', snrDb),
  fidelity('psnr-db', 'PSNR (dB)', 'higher', psnrDb),
];
