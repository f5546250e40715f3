/**
 * Adaptive evaluation against exhaustive evaluation on synthetic configurations with known true accuracies: each
 * sample of each configuration is a Bernoulli draw, the same draws for both (adaptive measures a prefix of the
 * samples exhaustive measures, as on real images), and the planner's own decision (recommend.ts) picks the winner.
 * Adaptive stops configurations by the rules of eval/adaptive.ts and measures the finalists and the Pareto front on
 * every sample before deciding again, as planner.ts does.
 */
import { describe, expect, it } from 'vitest';
import { measureInRounds, type AdaptiveRule, type ArmStop } from '../../src/eval/adaptive.js';
import { decide, outclass, stoppedFinalists, type Qos } from '../../src/plan/recommend.js';
import type { PlanConfiguration } from '../../src/plan/types.js';
import { pairedDifference, qualityFigure } from '../../src/task/quality.js';
import type { Metric } from '../../src/task/types.js';
import { seededRandom } from '../../src/util/random.js';

const accuracy: Metric = { name: 'accuracy', label: 'top-1 accuracy', better: 'higher', kind: 'rate', needsLabels: true, outputs: ['y'] };
const SAMPLES = 1000;
const CUTS = 6;
/** Accuracy each codec loses against the cut's own (lossless, near-lossless, lossy, very lossy) and its bytes as a share of float32. */
const CODECS = [
  { loss: 0, bytes: 1 },
  { loss: 0.002, bytes: 0.25 },
  { loss: 0.02, bytes: 0.12 },
  { loss: 0.12, bytes: 0.06 },
];

interface Arm {
  cut: number;
  codec: number;
  p: number;
  bytes: number;
  latencyMs: number;
  draws: number[];
}

/** A scenario of CUTS x CODECS configurations: accuracies around 0.9, latencies and bytes that trade off along depth. */
function scenario(seed: number): Arm[] {
  const rand = seededRandom(seed);
  return Array.from({ length: CUTS * CODECS.length }, (_, i) => {
    const cut = Math.floor(i / CODECS.length);
    const codec = CODECS[i % CODECS.length]!;
    const p = Math.min(0.99, 0.86 + 0.06 * rand() - codec.loss);
    const bytes = (200_000 / (cut + 1)) * codec.bytes;
    return { cut, codec: i % CODECS.length, p, bytes, latencyMs: 20 + 15 * cut + bytes / 2_000 + 5 * rand(), draws: Array.from({ length: SAMPLES }, () => (rand() < p ? 1 : 0)) };
  });
}

/**
 * The configurations as the planner sees them, each with the figures of its first `samples[i]` draws; with the
 * full model's draws (`full`), a stopped one's figure is the difference estimate analyses.ts makes.
 */
function configurations(arms: readonly Arm[], stops: readonly ArmStop[], full?: readonly number[]): PlanConfiguration[] {
  return arms.map((a, i) => {
    const n = stops[i]!.samples;
    const own = qualityFigure(accuracy, a.draws.slice(0, n));
    const d = full && n < SAMPLES ? (stops[i]!.reason === 'outclassed' ? screenedDifference(a, full) : pairedDifference(accuracy, a.draws.slice(0, n), full)) : null;
    const fullValue = full ? qualityFigure(accuracy, full).value : 0;
    const q = d ? { ...own, value: fullValue + d.value, ci: [fullValue + d.ci[0], fullValue + d.ci[1]] as [number, number] } : own;
    return {
      id: `split #${a.cut} codec ${a.codec}`,
      placement: 'split',
      link: 'wifi',
      cuts: [{ index: a.cut, id: `cut${a.cut}` }],
      devices: ['edge', 'server'],
      codec: `codec ${a.codec}`,
      exits: null,
      latency: { meanMs: a.latencyMs, p50Ms: a.latencyMs, p95Ms: a.latencyMs, p99Ms: a.latencyMs, source: 'analytic', breakdown: { deviceMs: a.latencyMs, transferMs: 0, serverMs: 0, queueMs: 0 } },
      quality: { ...q, source: 'measured', ...(stops[i]!.reason ? { stopped: stops[i]!.reason! } : {}) },
      bytes: a.bytes,
      downlinkBytes: 0,
      energyJ: null,
      edgeMemoryBytes: 0,
      throughputFps: Infinity,
      checks: [],
      feasible: true,
    };
  });
}

/** Samples where the full model is wrong: the only ones a split can win. */
const headroom = (full: readonly number[]): number[] => full.flatMap((f, i) => (f === 0 ? [i] : []));

/** A screened split's difference from the full model as evaluate.ts reports it: its wins on the full model's errors, an upper bound. */
function screenedDifference(a: Arm, full: readonly number[]): { value: number; ci: [number, number] } {
  const h = headroom(full);
  const wins = h.reduce((s, i) => s + a.draws[i]!, 0) / SAMPLES;
  return { value: wins, ci: [wins - (SAMPLES - h.length) / SAMPLES, wins] };
}

