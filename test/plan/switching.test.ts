/**
 * The switching plan: the latency model at a point is the closed form, the sweep's winners agree with a brute-force
 * ranking at every grid point (and with the crossover bandwidth solved by hand), only splits meeting the
 * network-independent constraints become options, and a plan file is validated with errors naming file and field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSwitchingPlan, predictLatency, rankAt, switchingPlan, winningRanges, type SwitchingPlan } from '../../src/plan/switching.js';
import type { ConstraintCheck, PlanConfiguration, PlanResult } from '../../src/plan/types.js';

/** A configuration with the figures the switching plan reads. */
function cfg(id: string, o: { deviceMs: number; serverMs: number; bytes: number; accuracy: number; placement?: PlanConfiguration['placement']; exitRate?: number; checks?: ConstraintCheck[] }): PlanConfiguration {
  return {
    id,
    placement: o.placement ?? 'split',
    link: 'wifi',
    cuts: [{ index: 1, id: 't' }],
    devices: ['edge', 'server'],
    codec: 'fp32',
    exits: o.exitRate === undefined ? null : { policy: 'softmax', threshold: 0.9, cuts: ['e'], rates: [o.exitRate] },
    latency: { meanMs: 1, p50Ms: 1, p95Ms: 1, p99Ms: 1, source: 'analytic', breakdown: { deviceMs: o.deviceMs, transferMs: 1, serverMs: o.serverMs, queueMs: 0 } },
    quality: { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', value: o.accuracy, source: 'measured' },
    bytes: o.bytes,
    downlinkBytes: 40,
    energyJ: null,
    edgeMemoryBytes: 1e6,
    throughputFps: 100,
    checks: o.checks ?? [],
    feasible: true,
  };
}

const result = (configurations: PlanConfiguration[], limit = 100): Pick<PlanResult, 'configurations' | 'recommendation' | 'scenario'> => ({
  configurations,
  recommendation: { id: configurations[0]!.id, objective: 'max-quality', explanation: [], binding: null, runnerUp: null },
  scenario: { name: 's', file: null, qos: { latency: { limit, at: 'p95' } }, objective: 'max-quality' },
});

// shallow: little device work, a big cut; deep: the reverse. Equal latency where 25 + 8000/bw = 45 + 80/bw: bw = 396 Mb/s
const shallow = cfg('shallow', { deviceMs: 5, serverMs: 20, bytes: 1e6, accuracy: 0.9 });
const deep = cfg('deep', { deviceMs: 40, serverMs: 5, bytes: 1e4, accuracy: 0.9 });

describe('the latency model at a network point', () => {
  it('is device + server + share x (RTT + queue) + 8 x bytes / uplink', () => {
    expect(predictLatency({ deviceMs: 10, serverMs: 5, share: 0.5, bytes: 125_000 }, { upMbps: 10, rttMs: 20, queueMs: 4 })).toBeCloseTo(10 + 5 + 0.5 * 24 + 100, 9);
  });

  it("scales the device's time, and only it, by the device's slowdown", () => {
    expect(predictLatency({ deviceMs: 10, serverMs: 5, share: 0.5, bytes: 125_000 }, { upMbps: 10, rttMs: 20, queueMs: 4, deviceSlowdown: 3 })).toBeCloseTo(3 * 10 + 5 + 0.5 * 24 + 100, 9);
  });

  it('takes the share sent to the server from the exit rates', () => {
    const p = switchingPlan(result([cfg('x', { deviceMs: 1, serverMs: 1, bytes: 10, accuracy: 0.9, exitRate: 0.25 })]))!;
    expect(p.options[0]!.share).toBeCloseTo(0.75, 12);
  });
});

describe('the sweep', () => {
  const grid = { upMbps: [1, 10, 100, 300, 390, 400, 1000, 5000], rttMs: [0, 50], queueMs: [0, 30] };
  const plan = switchingPlan(result([shallow, deep], 200), { grid })!;

  it('crosses over where the closed form says: the deep cut below 396 Mb/s, the shallow one above', () => {
    const names = Object.fromEntries(plan.options.map((o) => [o.id, o.name]));
    for (const row of plan.winners.flat()) expect(row).toEqual([...Array(5).fill(names.deep), ...Array(3).fill(names.shallow)]);
  });

  it('agrees with a brute-force ranking at every grid point', () => {
    plan.winners.forEach((byRtt, q) => byRtt.forEach((row, r) => row.forEach((w, u) => {
      const p = { upMbps: grid.upMbps[u]!, rttMs: grid.rttMs[r]!, queueMs: grid.queueMs[q]! };
      const lat = plan.options.map((o) => predictLatency(o, p));
      const feasible = plan.options.filter((_, i) => lat[i]! <= 200);
      // equal quality: the fastest feasible one, else the fastest
      const pool = feasible.length ? feasible : plan.options;
      const brute = pool.reduce((a, b) => (predictLatency(b, p) < predictLatency(a, p) ? b : a));
      expect(w).toBe(brute.name);
    })));
  });

  it('prefers quality when it fits the limit, and the fastest when nothing does', () => {
    const better = cfg('better', { deviceMs: 5, serverMs: 20, bytes: 1e6, accuracy: 0.95 });
    const worse = cfg('worse', { deviceMs: 5, serverMs: 5, bytes: 1e3, accuracy: 0.8 });
    const p = switchingPlan(result([better, worse], 100), { grid: { upMbps: [10, 1000], rttMs: [0], queueMs: [0] } })!;
    // at 1000 Mb/s: better 33 ms, worse 10 ms; both fit 100 ms, the better quality wins
    expect(rankAt(p, { upMbps: 1000, rttMs: 0, queueMs: 0 }).map((o) => o.id)).toEqual(['better', 'worse']);
    // at 10 Mb/s: better 825 ms, worse 10.8 ms
    expect(rankAt(p, { upMbps: 10, rttMs: 0, queueMs: 0 }).map((o) => o.id)).toEqual(['worse', 'better']);
    // nothing fits at 0.01 Mb/s and an RTT of 1 s: by latency
    expect(rankAt(p, { upMbps: 0.01, rttMs: 1000, queueMs: 0 }).map((o) => o.id)).toEqual(['worse', 'better']);
  });

  it('keeps only splits meeting the other constraints that win somewhere, and says where', () => {
    const local = cfg('local', { deviceMs: 1, serverMs: 0, bytes: 0, accuracy: 0.99, placement: 'local' });
    const tooBad = cfg('too bad', { deviceMs: 1, serverMs: 1, bytes: 1, accuracy: 0.5, checks: [{ constraint: 'quality', value: 0.5, limit: 0.8, margin: -0.375, met: false }] });
    const never = cfg('never', { deviceMs: 60, serverMs: 30, bytes: 2e6, accuracy: 0.9 });
    const p = switchingPlan(result([shallow, local, tooBad, never, deep], 200), { grid })!;
    expect(p.options.map((o) => [o.name, o.id])).toEqual([['c0', 'shallow'], ['c1', 'deep']]);
    expect(winningRanges(p, 'c1')).toEqual({ upMbps: [1, 390], rttMs: [0, 50], queueMs: [0, 30] });
    expect(winningRanges(p, 'c0')).toEqual({ upMbps: [400, 5000], rttMs: [0, 50], queueMs: [0, 30] });
    expect(switchingPlan(result([local]))).toBeNull();
  });

  it('keeps an option that wins only when the device is slower than planned, and draws the winners as planned', () => {
    // at 100 Mb/s: deep 40 + 5 + 0.8 = 45.8 ms, mid (deviceMs 20, 2e5 B) 20 + 10 + 16 = 46 ms: deep wins at 1x (the two
    // cross where 45 + 80/U = 30 + 1600/U, U = 101.3 Mb/s); at 2x deep 85.8 ms, mid 66 ms: mid wins
    const mid = cfg('mid', { deviceMs: 20, serverMs: 10, bytes: 2e5, accuracy: 0.9 });
    const at100 = { upMbps: [100], rttMs: [0], queueMs: [0] };
    const kept = switchingPlan(result([deep, mid], 200), { grid: at100 })!;
    expect(kept.options.map((o) => o.id)).toEqual(['deep', 'mid']);
    expect(kept.winners).toEqual([[['c0']]]);
    expect(switchingPlan(result([deep, mid], 200), { grid: at100, slowdowns: [1] })!.options.map((o) => o.id)).toEqual(['deep']);
  });
});

describe('a switching plan file', () => {
  const plan = switchingPlan(result([shallow, deep], 200), { grid: { upMbps: [1, 1000], rttMs: [0], queueMs: [0] } })!;
  const write = (value: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), 'impera-switching-')), 'switching.json');
    writeFileSync(file, JSON.stringify(value, null, 1));
    return file;
  };

  it('reads back what was written', () => {
    expect(loadSwitchingPlan(write(plan))).toEqual(plan);
  });

  it('is refused with the file, line and field named', () => {
    const bad = (v: SwitchingPlan | Record<string, unknown>, message: RegExp) => {
      const file = write(v);
      expect(() => loadSwitchingPlan(file)).toThrow(expect.objectContaining({ code: 'BAD_SWITCHING_PLAN', message: expect.stringMatching(message) }));
      expect(() => loadSwitchingPlan(file)).toThrow(file);
    };
    bad({ ...plan, hysteresis: { margin: 1.5, frames: 3 } }, /line \d+: hysteresis\.margin/);
    bad({ ...plan, options: [plan.options[0], { ...plan.options[1], name: plan.options[0]!.name }] }, /the name 'c0' is used twice/);
    bad({ ...plan, winners: [[['c0', 'c9']]] }, /winners must be \[queueMs\]\[rttMs\]\[upMbps\] \(1 x 1 x 2\)/);
    bad({ ...plan, format: 'x' }, /line 2: format: must be one of "impera-switching\/1"/);
  });
});
