// Writes examples/traces/: synthetic uplink bandwidth traces with swings of more than 10x, for replaying on the
// shaped link and for simulating (see examples/traces/README.md). No measurement: a seeded random walk between
// regimes of a cellular uplink (good, fair, poor), so the files are the same on every run. Needs no build.
import { mkdirSync, writeFileSync } from 'node:fs';

const out = new URL('../examples/traces/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });

/** xorshift32: a small seeded generator, so the traces are reproducible. */
function random(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Regimes (Mb/s ranges) a cellular uplink moves between, and how long it stays in one (s). */
const REGIMES = { good: [16, 24], fair: [4, 8], poor: [0.8, 1.6] };
const ORDER = ['good', 'fair', 'poor', 'good', 'poor', 'fair', 'good', 'poor'];

/** Rates per step of `stepS` over `durationS`: regimes in ORDER, each held 3-7 s, +-15 % noise per step. */
function rates(seed, durationS, stepS) {
  const rnd = random(seed);
  const steps = [];
  let k = 0;
  while (steps.length * stepS < durationS) {
    const [lo, hi] = REGIMES[ORDER[k++ % ORDER.length]];
    const level = lo + (hi - lo) * rnd();
    const hold = Math.round((3 + 4 * rnd()) / stepS);
    for (let i = 0; i < hold && steps.length * stepS < durationS; i++) steps.push(+(level * (0.85 + 0.3 * rnd())).toFixed(2));
  }
  return steps;
}

// CSV: time_s, Mb/s every 0.5 s for 60 s
const csv = rates(17, 60, 0.5);
writeFileSync(
  `${out}lte-swing.csv`,
  ['# Synthetic cellular uplink (not a measurement; scripts/make-example-traces.mjs, seed 17): time_s, Mb/s', 'time_s, mbps', ...csv.map((r, i) => `${(i * 0.5).toFixed(1)}, ${r}`)].join('\n') + '\n',
);

// Mahimahi: one line per 1500-byte delivery opportunity, the rate's packets spread evenly over each ms, 30 s in
// steps of 0.5 s (whole bins of impera's 100 ms binning); the last line, 30000, is the period mm-link repeats with
const mahi = rates(29, 30, 0.5);
const lines = [];
let owed = 0;
for (let ms = 1; ms <= 30_000; ms++) {
  owed += (mahi[Math.floor((ms - 1) / 500)] * 1000) / (1500 * 8); // packets per ms at the step's rate
  for (; owed >= 1; owed--) lines.push(ms);
}
if (lines[lines.length - 1] !== 30_000) lines.push(30_000);
writeFileSync(`${out}lte-swing.up`, lines.join('\n') + '\n');

const swing = (r) => (Math.max(...r) / Math.min(...r)).toFixed(1);
console.log(`lte-swing.csv: ${csv.length} steps, ${Math.min(...csv)}-${Math.max(...csv)} Mb/s (${swing(csv)}x)`);
console.log(`lte-swing.up: ${lines.length} delivery opportunities, ${Math.min(...mahi)}-${Math.max(...mahi)} Mb/s (${swing(mahi)}x)`);