const QOS: Qos = { latency: { ms: 90, at: 'p95' }, quality: { limit: 0.84, bound: 'min' } };
const TOLERANCE = 0.005;
const decision = (configs: PlanConfiguration[]) => decide(configs, QOS, 'max-quality', 10, TOLERANCE);

/** Adaptive: rounds with the stopping rule, then the finalists and the front on every sample until the decision rests on full figures. */
async function adaptive(arms: readonly Arm[]) {
  const rule: AdaptiveRule = { tolerance: TOLERANCE, bound: { limit: 0.84, bound: 'min' } };
  const measured = arms.map(() => 0);
  const stops = await measureInRounds(
    {
      arms: arms.length,
      total: SAMPLES,
      async measure(alive, _from, to) {
        alive.forEach((a, i) => a && (measured[i] = to));
      },
      figures: () => arms.map((a, i) => ({ group: `cut${a.cut}`, bytes: a.bytes, quality: qualityFigure(accuracy, a.draws.slice(0, measured[i])) })),
    },
    rule,
  );
  const armSamples = stops.reduce((s, x) => s + x.samples, 0);
  for (let topUps = 0; ; topUps++) {
    const configs = configurations(arms, stops);
    const d = decision(configs);
    const stopped = stoppedFinalists(d, configs, 8, 'p95');
    if (!stopped.length || topUps === 3) return { d, armSamples: stops.reduce((s, x) => s + x.samples, 0), beforeTopUp: armSamples };
    for (const c of stopped) stops[configs.indexOf(c)] = { samples: SAMPLES, reason: null };
  }
}

describe('adaptive against exhaustive evaluation', () => {
  // measured 2026-12-07: the same recommendation for 300 of 300 seeds, the same front for 277 (92 %), 79 % of the
  // samples. Fronts differ where a configuration's true accuracy lies at the QoS bound: exhaustive's own point
  // estimate then puts it on either side by chance, while adaptive stops it once its interval lies below.
  it('seeds 1-300: the same recommendation as exhaustive in >= 99 % of seeds (measured: 300 of 300), the same Pareto front in >= 90 %, on fewer samples', async () => {
    let sameWinner = 0;
    let sameFront = 0;
    let adaptiveSamples = 0;
    const seeds = Array.from({ length: 300 }, (_, i) => i + 1);
    for (const seed of seeds) {
      const arms = scenario(seed);
      const exhaustive = decision(configurations(arms, arms.map(() => ({ samples: SAMPLES, reason: null }))));
      const a = await adaptive(arms);
      if (a.d.recommendation?.id === exhaustive.recommendation?.id) sameWinner++;
      if (a.d.pareto.map((c) => c.id).sort().join() === exhaustive.pareto.map((c) => c.id).sort().join()) sameFront++;
      adaptiveSamples += a.armSamples;
    }
    const share = adaptiveSamples / (seeds.length * CUTS * CODECS.length * SAMPLES);
    console.log(`same recommendation ${sameWinner}/${seeds.length}, same front ${sameFront}/${seeds.length}, samples measured ${(100 * share).toFixed(1)} % of exhaustive`);
    expect(sameWinner / seeds.length).toBeGreaterThanOrEqual(0.99);
    expect(sameFront / seeds.length).toBeGreaterThanOrEqual(0.9);
    expect(share).toBeLessThan(0.85);
  });
});

/**
 * Paired with a full model: each configuration's draws are the full model's, changed on a few samples (a lossless,
 * a near-lossless, a lossy and a very lossy codec at every cut), and sending the input losslessly (the full model's
 * quality, 10 ms, fewer bytes than any split) outclasses every split that leads it by no more than the tolerance
 * (recommend.ts `outclass`, in both modes): the screen scores each split on the samples the full model gets wrong
 * (the only ones it can win) and stops those whose wins there are within the tolerance; the rest go through the
 * rounds, stopping once their paired interval lies more than the tolerance below the full model.
 */
const PAIRED_CODECS = [
  { worse: 0, better: 0, bytes: 1 },
  { worse: 0.003, better: 0.003, bytes: 0.25 },
  { worse: 0.03, better: 0.01, bytes: 0.12 },
  { worse: 0.15, better: 0.02, bytes: 0.06 },
];

function pairedScenario(seed: number): { full: number[]; arms: Arm[] } {
  const rand = seededRandom(seed);
  const pFull = 0.86 + 0.06 * rand();
  const full = Array.from({ length: SAMPLES }, () => (rand() < pFull ? 1 : 0));
  const arms = Array.from({ length: CUTS * PAIRED_CODECS.length }, (_, i) => {
    const cut = Math.floor(i / PAIRED_CODECS.length);
    const codec = PAIRED_CODECS[i % PAIRED_CODECS.length]!;
    const draws = full.map((f) => (f === 1 ? (rand() < codec.worse ? 0 : 1) : rand() < codec.better ? 1 : 0));
    const bytes = (200_000 / (cut + 1)) * codec.bytes;
    return { cut, codec: i % PAIRED_CODECS.length, p: pFull, bytes, latencyMs: 20 + 15 * cut + bytes / 2_000 + 5 * rand(), draws };
  });
  return { full, arms };
}

