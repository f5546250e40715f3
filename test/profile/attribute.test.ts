import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { syntheticFeeds } from '../../src/graph/probe.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { attributeKernels, shareFusedTime, type NodeTime, type OptimizedNode } from '../../src/profile/attribute.js';
import { TracedSession } from '../../src/profile/kernels.js';
import { kernelTimes, type KernelTime } from '../../src/profile/trace.js';
import { residual, weights } from '../helpers/models.js';

const NCHWC = 'com.microsoft.nchwc';

/** x -> Conv c1 -> Relu r1 -> Conv c2 -> Add(c2, r1) -> Relu r2 -> GAP -> Flatten -> Gemm, node names = outputs. */
async function block(): Promise<Graph> {
  const b = new ModelBuilder();
  b.input('x', 'float32', [1, 8, 6, 6]);
  const conv = (x: string, name: string, seed: number) => b.op('Conv', [x, weights(b, `${name}.w`, [8, 8, 3, 3], seed)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name, output: name });
  const r1 = b.op('Relu', [conv('x', 'c1', 1)], {}, { name: 'r1', output: 'r1' });
  const add = b.op('Add', [conv(r1, 'c2', 2), r1], {}, { name: 'add', output: 'add' });
  const r2 = b.op('Relu', [add], {}, { name: 'r2', output: 'r2' });
  const gap = b.op('GlobalAveragePool', [r2], {}, { name: 'gap', output: 'gap' });
  const flat = b.op('Flatten', [gap], {}, { name: 'flat', output: 'flat' });
  b.op('Gemm', [flat, weights(b, 'fc.w', [3, 8], 3)], { transB: 1 }, { name: 'fc', output: 'y' });
  b.output('y', 'float32', [1, 3]);
  return analyzeModel(inMemoryModel(b.build(), 'block'), { batch: 1 });
}

const kernel = (name: string, opType: string, ms: number): KernelTime => ({ name, opType, ms });
const byName = (nodes: readonly NodeTime[]) => new Map(nodes.map((n) => [n.name, n]));

