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
import { branches, chain, multiIO, residual, shapeChain } from '../helpers/models.js';
import type { OnnxModel } from '../../src/onnx/io.js';

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
