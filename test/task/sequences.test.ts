/** Greedy CTC decoding, edit distance and the sequence metrics on hand-written logits. */
import { describe, expect, it } from 'vitest';
import { chooseTask } from '../../src/task/choose.js';
import { editDistance, greedyDecode } from '../../src/task/sequences.js';
import { f32 } from './helpers.js';

/** One-hot logits [T, 3] for a token path. */
const path = (tokens: number[]): number[] => tokens.flatMap((t) => [0, 1, 2].map((k) => (k === t ? 1 : 0)));

describe('sequence metrics', () => {
  it('greedy decode collapses repeats and drops blanks: 1 1 0 1 2 2 -> 1 1 2', () => {
    expect(greedyDecode(Float32Array.from(path([1, 1, 0, 1, 2, 2])), 6, 0)).toEqual([1, 1, 2]);
    expect(greedyDecode(Float32Array.from(path([1, 1, 0, 1, 2, 2])), 6, 2)).toEqual([1, 0, 1]);
  });

  it('edit distance: kitten -> sitting is 3', () => {
    const code = (w: string) => [...w].map((c) => c.charCodeAt(0));
    expect(editDistance(code('kitten'), code('sitting'))).toBe(3);
    expect(editDistance([], [1, 2])).toBe(2);
  });

  it('sequence agreement and token error rate against the full model decode', async () => {
    const outputs = [{ name: 'ctc', dims: [1, 6, 3] }];
    // full decodes 1 1 2 and 2; split decodes 1 2 (one deletion) and 2 (same)
    const full = f32([2, 6, 3], [...path([1, 1, 0, 1, 2, 2]), ...path([0, 2, 2, 0, 0, 0])]);
    const split = f32([2, 6, 3], [...path([1, 1, 1, 1, 2, 2]), ...path([2, 0, 0, 0, 0, 0])]);
    const agree = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'sequence-agreement' });
    expect(await agree.score({ n: 2, split: { ctc: split }, full: { ctc: full }, labels: null })).toEqual([0, 1]);
    const ter = await chooseTask(outputs, { labelled: false, classes: 0 }, { metric: 'token-error-rate' });
    expect(await ter.score({ n: 2, split: { ctc: split }, full: { ctc: full }, labels: null })).toEqual([1 / 3, 0]);
    expect(ter.metric.better).toBe('lower');
  });
});