describe('mapping ORT kernels back to ONNX nodes', () => {
  // The graph as ORT's NCHWc transformer rewrites it: Conv+Relu fused and named after the Relu's output, the
  // residual Add and Relu fused into the second Conv, layout conversions inserted, Gemm fused with a prefix.
  const optimized: OptimizedNode[] = [
    { name: 'ReorderInput', opType: 'ReorderInput', domain: NCHWC, inputs: ['x'], outputs: ['t0'] },
    { name: 'r1_nchwc', opType: 'Conv', domain: NCHWC, inputs: ['t0', 'w1'], outputs: ['t1'] },
    { name: 'c2_nchwc', opType: 'Conv', domain: NCHWC, inputs: ['t1', 'w2', 'b2', 't1'], outputs: ['t2'] },
    { name: 'gap_nchwc', opType: 'GlobalAveragePool', domain: NCHWC, inputs: ['t2'], outputs: ['t3'] },
    { name: 'ReorderOutput', opType: 'ReorderOutput', domain: NCHWC, inputs: ['t3'], outputs: ['gap'] },
    { name: 'flat', opType: 'Flatten', domain: '', inputs: ['gap'], outputs: ['flat'] },
    { name: 'fused fc', opType: 'FusedGemm', domain: '', inputs: ['flat', 'fc.w'], outputs: ['y'] },
  ];
  const kernels = [kernel('ReorderInput', 'ReorderInput', 0.01), kernel('r1_nchwc', 'Conv', 1), kernel('c2_nchwc', 'Conv', 2), kernel('gap_nchwc', 'GlobalAveragePool', 0.05), kernel('ReorderOutput', 'ReorderOutput', 0.02), kernel('flat', 'Flatten', 0.001), kernel('fused fc', 'FusedGemm', 0.03)];

  it('gives each kernel to the node it computes, and fused nodes to their anchor', async () => {
    const a = attributeKernels(await block(), optimized, kernels);
    const n = byName(a.nodes);
    expect(a.unmatched).toEqual([]);
    expect(n.get('c1')).toMatchObject({ ms: 1.01, kernels: ['ReorderInput', 'r1_nchwc'] }); // named after r1's output: walks up to the Conv
    expect(n.get('r1')).toMatchObject({ ms: 0, fusedInto: 'c1' });
    expect(n.get('c2')).toMatchObject({ ms: 2, kernels: ['c2_nchwc'] });
    expect(n.get('add')).toMatchObject({ ms: 0, fusedInto: 'c2' });
    expect(n.get('r2')).toMatchObject({ ms: 0, fusedInto: 'c2' });
    expect(n.get('gap')).toMatchObject({ ms: 0.07, kernels: ['gap_nchwc', 'ReorderOutput'] }); // the ReorderOutput drains it
    expect(n.get('fc')).toMatchObject({ ms: 0.03, kernels: ['fused fc'] });
    const total = kernels.reduce((s, k) => s + k.ms, 0);
    expect(a.nodes.reduce((s, x) => s + x.ms, 0)).toBeCloseTo(total, 12);
  });

  it('lists the tensors ORT keeps in its blocked layout: written inside NCHWc kernels and never materialised', async () => {
    const a = attributeKernels(await block(), optimized, kernels);
    expect(a.blocked.sort()).toEqual(['add', 'c1', 'c2', 'r1', 'r2']);
  });

  it('reports kernels that no name or data flow ties to a node', async () => {
    const a = attributeKernels(await block(), optimized, [...kernels, kernel('ghost', 'Conv', 0.5)]);
    expect(a.unmatched).toEqual([kernel('ghost', 'Conv', 0.5)]);
  });

  it('moves a fused node its standalone time out of the anchor, leaving the anchor at least half', () => {
    const nodes: NodeTime[] = [
      { index: 0, name: 'conv', opType: 'Conv', ms: 1, kernels: ['k'] },
      { index: 1, name: 'relu', opType: 'Relu', ms: 0, fusedInto: 'conv', kernels: [] },
      { index: 2, name: 'conv2', opType: 'Conv', ms: 0.1, kernels: ['k2'] },
      { index: 3, name: 'clip', opType: 'Clip', ms: 0, fusedInto: 'conv2', kernels: [] },
    ];
    const shared = byName(shareFusedTime(nodes, new Map([[1, 0.2], [3, 0.3]])));
    expect(shared.get('conv')!.ms).toBeCloseTo(0.8, 12);
    expect(shared.get('relu')!.ms).toBeCloseTo(0.2, 12);
    expect(shared.get('conv2')!.ms).toBeCloseTo(0.05, 12);
    expect(shared.get('clip')!.ms).toBeCloseTo(0.05, 12);
  });

  it('maps the trace of a real ORT run completely, on a residual block', async () => {
    const g = await analyzeModel(residual(), { batch: 1 });
    const session = await TracedSession.open(g.proto, '', syntheticFeeds(g.inputShapes), { threads: 1, optimizedGraph: true });
    for (let i = 0; i < 3; i++) await session.run();
    const trace = await session.finish();
    const times = kernelTimes(trace);
    const a = attributeKernels(g, session.optimized!, times);
    expect(a.unmatched).toEqual([]);
    expect(a.nodes.reduce((s, n) => s + n.ms, 0)).toBeCloseTo(times.reduce((s, k) => s + k.ms, 0), 9);
    // every Relu runs inside the Conv before it, and the residual Add inside the last Conv
    const n = byName(a.nodes);
    for (const relu of a.nodes.filter((x) => x.opType === 'Relu')) expect(g.nodes.find((x) => x.name === relu.fusedInto)?.opType).toBe('Conv');
    expect(n.get(a.nodes.find((x) => x.opType === 'Add')!.name)!.fusedInto).toBeDefined();
    expect(a.nodes.filter((x) => x.opType === 'Conv').every((c) => c.ms > 0 && c.fusedInto === undefined)).toBe(true);
  });
});
