import { describe, expect, it } from 'vitest';
import { checkConfiguration, chosen, decide, formatConstraint, outclass, paretoFront } from '../../src/plan/recommend.js';
import type { QualityMeta } from '../../src/plan/quality.js';
import type { PlanConfiguration, PlanResult } from '../../src/plan/types.js';

const ACCURACY: QualityMeta = { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher' };
const REL_L2: QualityMeta = { metric: 'rel-l2', label: 'relative L2 error', better: 'lower' };

/** A configuration with the figures that matter here (quality in `metric`, top-1 accuracy by default). */
function cfg(id: string, p95: number, accuracy: number, bytes = 1000, energyJ: number | null = 0.1, fps = 100, metric = ACCURACY): PlanConfiguration {
  return {
    id,
    placement: 'split',
    link: 'wifi',
    cuts: [{ index: 1, id: 't' }],
    devices: ['edge', 'server'],
    codec: 'fp32',
    exits: null,
    latency: { meanMs: p95 * 0.8, p50Ms: p95 * 0.7, p95Ms: p95, p99Ms: p95 * 1.2, source: 'analytic', breakdown: { deviceMs: 1, transferMs: 1, serverMs: 1, queueMs: 0 } },
    quality: { ...metric, value: accuracy, source: 'measured' },
    bytes,
    downlinkBytes: 40,
    energyJ,
    edgeMemoryBytes: 1e6,
    throughputFps: fps,
    checks: [],
    feasible: true,
  };
}

describe('QoS matching and the recommendation', () => {
  it('checks each constraint with its margin, at the percentile the constraint names', () => {
    const checks = checkConfiguration(cfg('a', 80, 0.92), { latency: { ms: 100, at: 'p99' }, quality: { limit: 0.9, bound: 'min' }, bytes: 500 }, 10);
    expect(checks.map((c) => [c.constraint, c.met])).toEqual([['latency', true], ['quality', true], ['bytes', false], ['throughput', true]]);
    expect(checks[0]!.value).toBeCloseTo(96, 9); // p99 = 1.2 x p95
    expect(checks[2]!.margin).toBeCloseTo(-1, 9); // 1000 B against 500: 100 % over
  });

  it('an overloaded stream (max fps below the frame rate) misses its latency whatever the analytic figure', () => {
    const [latency] = checkConfiguration(cfg('slow', 10, 0.95, 1000, 0.1, 5), { latency: { ms: 100, at: 'p95' } }, 10);
    expect(latency).toMatchObject({ value: Infinity, met: false });
  });

  it('max-accuracy: the most accurate feasible configuration, accuracies within the tolerance tie and latency decides', () => {
    const configs = [cfg('fast', 20, 0.93), cfg('accurate', 60, 0.934), cfg('best', 90, 0.96), cfg('too slow', 150, 0.99)];
    const d = decide(configs, { latency: { ms: 100, at: 'p95' }, quality: { limit: 0.9, bound: 'min' } }, 'max-accuracy', 10, 0.005);
    expect(d.recommendation!.id).toBe('best');
    expect(d.feasible.map((c) => c.id)).toEqual(['best', 'accurate', 'fast']);
    const tied = decide([cfg('fast', 20, 0.93), cfg('accurate', 60, 0.934)], { quality: { limit: 0.9, bound: 'min' } }, 'max-accuracy', 10, 0.005);
    expect(tied.recommendation!.id).toBe('fast');
    expect(tied.recommendation!.runnerUp).toBe('accurate');
  });

  it('explains the binding constraint (smallest margin) and what the runner-up changes', () => {
    const d = decide([cfg('a', 95, 0.95), cfg('b', 50, 0.94)], { latency: { ms: 100, at: 'p95' }, quality: { limit: 0.9, bound: 'min' } }, 'max-accuracy', 10, 0.001);
    expect(d.recommendation!.binding).toMatchObject({ constraint: 'latency', value: 95, limit: 100 });
    expect(d.recommendation!.explanation.join(' ')).toMatch(/Binding constraint: latency, 95.0 ms against a limit of 100.0 ms \(margin 5.0 %\)/);
    expect(d.recommendation!.explanation.join(' ')).toMatch(/Runner-up: b — p95 latency -45.0 ms, top-1 accuracy -1.00 points/);
  });

  it('min-latency, min-bytes and min-energy pick by their own measure', () => {
    const configs = () => [cfg('quick', 10, 0.91, 5000, 0.3), cfg('small', 40, 0.91, 100, 0.2), cfg('frugal', 30, 0.91, 2000, 0.05)];
    expect(decide(configs(), {}, 'min-latency', 10).recommendation!.id).toBe('quick');
    expect(decide(configs(), {}, 'min-bytes', 10).recommendation!.id).toBe('small');
    expect(decide(configs(), {}, 'min-energy', 10).recommendation!.id).toBe('frugal');
  });

  it('max-throughput picks the highest sustainable frame rate, latency breaking ties', () => {
    const configs = [cfg('steady', 50, 0.91, 1000, 0.1, 40), cfg('fastest', 10, 0.91, 1000, 0.1, 30), cfg('steady but slower', 80, 0.91, 1000, 0.1, 40)];
    const d = decide(configs, {}, 'max-throughput', 10);
    expect(d.feasible.map((c) => c.id)).toEqual(['steady', 'steady but slower', 'fastest']);
  });

  it('checks energy only where the edge device has power figures', () => {
    const qos = { energyJ: 0.05 };
    expect(checkConfiguration(cfg('known', 10, 0.9, 1000, 0.1), qos, 10).map((k) => [k.constraint, k.met])).toEqual([['energy', false], ['throughput', true]]);
    expect(checkConfiguration(cfg('unknown', 10, 0.9, 1000, null), qos, 10).map((k) => k.constraint)).toEqual(['throughput']);
  });

  it('when nothing is feasible, names the constraint closest to being met and by how much', () => {
    const d = decide([cfg('a', 120, 0.95), cfg('b', 300, 0.95)], { latency: { ms: 100, at: 'p95' } }, 'max-accuracy', 10);
    expect(d.recommendation).toBeNull();
    expect(d.nearestMiss).toMatchObject({ id: 'a', constraint: 'latency', value: 120, limit: 100 });
    expect(d.nearestMiss!.shortBy).toBeCloseTo(0.2, 9);
    expect(d.nearestMiss!.explanation.join(' ')).toMatch(/Relaxing latency to 120.0 ms would make it feasible/);
  });

  it('a nearest miss that fails several constraints lists the others; an overloaded latency reads as such', () => {
    const d = decide([cfg('a', 120, 0.85, 1000, 0.1, 5)], { latency: { ms: 100, at: 'p95' }, quality: { limit: 0.9, bound: 'min' } }, 'max-accuracy', 10);
    expect(d.nearestMiss).toMatchObject({ id: 'a', constraint: 'latency', value: Infinity });
    expect(d.nearestMiss!.explanation.join(' ')).toMatch(/whose latency is unbounded \(overloaded\) against 100.0 ms \(overloaded\)\. It also misses top-1 accuracy \(85.0 % vs 90.0 %\), throughput \(5.0 fps vs 10.0 fps\)\./);
    expect(formatConstraint('bytes', 1234.4)).toBe('1,234 B');
  });

  it('chosen: the recommendation, else the nearest miss, of a result', () => {
    const configs = [cfg('a', 120, 0.95), cfg('b', 50, 0.95)];
    const result = (d: ReturnType<typeof decide>) => ({ configurations: configs, recommendation: d.recommendation, nearestMiss: d.nearestMiss }) as PlanResult;
    expect(chosen(result(decide(configs, { latency: { ms: 100, at: 'p95' } }, 'max-accuracy', 10)))!.id).toBe('b');
    expect(chosen(result(decide(configs, { latency: { ms: 40, at: 'p95' } }, 'max-accuracy', 10)))!.id).toBe('b');
    expect(chosen(result(decide([], {}, 'max-accuracy', 10)))).toBeUndefined();
  });

  it('the Pareto front keeps exactly the configurations no other beats on latency, accuracy, bytes and energy', () => {
    const configs = [cfg('a', 10, 0.9, 100, 0.1), cfg('dominated', 20, 0.89, 200, 0.2), cfg('b', 30, 0.95, 100, 0.1), cfg('c', 5, 0.8, 50, 0.3)];
    expect(paretoFront(configs, 'p95').map((c) => c.id)).toEqual(['a', 'b', 'c']);
  });

  it('a lower-is-better metric: a ceiling is checked as a maximum, ranking and the Pareto front prefer less', () => {
    const err = (id: string, p95: number, e: number, bytes = 1000) => cfg(id, p95, e, bytes, 0.1, 100, REL_L2);
    const [within, over] = [err('within', 10, 0.02), err('over', 10, 0.08)].map((c) => checkConfiguration(c, { quality: { limit: 0.05, bound: 'max' } }, 10)[0]!);
    expect(within).toMatchObject({ constraint: 'quality', met: true });
    expect(within.margin).toBeCloseTo(0.6, 9); // (0.05 - 0.02) / 0.05
    expect(over).toMatchObject({ constraint: 'quality', met: false });
    expect(over.margin).toBeCloseTo(-0.6, 9);
    // same latency and bytes: the smaller error dominates; the larger error survives only by being faster
    const front = paretoFront([err('exact', 20, 0), err('worse', 20, 0.01), err('faster', 5, 0.03)], 'p95');
    expect(front.map((c) => c.id)).toEqual(['exact', 'faster']);
    const d = decide([err('fast', 10, 0.04), err('faithful', 50, 0.001), err('too far', 5, 0.2)], { quality: { limit: 0.05, bound: 'max' } }, 'max-quality', 10, 0);
    expect(d.feasible.map((c) => c.id)).toEqual(['faithful', 'fast']);
    expect(d.recommendation!.explanation.join(' ')).toMatch(/relative L2 error 0\.001/);
    expect(d.recommendation!.explanation.join(' ')).toMatch(/Runner-up: fast — p95 latency -40\.0 ms, relative L2 error \+0\.039/);
  });

  it('a quality constraint in dB: margins on a negative or zero limit are taken on its magnitude', () => {
    const snr = (id: string, v: number) => cfg(id, 10, v, 1000, 0.1, 100, { metric: 'snr-db', label: 'SNR', better: 'higher' });
    const [check] = checkConfiguration(snr('a', -5), { quality: { limit: -10, bound: 'min' } }, 10);
    expect(check).toMatchObject({ met: true, value: -5, limit: -10 });
    expect(check!.margin).toBeCloseTo(0.5, 9);
    expect(checkConfiguration(snr('b', 3), { quality: { limit: 0, bound: 'min' } }, 10)[0]!.margin).toBe(3);
    expect(formatConstraint('quality', 24.34, 'snr-db')).toBe('24.3 dB');
  });
});

describe('outclassing: ties count on the front as in the ranking', () => {
  const QOS = { latency: { ms: 100, at: 'p95' as const }, quality: { limit: 0.9, bound: 'min' as const } };
  const rival = () => ({ ...cfg('remote raw', 10, 0.93, 784, 0.01), placement: 'remote' as const, cuts: [] });
  const beaten = (c: PlanConfiguration) => c.bytes >= 784;

  it('marks the splits the rival beats that lead it by at most the tolerance, or that the screen settled; the rest stay', () => {
    const settled = { ...cfg('settled', 60, 0.94, 2000), quality: { ...cfg('x', 50, 0.94).quality, stopped: 'outclassed' as const } };
    const configs = [rival(), cfg('one image above', 45, 0.935, 2000), cfg('three images above', 50, 0.945, 2000), cfg('fewer bytes', 50, 0.93, 500), settled, { ...cfg('with exits', 50, 0.93, 2000), exits: { policy: 'softmax' as const, threshold: 0.9, cuts: ['t'], rates: [0.5] } }];
    outclass(configs, configs[0]!, QOS, 0.005, beaten);
    expect(configs.map((c) => c.outclassedBy ?? null)).toEqual([null, 'remote raw', null, null, 'remote raw', null]);
    const d = decide(configs, QOS, 'max-accuracy', 10, 0.005);
    // without the rule the split one image above would be on the front (more accurate than the rival)
    expect(paretoFront(d.feasible, 'p95').map((c) => c.id)).toContain('one image above');
    expect(d.pareto.map((c) => c.id).sort()).toEqual(['fewer bytes', 'remote raw', 'three images above'].sort());
    expect(d.recommendation!.id).toBe('three images above');
    // outclassed ones rank after every other
    expect(d.feasible.slice(-2).map((c) => c.id).sort()).toEqual(['one image above', 'settled']);
  });

  it('an outclassed split does not raise the bar ties are measured from', () => {
    const jpeg = { ...cfg('remote JPEG', 5, 0.926, 500, 0.005), placement: 'remote' as const, cuts: [] };
    const configs = [rival(), cfg('one image above', 50, 0.935, 2000), jpeg];
    expect(decide(configs, QOS, 'max-accuracy', 10, 0.005).recommendation!.id).toBe('remote raw');
    outclass(configs, configs[0]!, QOS, 0.005, beaten);
    // the best is the full model's 93.0 %, and 92.6 % ties with it
    expect(decide(configs, QOS, 'max-accuracy', 10, 0.005).recommendation!.id).toBe('remote JPEG');
  });

  it('a rival that misses the QoS on quality outclasses nothing', () => {
    const configs = [{ ...rival(), quality: { ...rival().quality, value: 0.895 } }, cfg('tie', 50, 0.9, 2000)];
    outclass(configs, configs[0]!, QOS, 0.005, beaten);
    expect(configs[1]!.outclassedBy).toBeUndefined();
  });
});

