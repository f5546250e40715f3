/** `impera exits` as users run it: real Fashion-MNIST, real training, the exported head checked against the report. */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../src/data/dataset.js';
import { accuracyOf } from '../../src/exits/train.js';
import { DataType } from '../../src/onnx/dtype.js';
import { createSession, run } from '../../src/ort/session.js';
import { loadModel, saveModel } from '../../src/onnx/io.js';
import { expectOneLine, expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { chain, mapModel } from '../helpers/models.js';
import { labelledPngs } from '../helpers/images.js';

const EXITS = '/1/features/features.10/Add_output_0,91';

describe('impera exits', () => {
  it('trains and calibrates exits, sweeps tau on the test split, and exports a head whose exits reproduce the report', async () => {
    const out = tmp();
    const r = await impera('exits', '--at', EXITS, '--hidden', '32', '--calibrate', '--train-samples', '600', '--val-samples', '150', '--cal-samples', '150', '--test-samples', '200', '--split', '96', '--out', out, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.samples).toEqual({ train: 600, val: 150, cal: 150, test: 200 });
    expect(report.exits.map((e: { cut: string }) => e.cut)).toEqual(['/1/features/features.10/Add_output_0', '/1/features/features.16/Add_output_0']);
    // the late exit alone is a useful classifier after 600 images; the sweep runs over every default tau
    expect(report.exits[1].testAccuracy).toBeGreaterThan(0.75);
    expect(report.sweeps.softmax.calibrated).toHaveLength(11);
    for (const e of report.exits) expect(e.ece.before).toBeGreaterThan(0);
    expect(report.deployment.exits.map((e: { output: string }) => e.output)).toEqual(['exit0.logits', 'exit1.logits']);
    for (const f of ['head.onnx', 'tail.onnx', 'exits.json', 'exits-report.json', 'tradeoff.svg', 'reliability.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'exits.json'), 'utf8'))).toEqual(report.deployment);

    // the exported head, run on the same 200 test images, gives each exit the accuracy the report measured
    const data = openDataset('fashion-mnist');
    const indices = [...Array(200).keys()];
    const head = await createSession(loadModel(join(out, 'head.onnx')).proto, out);
    const res = await run(head, { input: { dtype: DataType.FLOAT, dims: [200, 3, 224, 224], data: data.load(indices, { channels: 3, height: 224, width: 224 }) } });
    const labels = Int32Array.from(indices, (i) => data.label(i));
    report.exits.forEach((e: { testAccuracy: number }, k: number) => expect(accuracyOf(res[`exit${k}.logits`]!.data as Float32Array, labels, 10)).toBeCloseTo(e.testAccuracy, 10));
    expect(res['/1/features/features.17/conv/conv.2/Conv_output_0']!.dims).toEqual([200, 320, 7, 7]);
  });

  it('prints a table with the sweep and the best trade-off', async () => {
    const r = await impera('exits', '--at', '91', '--train-samples', '300', '--val-samples', '100', '--test-samples', '100', '--epochs', '3');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/full model: \d+\.\d % on 100 test images · trained on 300, validated on 100/);
    expect(r.stdout).toMatch(/max-softmax sweep: share leaving at each exit/);
    expect(r.stdout).toMatch(/^ +0\.9 +\d+\.\d +\d+\.\d/m);
  });

  it('finds the POPEX partition between a predicted Raspberry Pi 4 and this machine over Wi-Fi, with the brute-force check', async () => {
    const dir = tmp();
    const here = join(dir, 'here.json');
    const p = await impera('profile', '--cuts', 'none', '--out', here);
    expect(p.code, p.stderr).toBe(0);
    const r = await impera('exits', '--at', '/1/features/features.10/Add_output_0,91', '--calibrate', '--train-samples', '400', '--val-samples', '100', '--cal-samples', '150', '--test-samples', '200', '--popex', '--device', 'raspberry-pi-4', '--server', here, '--link', 'wifi', '--deadline', '50', '--distort', 'blur:3', '--distort-samples', '50', '--json');
    expect(r.code, r.stderr).toBe(0);
    const { popex, robustness, atTau } = JSON.parse(r.stdout);
    expect(popex.best.expectedMs).toBeCloseTo(popex.best.bruteForceMs, 9);
    // with exits the expected time can only improve on the same partition problem without them
    expect(popex.best.expectedMs).toBeLessThanOrEqual(popex.withoutExits.expectedMs + 1e-9);
    expect(popex.exitProbabilities).toHaveLength(2);
    expect(popex.exitProbabilities[0]).toBeCloseTo(atTau.calibrated.rates[0], 12);
    expect(popex.pathMs).toHaveLength(3);
    expect(popex.missedDeadline).toBeGreaterThanOrEqual(0);
    expect(robustness.map((x: { distortion: string }) => x.distortion)).toEqual(['none', 'blur 3']);
    expect(robustness[0].partition.expectedMs).toBeGreaterThan(0);
  });

  it('reads its data through --preprocess: images of another size train exits once resized, and fail without it', async () => {
    const dir = tmp();
    const model = join(dir, 'chain.onnx');
    saveModel(chain(), model);
    const images = join(dir, 'images');
    labelledPngs(images, 10);
    const args = ['exits', model, '--at', 'r1', '--data', images, '--epochs', '2', '--batch-size', '4', '--json'];
    const r = await impera(...args, '--preprocess', 'resize=stretch,size=8x8,scale=1/255');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    // 20 images, 20 % held out for the test: every one was read, at the model's 8x8
    expect(report.samples.test).toBe(4);
    expect(report.samples.train + report.samples.val + (report.samples.cal ?? 0) + report.samples.test).toBe(20);
    expect(report.exits.map((e: { cut: string }) => e.cut)).toEqual(['r1']);
    expectOneLine(await impera(...args), /image '.*img\d+\.png' is 16x16, the model takes 8x8/);
  }, 60_000);

  it('rejects a cut that does not exist, tau outside (0, 1], a fan-out that does not fit, too few samples to calibrate', async () => {
    await expectOneLineError(['exits', '--at', '9999'], /there is no cut #9999: the model has 101 cuts/);
    await expectOneLineError(['exits', '--at', '91', '--tau', '1.5'], /--tau must be in \(0, 1\]/);
    await expectOneLineError(['exits', '--at', '91', '--tau', '0'], /--tau must be in \(0, 1\]/);
    await expectOneLineError(['exits', '--at', '91', '--hidden', '128', '--sparsity', '7,5'], /fan-out 7 does not fit a 160 -> 128 layer.*fan-outs that work: 4, 8, 12, 16/);
    await expectOneLineError(['exits', '--at', '91', '--data', 'examples/fashion-mnist-sample', '--calibrate'], /calibration needs at least 100 samples/);
    await expectOneLineError(['exits', '--at', '12'], /an exit reads one tensor, but cut .* has 2/);
    await expectOneLineError(['exits', '--at', '91,68'], /exits must be distinct and in depth order/);
    await expectOneLineError(['exits', '--at', '91', '--popex', '--link', 'wifi'], /--popex needs --device \(a catalog device such as raspberry-pi-4, this-machine, or a PROFILE.json\)/);
    await expectOneLineError(['exits', '--at', '91', '--split', '68'], /every exit must lie in the head/);
  });

  it("without labels trains the exits on the full model's top-1 (agreement is 1 for the model itself), and on a map output exits that predict the map", async () => {
    const dir = tmp();
    const images = join(dir, 'images');
    labelledPngs(images, 10);
    const flat = join(dir, 'flat');
    mkdirSync(flat);
    for (const cls of readdirSync(images)) for (const f of readdirSync(join(images, cls))) copyFileSync(join(images, cls, f), join(flat, `${cls}-${f}`));
    const [model, map] = [join(dir, 'chain.onnx'), join(dir, 'map.onnx')];
    saveModel(chain(), model);
    saveModel(mapModel(), map);
    const args = ['--data', flat, '--epochs', '2', '--batch-size', '4', '--preprocess', 'resize=stretch,size=8x8,scale=1/255'];
    const r = await impera('exits', model, '--at', 'r1', ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.distilled).toBe(true);
    expect(report.finalAccuracy).toBe(1);
    expect(report.samples.test).toBe(4);
    const text = await impera('exits', model, '--at', 'r1', ...args);
    expect(text.stdout).toMatch(/no labels: the exits learn the full model's top-1 class, and every accuracy below is top-1 agreement with the full model/);
    await expectOneLineError(['exits', model, '--at', 'r1', ...args, '--target', '0.9'], /--target applies to exits on outputs that are not class scores \(maps, sequences, embeddings\)/);
    // a probability map: the exit predicts the map, distilled to the model, judged by map IoU; classifier-only options refused
    const mapArgs = [map, '--at', 'feat', '--data', flat, '--preprocess', 'resize=stretch,size=16x16,scale=1/255', '--epochs', '2', '--batch-size', '4'];
    const exported = join(dir, 'map-exits');
    const m = await impera('exits', ...mapArgs, '--out', exported, '--json');
    expect(m.code, m.stderr).toBe(0);
    // the exit as a standalone model: the cut tensor in, the activated map out
    const exit = await createSession(loadModel(join(exported, 'exit0.onnx')).proto, exported);
    const y = (await run(exit, { 'exit0.map': { dtype: DataType.FLOAT, dims: [2, 4, 16, 16], data: Float32Array.from({ length: 2048 }, (_, i) => (i % 7) / 7) } }))['prediction']!;
    await exit.release();
    expect(y.dims).toEqual([2, 1, 16, 16]);
    const probabilities = [...(y.data as Float32Array)];
    expect(probabilities.every((p) => p >= 0 && p <= 1)).toBe(true);
    expect(new Set(probabilities).size).toBeGreaterThan(1);
    expect(existsSync(join(exported, 'exits-report.json'))).toBe(true);
    const mapReport = JSON.parse(m.stdout);
    expect([mapReport.metric.name, mapReport.exits[0].test.metric, mapReport.output.activation]).toEqual(['map-iou', 'map-iou', 'sigmoid']);
    expect(mapReport.policy.confidence).toBe('mean |2p - 1| over the map');
    const mapText = await impera('exits', ...mapArgs);
    expect(mapText.stdout).toMatch(/metric: map IoU @0\.5 against the full model/);
    expect(mapText.stdout).toMatch(/tau sweep on the test split: share leaving at each exit, map IoU @0\.5 on the samples leaving early and overall/);
    await expectOneLineError(['exits', ...mapArgs, '--calibrate', '--tau', '0.8'], /--tau, --calibrate work on classifier exits, and output 'map' is not class scores \[N, K\] \(drop it: on maps, sequences and embeddings the exits are distilled to the output, judged by its metric, with tau calibrated to --target\)/);
  }, 60_000);
});
