/**
 * The adaptive edge's estimator and chooser, against closed forms: the uplink as the harmonic mean of per-request
 * throughputs, read from the body's arrival where the server reports it, else beyond the fixed cost of a request
 * (the least network time of the last requests, never under the probed RTT), EWMAs for RTT, queueing and the device's slowdown (measured device time over the plan's), and switches only after the margin is beaten for the
 * plan's number of consecutive frames, or at once when the current option is predicted over the latency limit and
 * another meets it; with frames arriving at a rate of their own, each option's latency counts the wait behind earlier
 * frames (the M/D/1 mean wait; unbounded when the service time reaches the frame interval).
 */
import { describe, expect, it } from 'vitest';
import { predictLatency, queueWaitMs, rankAt, serviceMs, type SwitchingPlan } from '../../../src/plan/switching.js';
import { choose, currentPoint, ESTIMATOR_DEFAULTS, fixedMs, harmonicMean, observeArrival, observeDeviceTime, observeQueue, observeRtt, observeTimeout, observeTransfer, type ChooserState, type Estimate } from '../../../src/runtime/edge/adapt.js';

describe('the estimator', () => {
  it('averages throughputs harmonically', () => {
    expect(harmonicMean([1, 2, 4])).toBeCloseTo(12 / 7, 12);
  });

  it('credits the bytes with the time beyond one RTT at first, over the last k requests', () => {
    let e: Estimate = observeRtt({ throughputs: [] }, 10);
    e = observeTransfer(e, 125_000, 110); // 1 Mbit in 100 ms: 10 Mb/s
    expect(e.throughputs).toEqual([10]);
    expect(currentPoint(e)).toEqual({ upMbps: 10, rttMs: 110, queueMs: 0, deviceSlowdown: 1 }); // the fixed cost: the least request time so far
    const k = { ...ESTIMATOR_DEFAULTS, window: 2 };
    for (let i = 0; i < 3; i++) e = observeTransfer(e, 125_000, 160, k); // 1 Mbit 50 ms beyond the 110 ms request: 20 Mb/s
    expect(e.throughputs).toEqual([20, 20]);
  });

  // a request costs rtt + c + 8 x bytes / rate: RTT 10 ms (the probe), 30 ms of fixed cost the probe does not see
  const network = (bytes: number, mbps: number) => 10 + 30 + (8 * bytes) / (1e3 * mbps);

  it('does not read the fixed cost of a request as a slow link: small payloads on a fast link read fast', () => {
    let e: Estimate = observeRtt({ throughputs: [] }, 10);
    for (let i = 0; i < 5; i++) e = observeTransfer(e, 3300, network(3300, 20));
    // the first request has only the probe to go by (3300 B in 31.3 ms: 0.84 Mb/s, what the RTT-only estimate read
    // forever); from the second, its own least time is the fixed cost, and the transfer is within the floor
    expect(e.throughputs[0]).toBeCloseTo((8 * 3300) / (1e3 * (network(3300, 20) - 10)), 9);
    expect(e.throughputs.slice(1)).toEqual([1, 2, 3, 4].map(() => (8 * 3300) / (1e3 * ESTIMATOR_DEFAULTS.minTransferMs)));
    expect(currentPoint(e)!.rttMs).toBeCloseTo(network(3300, 20), 9);
    // the link drops to 1 Mb/s: the time beyond the fixed cost is the transfer, less the 1.3 ms the fast one took
    for (let i = 0; i < 5; i++) e = observeTransfer(e, 3300, network(3300, 1));
    const p = currentPoint(e)!;
    expect(p.upMbps).toBeCloseTo((8 * 3300) / (1e3 * (network(3300, 1) - network(3300, 20))), 9);
    expect(p.upMbps).toBeGreaterThan(1);
    expect(p.upMbps).toBeLessThan(1.06);
    // what the chooser predicts for a 13.3 kB option from these: within 3 % of the true time
    const predicted = p.rttMs + (8 * 13_300) / (1e3 * p.upMbps);
    expect(Math.abs(predicted / network(13_300, 1) - 1)).toBeLessThan(0.03);
  });

  it("reads the uplink from the body's arrival at the server, not fooled by a device that slows down around its requests", () => {
    // 3300 B at 20 Mb/s; the server read 1852 B after the headers' segment, over 0.7408 ms (20 Mb/s); the request's
    // network time: 40 ms of fixed cost + 1.32 ms of transfer; then the device slows and the same request takes 100 ms
    const transfer = (8 * 3300) / (1e3 * 20);
    const arrival = { ms: (8 * 1852) / (1e3 * 20), bytes: 1852 };
    let e: Estimate = { throughputs: [] };
    for (let i = 0; i < 3; i++) e = observeTransfer(e, 3300, 40 + transfer, ESTIMATOR_DEFAULTS, arrival);
    expect(currentPoint(e)!.upMbps).toBeCloseTo(20, 9);
    expect(currentPoint(e)!.rttMs).toBeCloseTo(40, 9);
    let blind: Estimate = { throughputs: [] }; // the same requests without the server's account
    for (let i = 0; i < 3; i++) blind = observeTransfer(blind, 3300, 40 + transfer);
    for (let i = 0; i < 5; i++) {
      e = observeTransfer(e, 3300, 100 + transfer, ESTIMATOR_DEFAULTS, arrival);
      blind = observeTransfer(blind, 3300, 100 + transfer);
    }
    // still 20 Mb/s; the fixed cost moves towards 100 ms as an EWMA: 100 - 60 x 0.7^5
    expect(currentPoint(e)!.upMbps).toBeCloseTo(20, 9);
    expect(currentPoint(e)!.rttMs).toBeCloseTo(100 - 60 * 0.7 ** 5, 9);
    // without it, the 60 ms the device added read as transfer: 3300 B in 60 ms, 0.44 Mb/s
    expect(currentPoint(blind)!.upMbps).toBeCloseTo((8 * 3300) / (1e3 * 60), 9);
    // one arrival spread by a late timer (1852 B over 12 ms: 1.2 Mb/s) moves the median of the last 5 not at all
    const late = observeTransfer(e, 3300, 100 + transfer, ESTIMATOR_DEFAULTS, { ms: 12, bytes: 1852 });
    expect(late.throughputs.map((x) => +x.toFixed(3))).toEqual([20, 20, 20, 20, 1.235]);
    expect(currentPoint(late)!.upMbps).toBeCloseTo(20, 9);
    // a request of 13,300 B unanswered after 140 ms: at most 8 x 13300 / (140 - fixed) ms, at once, whatever came before
    const timedOut = observeTimeout(late, 13_300, 140);
    expect(timedOut.throughputs).toEqual([(8 * 13_300) / (1e3 * (140 - fixedMs(late)))]);
    expect(currentPoint(timedOut)!.upMbps).toBeCloseTo((8 * 13_300) / (1e3 * (140 - fixedMs(late))), 9);
    // a body that came whole with its headers says nothing of the rate: the estimate without it
    expect(observeTransfer(blind, 3300, 100 + transfer, ESTIMATOR_DEFAULTS, { ms: 0.1, bytes: 0 })).toEqual(observeTransfer(blind, 3300, 100 + transfer));
  });

  it('forgets the fixed cost after the last fixedWindow requests', () => {
    const s = { ...ESTIMATOR_DEFAULTS, fixedWindow: 3 };
    let e: Estimate = { throughputs: [] };
    for (const ms of [40, 70, 70, 70]) e = observeTransfer(e, 1000, ms, s);
    expect(fixedMs(e)).toBe(70);
    expect(e.networkMs).toEqual([70, 70, 70]);
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

  it("reads the device's slowdown as an EWMA of measured over planned device time, the same whichever option ran", () => {
    // planned 20 ms (option a) and 50 ms (option b); the device turns 4x slower: samples 4, 4, 4 from both options
    let e: Estimate = observeTransfer({ throughputs: [] }, 1000, 10);
    expect(currentPoint(e)!.deviceSlowdown).toBe(1);
    e = observeDeviceTime(e, 20, 20);
    expect(e.deviceSlowdown).toBe(1);
    for (const [measured, planned] of [[80, 20], [200, 50], [80, 20]] as const) e = observeDeviceTime(e, measured, planned);
    // EWMA from 1 towards 4 with weight 0.3: 4 - 3 x 0.7^3
    expect(e.deviceSlowdown).toBeCloseTo(4 - 3 * 0.7 ** 3, 12);
    expect(currentPoint(e)!.deviceSlowdown).toBeCloseTo(4 - 3 * 0.7 ** 3, 12);
    // an option planned at 0 ms (nothing on the device) says nothing of its speed
    expect(observeDeviceTime(e, 5, 0)).toBe(e);
  });
});

describe('queueing behind earlier frames', () => {
  it('smooths the time between arrivals as an EWMA and hands it to the chooser', () => {
    let e: Estimate = observeTransfer({ throughputs: [] }, 1000, 10);
    expect(currentPoint(e)).not.toHaveProperty('frameIntervalMs');
    for (const gap of [250, 250, 350]) e = observeArrival(e, gap);
    expect(e.frameIntervalMs).toBeCloseTo(250 + 0.3 * 100, 12);
    expect(currentPoint(e)!.frameIntervalMs).toBeCloseTo(280, 12);
  });

  it('waits the M/D/1 mean wait, rho s / (2 (1 - rho)), and without bound once the service time reaches the interval', () => {
    // s = 100 ms, a frame every 250 ms: rho 0.4, wait 0.4 x 100 / 1.2
    expect(queueWaitMs(100, 250)).toBeCloseTo(100 / 3, 12);
    expect(queueWaitMs(100, undefined)).toBe(0);
    expect(queueWaitMs(250, 250)).toBe(Infinity);
    expect(queueWaitMs(300, 250)).toBe(Infinity);
    // the wait grows without bound as rho nears 1
    expect(queueWaitMs(249, 250)).toBeGreaterThan(30_000);
    // an option: service 2 x 40 + 10 + 20 + 8 x 125 kB / 10 Mb/s = 210 ms, a frame every 300 ms: rho 0.7, wait 245 ms
    const o = { deviceMs: 40, serverMs: 10, share: 1, bytes: 125_000 };
    const p = { upMbps: 10, rttMs: 20, queueMs: 0, deviceSlowdown: 2 };
    expect(serviceMs(o, p)).toBeCloseTo(210, 9);
    expect(predictLatency(o, p)).toBeCloseTo(210, 9);
    expect(predictLatency(o, { ...p, frameIntervalMs: 300 })).toBeCloseTo(210 + (0.7 * 210) / 0.6, 9);
    expect(predictLatency(o, { ...p, frameIntervalMs: 200 })).toBe(Infinity);
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
    expect(switches).toEqual(['shallow->deep: uplink 200 Mb/s, RTT 0 ms, queue 0 ms, device x1.0: deep is faster (45 ms against 65 ms) at equal quality, for 3 frames']);
  });

  it('does not flap on noise: a frame won by the current option resets the count', () => {
    expect(run([200, 200, 1000, 200, 200]).switches).toEqual([]);
  });

  it('stays when the other option is faster by less than the margin', () => {
    // at 300 Mb/s shallow 51.7 ms, deep 45.3 ms: deep ranks first but is only 12 % faster
    expect(run([300, 300, 300, 300]).state.current).toBe('shallow');
  });

  it('moves to the shallow cut when the device slows down, on the same link', () => {
    // at 200 Mb/s: deep 45.4 ms, shallow 65 ms; the device 4x slower: deep 160 + 5 + 0.4 = 165.4 ms, shallow 20 + 20 + 40 = 80 ms
    let state: ChooserState = { current: 'deep', streak: 0 };
    const reasons = [1, 4, 4, 4].map((deviceSlowdown) => {
      const next = choose(plan, state, { upMbps: 200, rttMs: 0, queueMs: 0, deviceSlowdown });
      state = next.state;
      return next.decision?.reason;
    });
    expect(reasons.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(reasons[3]).toBe('uplink 200 Mb/s, RTT 0 ms, queue 0 ms, device x4.0: shallow is faster (80 ms against 165 ms) at equal quality, for 3 frames');
  });

  it('leaves an option predicted over the latency limit at once when another meets it', () => {
    // at 10 Mb/s shallow 825 ms, deep 53 ms: on the first frame, no hysteresis
    const { state, switches } = run([10]);
    expect(state).toEqual({ current: 'deep', streak: 0 });
    expect(switches).toEqual(['shallow->deep: uplink 10 Mb/s, RTT 0 ms, queue 0 ms, device x1.0: shallow predicted 825 ms, over the 200 ms limit; deep 53 ms, at once']);
  });

  it('switches at once when the device slows the current option past the limit, and keeps the hysteresis when nothing meets it', () => {
    const step = (state: ChooserState, upMbps: number, deviceSlowdown: number) => choose(plan, state, { upMbps, rttMs: 0, queueMs: 0, deviceSlowdown });
    // 200 Mb/s, device 8x: deep 320 + 5 + 0.4 = 325.4 ms, over 200; shallow 40 + 20 + 40 = 100 ms, under 200 x 0.85
    const rescued = step({ current: 'deep', streak: 0 }, 200, 8);
    expect(rescued.state).toEqual({ current: 'shallow', streak: 0 });
    expect(rescued.decision?.reason).toBe('uplink 200 Mb/s, RTT 0 ms, queue 0 ms, device x8.0: deep predicted 325 ms, over the 200 ms limit; shallow 100 ms, at once');
    // 40 Mb/s, device 8x: deep 320 + 5 + 2 = 327 ms, shallow 40 + 20 + 200 = 260 ms: both over the limit, shallow
    // faster by 20 % (more than the margin): a gain, not a rescue, so it waits for 3 frames
    let state: ChooserState = { current: 'deep', streak: 0 };
    const decisions = [1, 2, 3].map(() => {
      const next = step(state, 40, 8);
      state = next.state;
      return next.decision?.reason;
    });
    expect(decisions).toEqual([undefined, undefined, 'uplink 40 Mb/s, RTT 0 ms, queue 0 ms, device x8.0: deep predicted 327 ms, over the 200 ms limit; shallow is faster (260 ms), for 3 frames']);
  });

  it('counts the wait behind earlier frames: an option under the limit alone is over it when its frames queue', () => {
    // 200 Mb/s, device 4x: deep serves a frame in 160 + 5 + 0.4 = 165.4 ms, under the 200 ms limit; shallow 80 ms
    const point = (frameIntervalMs?: number) => ({ upMbps: 200, rttMs: 0, queueMs: 0, deviceSlowdown: 4, ...(frameIntervalMs ? { frameIntervalMs } : {}) });
    const deep: ChooserState = { current: 'deep', streak: 0 };
    // frames taken as fast as they are served: a gain only (shallow faster by 52 %), so it waits for 3 frames
    expect(choose(plan, deep, point()).state).toEqual({ current: 'deep', candidate: 'shallow', streak: 1 });
    // a frame every 250 ms: deep rho 0.6616, waits 161.7 ms, 327 ms in all; shallow rho 0.32, 80 + 18.8 ms: at once
    const queued = choose(plan, deep, point(250));
    const wait = (s: number, t: number) => (s / t) * s / (2 * (1 - s / t));
    expect(predictLatency(plan.options[1]!, point(250))).toBeCloseTo(165.4 + wait(165.4, 250), 9);
    expect(queued.state).toEqual({ current: 'shallow', streak: 0 });
    expect(queued.decision?.reason).toBe('uplink 200 Mb/s, RTT 0 ms, queue 0 ms, device x4.0, a frame every 250 ms: deep predicted 327 ms, over the 200 ms limit; shallow 99 ms, at once');
    // a frame every 150 ms: deep's frames pile up (service 165 ms over the interval); shallow 80 + 45.7 ms
    expect(choose(plan, deep, point(150)).decision?.reason).toBe('uplink 200 Mb/s, RTT 0 ms, queue 0 ms, device x4.0, a frame every 150 ms: deep predicted frames piling up (165 ms each), over the 200 ms limit; shallow 126 ms, at once');
  });

  it('where every option piles up, ranks them by service time and moves to the shortest after the hysteresis', () => {
    // a frame every 50 ms: deep 165.4 ms and shallow 80 ms a frame, both over the interval
    const p = { upMbps: 200, rttMs: 0, queueMs: 0, deviceSlowdown: 4, frameIntervalMs: 50 };
    expect(rankAt(plan, p).map((o) => o.name)).toEqual(['shallow', 'deep']);
    let state: ChooserState = { current: 'deep', streak: 0 };
    const reasons = [1, 2, 3].map(() => {
      const next = choose(plan, state, p);
      state = next.state;
      return next.decision?.reason;
    });
    expect(reasons).toEqual([undefined, undefined, 'uplink 200 Mb/s, RTT 0 ms, queue 0 ms, device x4.0, a frame every 50 ms: deep predicted frames piling up (165 ms each), over the 200 ms limit; shallow is faster (frames piling up (80 ms each)), for 3 frames']);
    // and stays on the shorter one: deep is not faster by the margin
    expect(choose(plan, state, p).state).toEqual({ current: 'shallow', streak: 0 });
  });
});
