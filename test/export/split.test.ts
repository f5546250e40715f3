import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import { splitModel, writeParts } from '../../src/export/split.js';
import { verifyParts } from '../../src/export/verify.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { syntheticFeeds } from '../../src/graph/probe.js';
import { declaredShape } from '../../src/graph/input-shapes.js';
import { loadModel, saveModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';
import { branches, chain, fcn, multiIO, PADDLE_OCR, pooledShape, residual, shapeChain, spatialShapes } from '../helpers/models.js';
import type { OnnxModel } from '../../src/onnx/io.js';
import type { Graph } from '../../src/graph/graph.js';
import type { ExportedPart } from '../../src/export/extract.js';

const feedsAt = (g: Awaited<ReturnType<typeof analyzeModel>>, batch: number) =>
  syntheticFeeds(new Map([...g.inputShapes].map(([k, v]) => [k, { ...v, shape: [batch, ...v.shape.slice(1)] }])), 7);

async function everyCutComposes(model: OnnxModel, width: number, batch = 3) {
  const g = await analyzeModel(model);
  for (const cut of findCuts(g, { maxWidth: width })) {
    const { parts } = splitModel(g, [cut]);
    const report = await verifyParts(g, parts, feedsAt(g, batch));
    expect(report.ok, `cut ${cut.id}: ${JSON.stringify(report.outputs)}`).toBe(true);
    expect(parts.every((p) => p.dynamicBatch)).toBe(true);
  }
}

describe('splitModel', () => {
  it('exports parts that compose exactly at every cut of a chain, a residual block and a 3-branch module', async () => {
    await everyCutComposes(chain(), 1);
    await everyCutComposes(residual(), 2);
    await everyCutComposes(branches(), 3);
  });

  it('keeps only the initializers each part needs, and the IR version and opsets', async () => {
    const g = await analyzeModel(chain());
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g), 'r1')]);
    const inits = parts.map((p) => p.proto.graph!.initializer!.map((t) => t.name).sort());
    expect(inits).toEqual([['c1.b', 'c1.w'], ['c2.b', 'c2.w', 'fc.b', 'fc.w']]);
    for (const p of parts) {
      expect(p.proto.irVersion).toBe(g.proto.irVersion);
      expect(p.proto.opsetImport).toEqual(g.proto.opsetImport);
    }
    expect(parts[0]!.proto.graph!.output!.map((o) => [o.name, declaredShape(o)])).toEqual([['r1', ['batch', 4, 8, 8]]]);
  });

  it('gives a weight shared across the cut to both parts, and delivers head outputs from the head', async () => {
    const g = await analyzeModel(multiIO());
    const cuts = findCuts(g, { maxWidth: 3 });
    const shared = splitModel(g, [resolveCut(g, cuts, 'c+h1')]).parts;
    expect(shared.map((p) => p.proto.graph!.initializer!.map((t) => t.name))).toEqual([['w'], ['w']]);
    expect((await verifyParts(g, shared, feedsAt(g, 4))).ok).toBe(true);
    const { parts } = splitModel(g, [resolveCut(g, cuts, 'c+h2')]);
    expect(parts[0]!.outputs).toEqual(['c', 'h2', 'early']);
    expect(parts[1]!.outputs).toEqual(['final']);
    const report = await verifyParts(g, parts, feedsAt(g, 4));
    expect(report.outputs.map((o) => o.name).sort()).toEqual(['early', 'final']);
    expect(report.ok).toBe(true);
  });

  it('rebuilds a shape computation from the tail input so the tail runs at any batch', async () => {
    const g = await analyzeModel(shapeChain());
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g), 't')]);
    const tail = parts[1]!;
    expect(tail.dynamicBatch).toBe(true);
    expect(tail.proto.graph!.node!.map((n) => n.opType)).toContain('Shape');
    for (const batch of [1, 5]) expect((await verifyParts(g, parts, feedsAt(g, batch))).ok).toBe(true);
  });

  it('exports a model with a fixed batch with fixed dims and verifies it batch by batch', async () => {
    const g = await analyzeModel(chain(2));
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g), 'r1')]);
    expect(parts.every((p) => !p.dynamicBatch)).toBe(true);
    expect(declaredShape(parts[1]!.proto.graph!.input![0]!)).toEqual([2, 4, 8, 8]);
    const report = await verifyParts(g, parts, feedsAt(g, 7));
    expect(report.samples).toBe(6);
    expect(report.ok).toBe(true);
  });

  it('splits into k stages that compose', async () => {
    const g = await analyzeModel(residual());
    const cuts = findCuts(g);
    const { parts } = splitModel(g, ['a', 'a+m1', 'out'].map((c) => resolveCut(g, cuts, c)));
    expect(parts.map((p) => p.name)).toEqual(['stage0', 'stage1', 'stage2', 'stage3']);
    expect((await verifyParts(g, parts, feedsAt(g, 2))).ok).toBe(true);
  });

  it('writes standalone part files, also from a model with external data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-split-'));
    saveModel(chain(), join(dir, 'm.onnx'), { externalData: { minBytes: 16 } });
    const g = await analyzeModel(loadModel(join(dir, 'm.onnx')));
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g), 'c2')]);
    const out = join(dir, 'parts');
    const files = writeParts(g, parts, out);
    expect(existsSync(join(out, 'head.onnx.data'))).toBe(false);
    const head = loadModel(files[0]!);
    const session = await createSession(head.proto, head.dir);
    const result = await run(session, feedsAt(g, 2));
    await session.release();
    expect(result.c2!.dims).toEqual([2, 4, 8, 8]);
  });
});