/** The input sent losslessly: the full model's quality, faster and smaller than every split. */
function remote(full: readonly number[]): PlanConfiguration {
  const q = qualityFigure(accuracy, full);
  return { id: 'remote raw', placement: 'remote', link: 'wifi', cuts: [], devices: ['edge', 'server'], codec: 'raw', exits: null, latency: { meanMs: 10, p50Ms: 10, p95Ms: 10, p99Ms: 10, source: 'analytic', breakdown: { deviceMs: 0, transferMs: 10, serverMs: 0, queueMs: 0 } }, quality: { ...q, source: 'measured' }, bytes: 500, downlinkBytes: 0, energyJ: null, edgeMemoryBytes: 0, throughputFps: Infinity, checks: [], feasible: true };
}

describe('adaptive against exhaustive evaluation, paired with the full model', () => {
  // measured 2026-12-08 (outclassing with ties, the screen): the same recommendation and the same front for 300 of
  // 300 seeds, on 11 % of the lossy samples (44 % before the screen, with the paired rule alone)
  it('seeds 1-300: the same recommendation in >= 99 % of seeds and the same Pareto front in >= 95 %, stopping splits no better than the full model', async () => {
    let sameWinner = 0;
    let sameFront = 0;
    let adaptiveSamples = 0;
    let lossySamples = 0;
    const seeds = Array.from({ length: 300 }, (_, i) => i + 1);
    for (const seed of seeds) {
      const { full, arms } = pairedScenario(seed);
      const all = arms.map(() => ({ samples: SAMPLES, reason: null }));
      const isBeaten = (c: PlanConfiguration) => c.bytes >= 500;
      const exhaustiveConfigs = [remote(full), ...configurations(arms, all)];
      outclass(exhaustiveConfigs, exhaustiveConfigs[0]!, QOS, TOLERANCE, isBeaten);
      const exhaustive = decision(exhaustiveConfigs);
      const measured = arms.map(() => 0);
      const h = headroom(full);
      const rule: AdaptiveRule = { tolerance: TOLERANCE, bound: { limit: 0.84, bound: 'min' }, outclassed: (_group, bytes) => bytes >= 500 };
      const stops = await measureInRounds(
        {
          arms: arms.length,
          total: SAMPLES,
          pinned: arms.map((a) => a.codec === 0),
          async measure(alive, _from, to) {
            alive.forEach((on, i) => on && (measured[i] = to));
          },
          figures: () => arms.map((a, i) => ({ group: `cut${a.cut}`, bytes: a.bytes, quality: qualityFigure(accuracy, a.draws.slice(0, measured[i])), paired: pairedDifference(accuracy, a.draws.slice(0, measured[i]), full) })),
          screen: {
            arms: arms.map((a) => ({ group: `cut${a.cut}` })),
            run: async () => ({ gains: arms.map((a) => h.reduce((s, i) => s + a.draws[i]! - full[i]!, 0) / SAMPLES), bytes: arms.map((a) => a.bytes), full: qualityFigure(accuracy, full).value, samples: h.length }),
          },
        },
        rule,
      );
      // the finalists and the front on every sample, as planner.ts does (a few rounds at most)
      const decided = () => {
        for (let topUps = 0; ; topUps++) {
          const configs = [remote(full), ...configurations(arms, stops, full)];
          outclass(configs, configs[0]!, QOS, TOLERANCE, isBeaten);
          const d = decision(configs);
          const stopped = stoppedFinalists(d, configs, 8, 'p95');
          if (!stopped.length || topUps === 3) return d;
          for (const c of stopped) stops[configs.indexOf(c) - 1] = { samples: SAMPLES, reason: null };
        }
      };
      const d = decided();
      if (d.recommendation?.id === exhaustive.recommendation?.id) sameWinner++;
      if (d.pareto.map((c) => c.id).sort().join() === exhaustive.pareto.map((c) => c.id).sort().join()) sameFront++;
      // a screened split was scored on the full model's errors; every lossy one was screened
      adaptiveSamples += stops.reduce((sum, x, i) => sum + (arms[i]!.codec === 0 ? 0 : x.reason === 'outclassed' ? h.length : h.length + x.samples), 0);
      lossySamples += arms.filter((a) => a.codec !== 0).length * SAMPLES;
    }
    const share = adaptiveSamples / lossySamples;
    console.log(`paired: same recommendation ${sameWinner}/${seeds.length}, same front ${sameFront}/${seeds.length}, lossy samples measured ${(100 * share).toFixed(1)} % of exhaustive`);
    expect(sameWinner / seeds.length).toBeGreaterThanOrEqual(0.99);
    expect(sameFront / seeds.length).toBeGreaterThanOrEqual(0.95);
    expect(share).toBeLessThan(0.3);
  });
});
