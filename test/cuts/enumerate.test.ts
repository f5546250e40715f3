import { describe, expect, it } from 'vitest';
import { enumerateCuts } from '../../src/cuts/enumerate.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes, type Graph } from '../../src/graph/graph.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { modelSummary } from '../../src/cost/summary.js';
import { branches, chain, multiIO, randomDag, residual, shapeChain, weights } from '../helpers/models.js';

const keys = (cuts: { tensors: string[] }[]) => cuts.map((c) => [...c.tensors].sort().join('+'));

describe('enumerateCuts', () => {
  it('finds every intermediate tensor of a chain, in order', async () => {
    const cuts = enumerateCuts(await analyzeModel(chain()));
    expect(cuts.map((c) => c.tensors.join('+'))).toEqual(['c1', 'r1', 'c2', 'r2', 'gap', 'flat']);
  });

  it('finds branch + skip pairs inside a residual block, and no single cut there', async () => {
    const cuts = keys(enumerateCuts(await analyzeModel(residual())));
    expect(cuts).toEqual(['stem', 'a', 'a+b1', 'a+m1', 'a+b2', 'sum', 'out', 'gap']);
  });

  it('needs three tensors inside a three-branch module', async () => {
    const g = await analyzeModel(branches());
    const w2 = keys(enumerateCuts(g, { maxWidth: 2 }));
    const w3 = keys(enumerateCuts(g, { maxWidth: 3 }));
    expect(w2).not.toContain('p2+q2+r');
    expect(w3).toContain('p2+q2+r');
    expect(w3).toContain('p1+q1r+s'); // two branches started, the stem still feeding the third
    expect(w3.filter((k) => !k.includes('+'))).toEqual(['stem', 's', 'cat']);
  });

  it('never lets a constant or a shape computation cross', async () => {
    const cuts = enumerateCuts(await analyzeModel(shapeChain()));
    expect(keys(cuts)).toEqual(['h', 't', 'r']);
  });

  it('runs nothing per inference whose value only feeds a Shape: it neither runs nor holds a cut open', async () => {
    // as in PyTorch's attention: a tensor computed beside the main path and only measured, its shape a constant
    const b = new ModelBuilder();
    b.input('x', 'float32', ['batch', 6, 4]);
    const h = b.op('MatMul', ['x', weights(b, 'w1', [4, 4], 1)], {}, { output: 'h' });
    const side = b.op('Neg', ['x'], {}, { output: 'side' });
    const rows = b.op('Gather', [b.op('Shape', [side], {}, { output: 'side_shape' }), b.constantNode('int64', [1], [1])], { axis: 0 }, { output: 'rows' });
    const target = b.op('Concat', [b.constantNode('int64', [1], [-1]), rows, b.constantNode('int64', [1], [4])], { axis: 0 }, { output: 'target' });
    b.op('Reshape', [b.op('Tanh', [h], {}, { output: 't' }), target], {}, { output: 'y' });
    b.output('y', 'float32', ['batch', 6, 4]);
    const g = await analyzeModel(inMemoryModel(b.build(), 'measured-side'));
    expect(runtimeNodes(g).map((i) => g.nodes[i]!.opType)).toEqual(['MatMul', 'Tanh', 'Reshape']);
    expect(keys(enumerateCuts(g))).toEqual(['h', 't']);
    expect(modelSummary(g).nodes).toMatchObject({ runtime: 3, dead: 1 });
  });

  it('sends a second input the tail reads; the head delivers graph outputs the cut depends on', async () => {
    const cuts = enumerateCuts(await analyzeModel(multiIO()), { maxWidth: 3 });
    expect(keys(cuts)).toEqual(['c+m1', 'c+h1', 'c+early+h1', 'c+h1+m2', 'c+h2']);
    expect(cuts.map((c) => c.headOutputs)).toEqual([[], [], ['early'], ['early'], ['early']]);
  });
});

/** Every set S of up to `width` data tensors whose head anc(S) needs nothing but S to be finished. */
function bruteForce(g: Graph, width: number): string[] {
  const run = new Set(runtimeNodes(g));
  const data = [...g.inputs.map((v) => v.name!), ...[...run].flatMap((n) => g.nodes[n]!.outputs)].filter((t) => g.tensors.get(t)!.consumers.some((c) => run.has(c)));
  const anc = (t: string, into: Set<number>) => {
    const p = g.tensors.get(t)!.producer;
    if (p < 0 || into.has(p)) return;
    into.add(p);
    for (const r of g.nodes[p]!.reads) anc(r, into);
  };
  const found: string[] = [];
  const visit = (start: number, chosen: string[]) => {
    if (chosen.length) {
      const head = new Set<number>();
      for (const t of chosen) anc(t, head);
      const frontier = new Set<string>();
      for (const n of run) if (!head.has(n)) for (const r of g.nodes[n]!.reads) {
        const p = g.tensors.get(r)!.producer;
        if (!g.tensors.get(r)!.isStatic && (p < 0 || head.has(p))) frontier.add(r);
      }
      if (head.size > 0 && head.size < run.size && frontier.size === chosen.length && chosen.every((t) => frontier.has(t))) found.push([...chosen].sort().join('+'));
    }
    if (chosen.length === width) return;
    for (let i = start; i < data.length; i++) visit(i + 1, [...chosen, data[i]!]);
  };
  visit(0, []);
  return found.sort();
}

describe('enumerateCuts equals brute force on random DAGs', () => {
  for (let seed = 1; seed <= Number(process.env.CUT_SEEDS ?? 40); seed++) {
    const width = 1 + (seed % 3);
    it(`DAG #${seed}, width ${width}`, async () => {
      const g = await analyzeModel(randomDag(seed, 6 + (seed % 7), 1 + (seed % 2)));
      const got = keys(enumerateCuts(g, { maxWidth: width })).sort();
      const want = bruteForce(g, width);
      if (process.env.DEBUG_CUTS) console.log(JSON.stringify({ extra: got.filter((k) => !want.includes(k)), missing: want.filter((k) => !got.includes(k)), nodes: g.nodes.map((n) => `${n.opType}(${n.inputs})->${n.outputs}`) }));
      expect(got).toEqual(want);
    });
  }
});