/** Seeded inputs of a shape other than the analysed one. */
const feedsOf = (shape: number[]) => syntheticFeeds(new Map([['x', { dtype: 1, shape }]]), 7);

/** The parts, run in ONNX Runtime at `shape`, give the full model's outputs bit for bit (optimisations off on both sides). */
async function composesAt(g: Graph, parts: readonly ExportedPart[], shape: number[]) {
  const report = await verifyParts(g, parts, feedsOf(shape));
  expect(report.shapes).toEqual({ x: shape });
  expect(report.ok, JSON.stringify(report.checks)).toBe(true);
  for (const c of report.checks) expect(c.maxAbsDiff, c.name).toBe(0);
}

const addedOps = (p: ExportedPart) => p.proto.graph!.node!.filter((n) => n.name!.startsWith('impera/')).map((n) => n.opType);

describe('splitModel on models with dynamic height and width', () => {
  it('keeps H and W dynamic in every part of a fully convolutional net: analysed at 8x12, the parts compose at 16x20', async () => {
    const g = await analyzeModel(fcn(), { inputShapes: { x: [1, 2, 8, 12] } });
    for (const cut of findCuts(g, { maxWidth: 2 })) {
      const { parts } = splitModel(g, [cut]);
      expect(parts.map((p) => p.dynamicDims)).toEqual([['batch', 'H', 'W'], ['batch', 'H', 'W']]);
      await composesAt(g, parts, [3, 2, 16, 20]);
    }
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g, { maxWidth: 2 }), 'r2+r1')]);
    expect(parts[1]!.proto.graph!.input!.map((v) => [v.name, declaredShape(v)])).toEqual([
      ['r1', ['batch', 4, 'H', 'W']],
      ['r2', ['batch', 4, 'H/2', 'W/2']],
    ]);
  });

  it("rebuilds Shape() of a head tensor in the tail from the tail's own input dims: the same dim, or twice it", async () => {
    const g = await analyzeModel(spatialShapes(), { inputShapes: { x: [1, 2, 8, 8] } });
    const cuts = findCuts(g);
    const atR = splitModel(g, [resolveCut(g, cuts, 'r')]).parts;
    expect(addedOps(atR[1]!)).not.toContain('Mul');
    expect(addedOps(atR[1]!)).toEqual(expect.arrayContaining(['Shape', 'Gather']));
    const atP = splitModel(g, [resolveCut(g, cuts, 'p')]).parts;
    expect(addedOps(atP[1]!).filter((op) => op === 'Mul')).toHaveLength(2); // H and W from p's half-size dims
    for (const parts of [atR, atP]) {
      expect(parts.every((p) => p.dynamicDims.join() === 'batch,H,W')).toBe(true);
      await composesAt(g, parts, [1, 2, 8, 8]);
      await composesAt(g, parts, [2, 2, 12, 20]);
    }
  });

  it('fixes H and W in every part when one part cannot follow them (a shape read after a global pool)', async () => {
    const g = await analyzeModel(pooledShape(), { inputShapes: { x: [1, 2, 8, 8] } });
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g), 'pooled')]);
    expect(parts.map((p) => p.dynamicDims)).toEqual([['batch'], ['batch']]);
    expect(declaredShape(parts[0]!.proto.graph!.input![0]!)).toEqual(['batch', 2, 8, 8]);
    await composesAt(g, parts, [3, 2, 8, 8]);
  });

  it('exports PaddleOCR v4 detector parts analysed at 64x64 that compose to its probability map at 96x128', async () => {
    const g = await analyzeModel(loadModel(join(PADDLE_OCR, 'ch_PP-OCRv4_det_infer.onnx')), { inputShapes: { x: [1, 3, 64, 64] } });
    const [n, h, w] = ['p2o.DynamicDimension.0', 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'];
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g, { maxWidth: 1 }), 'p2o.Add.27')]);
    expect(parts.every((p) => p.dynamicDims.join() === [n, h, w].join())).toBe(true);
    expect(declaredShape(parts[1]!.proto.graph!.input![0]!)).toEqual([n, 48, `${h}/4`, `${w}/4`]);
    await composesAt(g, parts, [1, 3, 96, 128]);
  });

  it('exports PaddleOCR v4 recognizer parts analysed at width 64 whose tail rebuilds its attention reshapes and runs at width 200', async () => {
    const g = await analyzeModel(loadModel(join(PADDLE_OCR, 'ch_PP-OCRv4_rec_infer.onnx')), { inputShapes: { x: [1, 3, 48, 64] } });
    const { parts } = splitModel(g, [resolveCut(g, findCuts(g, { maxWidth: 2 }), 'p2o.AveragePool.1+p2o.Add.251')]);
    expect(parts.every((p) => p.dynamicDims.join() === 'p2o.DynamicDimension.0,p2o.DynamicDimension.1')).toBe(true);
    expect(addedOps(parts[1]!)).toContain('Shape');
    await composesAt(g, parts, [2, 3, 48, 200]);
  });
});
