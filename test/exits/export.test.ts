import { describe, expect, it } from 'vitest';
import { findCuts, resolveCut } from '../../src/cuts/cuts.js';
import { branchModel, initParams, makeBranch } from '../../src/exits/branch.js';
import type { TrainedExit } from '../../src/exits/pipeline.js';
import { attachExits, describeExits, exitOutput } from '../../src/exits/export.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { syntheticFeeds } from '../../src/graph/probe.js';
import { valueInfo } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { onnx } from '../../src/onnx/proto.js';
import { createSession, run } from '../../src/ort/session.js';
import { residual } from '../helpers/models.js';

describe('exporting exits', async () => {
  const g = await analyzeModel(residual());
  const cuts = findCuts(g, { maxWidth: 2 });
  const feeds = syntheticFeeds(new Map([...g.inputShapes].map(([k, v]) => [k, { ...v, shape: [3, ...v.shape.slice(1)] }])), 5);
  const exitAt = (spec: string, kind: 'linear' | 'conv', k: number, temperature: number): TrainedExit => {
    const cut = resolveCut(g, cuts, spec);
    const branch = makeBranch({ kind, hidden: kind === 'conv' ? 4 : 3 }, `exit${k}`, cut.detail[0]!.shape, 4, k + 1);
    return { cut, tensor: cut.tensors[0]!, branch, values: initParams(branch, k + 7), temperature };
  };
  const exits = [exitAt('a', 'linear', 0, 2), exitAt('sum', 'conv', 1, 0.5)];

  /** The reference: the model's exit tensors, pooled in JavaScript for the linear exit, through each branch alone, / T. */
  async function reference(): Promise<Float32Array[]> {
    const graph = g.proto.graph!;
    const probe = onnx.ModelProto.create({ ...g.proto, graph: { ...graph, output: exits.map((e) => valueInfo(e.tensor, DataType.FLOAT)) } });
    const session = await createSession(probe, g.model.dir);
    const acts = await run(session, feeds);
    const out: Float32Array[] = [];
    for (const e of exits) {
      const a = acts[e.tensor]!;
      const [n, c] = a.dims as [number, number];
      const hw = a.data.length / n / c;
      const input = e.branch.spec.kind === 'conv' ? (a.data as Float32Array) : Float32Array.from({ length: n * c }, (_, i) => (a.data as Float32Array).subarray(i * hw, (i + 1) * hw).reduce((s, v) => s + v, 0) / hw);
      const bs = await createSession(branchModel(e.branch), '.');
      const weights = Object.fromEntries(e.branch.params.map((p) => [p.name, { dtype: DataType.FLOAT, dims: p.shape, data: e.values.get(p.name)! }]));
      const r = await run(bs, { ...weights, [e.branch.input.name]: { dtype: DataType.FLOAT, dims: e.branch.spec.kind === 'conv' ? a.dims : [n, c], data: input } });
      out.push((r.logits!.data as Float32Array).map((v) => v / e.temperature));
    }
    return out;
  }

  it('adds each exit’s temperature-scaled logits to the model, equal to the branch run alone', async () => {
    const part = attachExits(g, { ...splitModel(g, []).parts[0]!, name: 'model' }, exits);
    expect(part.outputs.slice(-2)).toEqual([exitOutput(0), exitOutput(1)]);
    const out = await run(await createSession(part.proto, g.model.dir), feeds);
    const ref = await reference();
    exits.forEach((_, k) => [...(out[exitOutput(k)]!.data as Float32Array)].forEach((v, i) => expect(v).toBeCloseTo(ref[k]![i]!, 5)));
  });

  it('adds exits to a head, which keeps sending the cut tensor; an exit past the cut is refused', async () => {
    const { parts } = splitModel(g, [resolveCut(g, cuts, 'out')]);
    const head = attachExits(g, parts[0]!, exits);
    const out = await run(await createSession(head.proto, g.model.dir), feeds);
    expect(Object.keys(out).sort()).toEqual(['exit0.logits', 'exit1.logits', 'out']);
    const early = splitModel(g, [resolveCut(g, cuts, 'a')]).parts[0]!;
    expect(() => attachExits(g, early, exits)).toThrow(/exit at 'sum' is not computed in head/);
  });

  it('describes the policy for the runtime', () => {
    expect(describeExits(exits, { kind: 'softmax', thresholds: [0.8, 0.9] })).toEqual({
      policy: 'softmax',
      classes: 4,
      exits: [
        { output: 'exit0.logits', cut: 'a', tensor: 'a', threshold: 0.8, temperature: 2 },
        { output: 'exit1.logits', cut: 'sum', tensor: 'sum', threshold: 0.9, temperature: 0.5 },
      ],
    });
  });

  it('refuses to describe a policy the runner could not apply', () => {
    expect(() => describeExits(exits, { kind: 'softmax', thresholds: [0.8] })).toThrow(/1 thresholds for 2 exits/);
    expect(() => describeExits(exits, { kind: 'softmax', thresholds: [0.8, 1.5] })).toThrow(/tau 1.5 is outside \(0, 1\]/);
  });
});
