import { describe, expect, it } from 'vitest';
import { findCuts, partition, resolveCut } from '../../src/cuts/cuts.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { branches, chain, residual, shapeChain } from '../helpers/models.js';

describe('findCuts', () => {
  it('gives bytes as stored and at wire types, and head/tail costs that add up', async () => {
    const g = await analyzeModel(chain(), { batch: 2 });
    const cuts = findCuts(g);
    const r1 = cuts.find((c) => c.id === 'r1')!;
    expect(r1.detail).toEqual([{ name: 'r1', dtype: 'float32', shape: [2, 4, 8, 8], bytes: 2 * 4 * 64 * 4 }]);
    expect(r1.wireBytes).toEqual({ float32: 2048, float16: 1024, int8: 512 });
    const total = cuts[0]!.headCost.macs + cuts[0]!.tailCost.macs;
    for (const c of cuts) expect(c.headCost.macs + c.tailCost.macs).toBe(total);
    expect(r1.headCost.macs).toBe(2 * 4 * 64 * 3 * 9);
  });
});

describe('one numbering', () => {
  it('numbers cuts by their position among cuts of up to 2 tensors, in every narrower, wider or Pareto list', async () => {
    const g = await analyzeModel(branches());
    const numbered = findCuts(g);
    expect(numbered.map((c) => c.index)).toEqual(numbered.map((_, i) => i));
    const indexOf = new Map(numbered.map((c) => [c.id, c.index]));
    const single = findCuts(g, { maxWidth: 1 });
    expect(single.length).toBeGreaterThan(0);
    for (const c of single) expect(c.index).toBe(indexOf.get(c.id));
    const wide = findCuts(g, { maxWidth: 3 });
    expect(wide.filter((c) => c.tensors.length === 3).length).toBeGreaterThan(0);
    for (const c of wide) expect(c.index).toBe(c.tensors.length <= 2 ? indexOf.get(c.id) : -1);
    for (const c of findCuts(g, { maxWidth: 3, pareto: true })) expect(c.index).toBe(c.tensors.length <= 2 ? indexOf.get(c.id) : -1);
  });
});

describe('resolveCut', () => {
  it('accepts an index, a tensor name, or tensors joined by +', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g);
    expect(resolveCut(g, cuts, '1').id).toBe('a');
    expect(resolveCut(g, cuts, 'sum').id).toBe('sum');
    expect(resolveCut(g, cuts, 'm1+a').tensors).toEqual(['a', 'm1']);
  });

  it('gives a cut the same index whatever list it is resolved against', async () => {
    const g = await analyzeModel(residual());
    const narrow = findCuts(g, { maxWidth: 1 });
    const index = findCuts(g).find((c) => c.id === 'a+m1')!.index;
    expect(resolveCut(g, narrow, 'a+m1').index).toBe(index);
    expect(resolveCut(g, narrow, String(index)).id).toBe('a+m1');
    expect(resolveCut(g, [], `#${index}`).id).toBe('a+m1');
    expect(resolveCut(g, [], { tensors: ['m1', 'a'] }).index).toBe(index);
  });

  it('accepts a valid cut wider than the numbered ones, without an index', async () => {
    const g = await analyzeModel(branches());
    const cut = resolveCut(g, findCuts(g), { tensors: ['p2', 'q2', 'r'] });
    expect([cut.index, cut.tensors.length]).toEqual([-1, 3]);
    expect(resolveCut(g, [], 'p2+q2+r').id).toBe(cut.id);
  });

  it('says which cut or tensor is unknown', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g);
    expect(() => resolveCut(g, cuts, '99')).toThrow(/no cut #99: the model has 8 cuts \(0-7\) of up to 2 tensors/);
    expect(() => resolveCut(g, cuts, 'nope')).toThrow(/'nope' is not a tensor of the model/);
    expect(() => resolveCut(g, cuts, 'stem.w')).toThrow(/constant: constants never cross/);
  });

  it('explains a cut that does not separate the graph and suggests the one that does', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g);
    let err: { message: string; hint?: string } | undefined;
    try {
      resolveCut(g, cuts, 'm1');
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.message).toMatch(/'m1' does not separate the graph: the tail also needs 'a' from the head/);
    expect(err?.hint).toMatch(/cut at 'm1\+a' instead/);
    expect(() => resolveCut(g, cuts, 'x')).toThrow(/its head would be empty/);
  });

  it('refuses shape computations as cut tensors', async () => {
    const g = await analyzeModel(shapeChain());
    expect(() => resolveCut(g, findCuts(g), 'target')).toThrow(/constant/);
  });
});

describe('partition', () => {
  it('splits into consecutive stages that pass tensors along', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g);
    const stages = partition(g, [resolveCut(g, cuts, 'a'), resolveCut(g, cuts, 'a+m1'), resolveCut(g, cuts, 'out')]);
    expect(stages.map((s) => [s.inputs, s.outputs])).toEqual([
      [['x'], ['a']],
      [['a'], ['a', 'm1']],
      [['a', 'm1'], ['out']],
      [['out'], ['y']],
    ]);
    expect(stages.map((s) => s.nodes.size).reduce((a, b) => a + b, 0)).toBe(g.nodes.length);
  });

  it('rejects cuts out of order', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g);
    expect(() => partition(g, [resolveCut(g, cuts, 'out'), resolveCut(g, cuts, 'a')])).toThrow(/does not lie after cut 'out'/);
    expect(() => partition(g, [resolveCut(g, cuts, 'a'), resolveCut(g, cuts, 'a')])).toThrow(/does not lie after/);
  });
});
