/**
 * The adaptive edge's estimator and chooser, against closed forms: the uplink as the harmonic mean of per-request
 * throughputs beyond one RTT, EWMAs for RTT and queueing, and switches only after the margin is beaten for the
 * plan's number of consecutive frames.
 */
import { describe, expect, it } from 'vitest';
import type { SwitchingPlan } from '../../../src/plan/switching.js';
import { choose, currentPoint, harmonicMean, observeQueue, observeRtt, observeTransfer, type ChooserState, type Estimate } from '../../../src/runtime/edge/adapt.js';

describe('the estimator', () => {
  it('averages throughputs harmonically', () => {
    expect(harmonicMean([1, 2, 4])).toBeCloseTo(12 / 7, 12);
  });

  it('credits the bytes with the time beyond one RTT, over the last k requests', () => {
    let e: Estimate = observeRtt({ throughputs: [] }, 10);
    e = observeTransfer(e, 125_000, 110); // 1 Mbit in 100 ms: 10 Mb/s
    expect(e.throughputs).toEqual([10]);
    e = observeTransfer(e, 125_000, 60); // 1 Mbit in 50 ms: 20 Mb/s
    expect(currentPoint(e)).toEqual({ upMbps: 2 / (1 / 10 + 1 / 20), rttMs: 10, queueMs: 0 });
    for (let i = 0; i < 5; i++) e = observeTransfer(e, 12_500, 110); // 0.1 Mbit in 100 ms: 1 Mb/s, five times
    expect(e.throughputs).toEqual([1, 1, 1, 1, 1]);
  });

  it('lowers the RTT to a faster request, and smooths RTT and queueing as EWMAs', () => {
    let e = observeRtt(observeRtt({ throughputs: [] }, 10), 20);
    expect(e.rttMs).toBeCloseTo(10 + 0.3 * 10, 12);
    e = observeTransfer(e, 1000, 5);
    expect(e.rttMs).toBe(5);
    expect(e.throughputs[0]).toBeCloseTo(8000 / (1e3 * 0.5), 12); // the shortest credited time, 0.5 ms
    e = observeQueue(observeQueue(e, 100), 0);
    expect(e.queueMs).toBeCloseTo(70, 12);
    expect(currentPoint({ throughputs: [] })).toBeUndefined();
  });
});

describe('the chooser', () => {
  // shallow: 25 + 8000/bw ms; deep: 45 + 80/bw ms; equal quality
  const plan: Pick<SwitchingPlan, 'options' | 'latencyLimitMs' | 'tolerance' | 'hysteresis'> = {
    latencyLimitMs: 200,
    tolerance: 0,
    hysteresis: { margin: 0.15, frames: 3 },
    options: [
      { name: 'shallow', id: 's', deviceMs: 5, serverMs: 20, share: 1, bytes: 1e6, goodness: 0.9 },
      { name: 'deep', id: 'd', deviceMs: 40, serverMs: 5, share: 1, bytes: 1e4, goodness: 0.9 },
    ],
  };
  const at = (upMbps: number) => ({ upMbps, rttMs: 0, queueMs: 0 });
  const run = (points: number[], start: ChooserState = { current: 'shallow', streak: 0 }) => {
    let state = start;
    const switches: string[] = [];
    for (const p of points) {
      const next = choose(plan, state, at(p));
      state = next.state;
      if (next.decision) switches.push(`${next.decision.from}->${next.decision.to}: ${next.decision.reason}`);
    }
    return { state, switches };
  };

  it('switches after the winner has won the given number of frames in a row', () => {
    // at 200 Mb/s shallow 65 ms, deep 45.4 ms: faster by more than the 15 % margin
    expect(run([200, 200]).switches).toEqual([]);
    const { state, switches } = run([200, 200, 200]);
    expect(state.current).toBe('deep');
    expect(switches).toEqual(['shallow->deep: uplink 200 Mb/s, RTT 0 ms, queue 0 ms: deep is faster (45 ms against 65 ms) at equal quality, for 3 frames']);
  });

  it('does not flap on noise: a frame won by the current option resets the count', () => {
    expect(run([200, 200, 1000, 200, 200]).switches).toEqual([]);
  });

  it('stays when the other option is faster by less than the margin', () => {
    // at 300 Mb/s shallow 51.7 ms, deep 45.3 ms: deep ranks first but is only 12 % faster
    expect(run([300, 300, 300, 300]).state.current).toBe('shallow');
  });

  it('leaves an option predicted over the latency limit', () => {
    // at 10 Mb/s shallow 825 ms, deep 53 ms
    expect(run([10, 10, 10]).switches[0]).toMatch(/^shallow->deep: uplink 10 Mb\/s.*: shallow predicted 825 ms, over the 200 ms limit; deep 53 ms/);
  });
});
