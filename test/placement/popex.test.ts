import { describe, expect, it } from 'vitest';
import { expectedTime, popexBruteForce, popexShortestPath, type PopexProblem } from '../../src/placement/popex.js';
import { seededRandom } from '../../src/util/random.js';

/** A random chain: n layers, edge 1-20x slower than the cloud, shrinking tensors, 0-3 exits, any bandwidth. */
function randomProblem(rand: () => number): PopexProblem {
  const n = 2 + Math.floor(rand() * 12);
  const cloudMs = Array.from({ length: n }, () => 0.1 + rand() * 5);
  const slow = 1 + rand() * 19;
  const edgeMs = cloudMs.map((t) => t * slow * (0.5 + rand()));
  const bytes = Array.from({ length: n }, (_, s) => Math.round(150_000 * Math.exp(-s * rand()) * (0.2 + rand())));
  const [bytesPerMs, latencyMs] = [10 ** (1 + rand() * 5), rand() * 20];
  const places = [...Array(n).keys()].map((i) => i + 2).filter(() => rand() < 0.3).slice(0, 3);
  const exits = places.map((before) => ({ before, probability: rand(), branchMs: rand() * 2 }));
  return { edgeMs, cloudMs, hopMs: bytes.map((b) => b / bytesPerMs + latencyMs), exits };
}

describe('POPEX partitioning (METHODS.md §5)', () => {
  it('reproduces E[T(s)] = sum_{i<=s} P_i t_e(i) + sum_{b<=s} P_b t_e(b) + P_s D_s / B + sum_{i>s} P_i t_c(i)', () => {
    // 4 layers; exit A before layer 2 (p = 0.5, 1 ms), exit B before layer 4 (p = 0.2, 2 ms)
    const p: PopexProblem = { edgeMs: [10, 20, 30, 40], cloudMs: [1, 2, 3, 4], hopMs: [1000 / 100, 800 / 100, 400 / 100, 200 / 100], exits: [{ before: 2, probability: 0.5, branchMs: 1 }, { before: 4, probability: 0.2, branchMs: 2 }] };
    // D_s = 1000, 800, 400, 200 bytes at B = 100 bytes/ms
    // P_1 = 1, P_2 = P_3 = 0.5, P_4 = 0.4; branch A is reached by everyone, B by half
    expect(expectedTime(p, 0)).toBeCloseTo(1000 / 100 + 1 + 0.5 * 2 + 0.5 * 3 + 0.4 * 4, 12);
    expect(expectedTime(p, 1)).toBeCloseTo(10 + 800 / 100 + 0.5 * 2 + 0.5 * 3 + 0.4 * 4, 12); // exit A is at the cut: not on the edge
    expect(expectedTime(p, 2)).toBeCloseTo(10 + 1 + 0.5 * 20 + 0.5 * (400 / 100) + 0.5 * 3 + 0.4 * 4, 12);
    expect(expectedTime(p, 3)).toBeCloseTo(10 + 1 + 0.5 * 20 + 0.5 * 30 + 0.5 * (200 / 100) + 0.4 * 4, 12);
    expect(expectedTime(p, 4)).toBeCloseTo(10 + 1 + 0.5 * 20 + 0.5 * 30 + 0.5 * 2 + 0.4 * 40, 12);
    const sp = popexShortestPath(p);
    expect(sp.reach).toEqual([1, 0.5, 0.5, 0.4]);
    expect(sp.cut).toBe(0);
    expect(sp.expectedMs).toBeCloseTo(expectedTime(p, 0), 12);
  });

  it('the shortest path equals brute-force enumeration on 2000 random chains (exit probabilities, bandwidths, speeds)', () => {
    const rand = seededRandom(7);
    const cutsSeen = new Set<string>();
    for (let trial = 0; trial < 2000; trial++) {
      const p = randomProblem(rand);
      const [sp, bf] = [popexShortestPath(p), popexBruteForce(p)];
      expect(sp.expectedMs).toBeCloseTo(bf.expectedMs, 9);
      // ties aside, the same cut; on a tie the shortest path's cut has the same expected time
      expect(expectedTime(p, sp.cut)).toBeCloseTo(bf.expectedMs, 9);
      cutsSeen.add(sp.cut === 0 ? 'cloud' : sp.cut === p.edgeMs.length ? 'edge' : 'split');
    }
    // the random cases exercise all three kinds of answer
    expect([...cutsSeen].sort()).toEqual(['cloud', 'edge', 'split']);
  });

  it('a confident early exit moves the best cut to the edge side of it', () => {
    const base: PopexProblem = { edgeMs: [2, 20, 20], cloudMs: [1, 1, 1], hopMs: [5, 20, 20], exits: [] };
    // E[T]: all in the cloud 5 + 3 = 8 ms; after layer 1: 2 + 20 + 2 = 24 ms
    expect(popexShortestPath(base).cut).toBe(0);
    const withExit = { ...base, exits: [{ before: 2, probability: 0.95, branchMs: 0.5 }] };
    // 95 % leave after layer 1: all on the edge costs 2 + 0.5 + 0.05 (20 + 20) = 4.5 ms, below the cloud's 6.1 ms
    expect(popexShortestPath(withExit)).toMatchObject({ cut: 3, expectedMs: expect.closeTo(4.5, 9) });
  });

  it('rejects probabilities outside [0, 1], exits at layers that do not exist and mismatched times', () => {
    const p: PopexProblem = { edgeMs: [1, 2], cloudMs: [1, 1], hopMs: [10, 10], exits: [] };
    expect(() => popexShortestPath({ ...p, exits: [{ before: 2, probability: 1.5, branchMs: 1 }] })).toThrow(/outside \[0, 1\]/);
    expect(() => popexShortestPath({ ...p, exits: [{ before: 7, probability: 0.5, branchMs: 1 }] })).toThrow(/does not exist/);
    expect(() => popexShortestPath({ ...p, cloudMs: [1] })).toThrow(/2 edge times but 1 cloud/);
    expect(() => popexShortestPath({ ...p, hopMs: [10] })).toThrow(/transfer times must be given/);
  });
});
