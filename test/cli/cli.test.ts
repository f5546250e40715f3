/** The `impera` binary as users run it: inspect and split. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLine, expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { saveModel } from '../../src/onnx/io.js';
import { dynamicSequence, PADDLE_OCR, unknownOp, withExternalData, ZOO } from '../helpers/models.js';

describe('impera --help', () => {
  it('lists the commands, and every command has its own help with its options', async () => {
    const top = await impera('--help');
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z0-9-]*) \[options\]/gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(['inspect', 'split', 'grad', 'saliency', 'eval', 'exits', 'plan', 'simulate', 'profile', 'devices', 'serve', 'edge', 'export-triton', 'bench-e2e']));
    const helps = await Promise.all(commands.map((cmd) => impera(cmd, '--help')));
    helps.forEach((r, i) => {
      expect(r.code, commands[i]).toBe(0);
      expect(r.stdout, commands[i]).toMatch(new RegExp(`^Usage: impera ${commands[i]} `));
      expect(r.stdout, commands[i]).toMatch(/--[a-z]/);
    });
    for (const cmd of ['inspect', 'split']) {
      expect(helps[commands.indexOf(cmd)]!.stdout).toMatch(/--input-shape/);
      expect(helps[commands.indexOf(cmd)]!.stdout).toMatch(/--json/);
    }
  });

  it('rejects an unknown option as a usage error', async () => {
    const r = await impera('inspect', '--frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
  });
});

describe('impera inspect', () => {
  it('summarises the built-in example and tables its cuts', async () => {
    const r = await impera('inspect');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/inputs +input float32 \[1, 3, 224, 224\] 602,112 B/);
    expect(r.stdout).toMatch(/compute +299\.\d M MACs/);
    expect(r.stdout).toMatch(/\/1\/features\/features\.16\/Add_output_0 +1×160×7×7 +31,360/);
    // the README's example cut
    expect(r.stdout).toMatch(/\n +39 +\/1\/features\/features\.7\/conv\/conv\.2\/Conv_output_0 +1×64×14×14 +50,176 .* 40\.3%/);
  });

  it('prints JSON for machines', async () => {
    const r = await impera('inspect', join(ZOO, 'vgg16.onnx'), '--json', '--width', '1');
    const out = JSON.parse(r.stdout);
    expect(out.model.inputs[0]).toMatchObject({ name: 'input', bytes: 602112 });
    const last = out.cuts.find((c: { id: string }) => c.id === '/1/features/features.43/MaxPool_output_0');
    expect(last).toMatchObject({ bytes: 100352, wireBytes: { float16: 50176, int8: 25088 } });
    expect(out.cuts.every((c: { tensors: unknown[] }) => c.tensors.length === 1)).toBe(true);
  });

  it('lists per-node costs on request', async () => {
    const r = JSON.parse((await impera('inspect', join(ZOO, 'resnet50.onnx'), '--nodes', '--width', '1', '--json')).stdout);
    const conv1 = r.nodes.find((n: { name: string }) => n.name === '/1/conv1/Conv');
    expect(conv1).toMatchObject({ opType: 'Conv', macs: 64 * 112 * 112 * 3 * 49, known: true });
    expect(r.nodes).toHaveLength(r.model.nodes.runtime);
  });

  it('analyses at the batch asked for', async () => {
    const r = JSON.parse((await impera('inspect', '--batch', '4', '--json', '--width', '1')).stdout);
    expect(r.model.inputs[0].shape).toEqual([4, 3, 224, 224]);
  });

  it('warns about ops of unknown cost and goes on', async () => {
    const dir = tmp();
    saveModel(unknownOp(), join(dir, 'det.onnx'));
    const r = await impera('inspect', join(dir, 'det.onnx'));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: the cost model does not know Det \(1 node\)/);
    expect(r.stdout).toMatch(/nodes of unknown cost/);
  });
});

describe('impera split', () => {
  it('writes head and tail, a manifest, and verifies they compose', async () => {
    const out = tmp();
    const r = await impera('split', '--at', '39', '--out', out, '--verify', '--samples', '4');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verify on the first 4 Fashion-MNIST test images .* parts compose exactly/);
    expect(existsSync(join(out, 'head.onnx')) && existsSync(join(out, 'tail.onnx'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8'));
    expect(manifest.parts.map((p: { name: string }) => p.name)).toEqual(['head', 'tail']);
    expect(manifest.verify.ok).toBe(true);
  });

  it('splits into k stages along several cuts, named by index', async () => {
    const out = tmp();
    const r = await impera('split', '--at', '11,40', '--out', out, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).parts.map((p: { name: string }) => p.name)).toEqual(['stage0', 'stage1', 'stage2']);
  });

  it("keeps a detector's dynamic height and width and verifies the parts at the analysed size and a larger one, or at sizes asked for", async () => {
    const det = join(PADDLE_OCR, 'ch_PP-OCRv4_det_infer.onnx');
    const split = ['split', det, '--input-shape', '1,3,64,64', '--at', 'p2o.Add.27', '--verify'];
    const out = tmp();
    const r = await impera(...split, '--out', out, '--samples', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/optimisations disabled on both sides \(tolerance 1e-5 relative\): parts compose exactly at x 2x3x64x64 and x 2x3x96x96/);
    expect(r.stdout).toMatch(/^ {4}cut p2o\.Add\.27: max \|diff\| 0\.00e\+0 .* relative L2 0\.00e\+0 ok$/m);
    const manifest = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8'));
    expect(manifest.parts[1].dynamicDims).toEqual(['p2o.DynamicDimension.0', 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2']);
    const asked = JSON.parse((await impera(...split, '--out', tmp(), '--samples', '1', '--verify-shapes', '1,3,32,160;1,3,128,64', '--json')).stdout);
    expect(asked.verify.ok).toBe(true);
    expect(asked.verify.reports.map((v: { shapes: { x: number[] } }) => v.shapes.x)).toEqual([
      [1, 3, 32, 160],
      [1, 3, 128, 64],
    ]);
    expectOneLine(await impera(...split, '--out', tmp(), '--verify-shapes', '1,1,64,64'), /dim 1 of input 'x' is fixed at 3 in the exported parts, but the shape to verify at gives 1/);
  });

  it('names the first tensor that differs when parts do not compose within the tolerance, in one line, without asking for a bug report', async () => {
    const rec = join(PADDLE_OCR, 'ch_PP-OCRv4_rec_infer.onnx');
    const r = await impera('split', rec, '--input-shape', '1,3,48,320', '--at', 'p2o.Add.167', '--out', tmp(), '--verify', '--optimization', 'all', '--tolerance', '1e-5');
    expectOneLine(r, /^impera: error: at x 8x3x48x320, the first tensor that differs from the full model is output 'softmax_11\.tmp_0' \(from tail\): max \|diff\| .*, relative L2 .*, over the tolerance 0\.00001 \(ONNX Runtime optimisations all\) \(at this level ONNX Runtime fuses kernels across the cut in the full model only; verify with --optimization disabled/);
    expect(r.stderr).not.toMatch(/report/);
  });
});

describe('bad inputs', () => {
  it('a missing file', () => expectOneLineError(['inspect', '/no/such.onnx'], /model file '\/no\/such\.onnx' does not exist/));

  it('a file that is not ONNX', async () => {
    const f = join(tmp(), 'notes.onnx');
    writeFileSync(f, 'hello, not a model');
    await expectOneLineError(['inspect', f], /is not an ONNX model/);
  });

  it('a truncated ONNX file', async () => {
    const f = join(tmp(), 'half.onnx');
    const whole = readFileSync(join(ZOO, 'mobilenet_v2.onnx'));
    writeFileSync(f, whole.subarray(0, whole.length >> 1));
    await expectOneLineError(['inspect', f], /is truncated or corrupt/);
  });

  it('dynamic dims beyond the batch without --input-shape', async () => {
    const dir = tmp();
    saveModel(dynamicSequence(), join(dir, 'seq.onnx'));
    await expectOneLineError(['inspect', join(dir, 'seq.onnx')], /dynamic dims beyond the batch.*--input-shape tokens=1,N,8/);
    const ok = await impera('inspect', join(dir, 'seq.onnx'), '--input-shape', 'tokens=1,32,8', '--json');
    expect(JSON.parse(ok.stdout).model.outputs[0].shape).toEqual([1, 32, 3]);
  });

  it('an unknown cut name', () => expectOneLineError(['split', '--at', '/no/such/tensor', '--out', tmp()], /'\/no\/such\/tensor' is not a tensor of the model/));

  it('a cut index out of range', () => expectOneLineError(['split', '--at', '5000', '--out', tmp()], /there is no cut #5000/));

  it('a cut that does not separate the graph', () =>
    expectOneLineError(['split', '--at', '/1/features/features.3/conv/conv.0/conv.0.2/Clip_output_0', '--out', tmp()], /does not separate the graph: the tail also needs '\/1\/features\/features\.2\/conv\/conv\.2\/Conv_output_0'/));

  it('a model whose external data lies outside its folder, or past the end of its data file', async () => {
    const root = tmp();
    writeFileSync(join(root, 'secret.txt'), 'top secret '.repeat(1000));
    const dir = join(root, 'model');
    mkdirSync(dir);
    for (const location of ['../secret.txt', join(root, 'secret.txt')]) {
      const model = withExternalData(dir, { location, offset: '0' });
      await expectOneLineError(['inspect', model], /tensor 'c2\.w' keeps its data in '.*secret\.txt', which is outside the model's folder/);
      await expectOneLineError(['split', model, '--at', 'r1', '--out', join(root, 'out')], /which is outside the model's folder/);
    }
    expect(existsSync(join(root, 'out'))).toBe(false);
    const past = withExternalData(dir, { location: 'model.onnx.data', offset: '1000000' });
    await expectOneLineError(['inspect', past], /external data file '.*model\.onnx\.data' ends before tensor 'c2\.w'/);
  });

  it('a non-positive batch or width', async () => {
    await expectOneLineError(['inspect', '--batch', '0'], /--batch must be a positive integer/);
    await expectOneLineError(['inspect', '--width', '-2'], /--width must be a positive integer/);
  });
});
