/** `impera serve`, `impera edge`, `impera export-triton` and `impera bench-e2e` as users run them. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { BIN, expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { MALFORMED_ANSWERS, malformedServer, serve, splitRepo, switchingRepo } from '../helpers/runtime.js';
import { hugeInput, mapModel, withExternalData } from '../helpers/models.js';
import { saveModel } from '../../src/onnx/io.js';

describe('impera serve and impera edge', () => {
  it('edge --switching runs the switching plan, naming each frame\'s option and the switches, and takes one of --config and --switching', async () => {
    const { dir } = await switchingRepo(1000);
    const server = await serve({ dir: join(dir, 'server') } as Parameters<typeof serve>[0]);
    try {
      const plan = join(dir, 'switching.json');
      const r = await impera('edge', '--switching', plan, '--server-url', server.url, '--source', 'synthetic', '--frames', '3', '--json');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.frames.map((f: { outcome: string; option: string }) => [f.outcome, f.option])).toEqual([['server', 'c0'], ['server', 'c0'], ['server', 'c0']]);
      expect(out.switches).toEqual([]);
      const human = await impera('edge', '--switching', plan, '--server-url', server.url, '--source', 'synthetic', '--frames', '2');
      expect(human.stdout).toMatch(/2 results out: server 2[\s\S]*no switch/);
      await expectOneLineError(['edge', '--source', 'synthetic', '--frames', '1'], /give one of --config \(one configuration\) and --switching \(an adaptive edge\)/);
    } finally {
      await server.close();
    }
  });

  it('serve a split and run frames through it, printing every result as JSON', async () => {
    const repo = await splitRepo();
    const server = spawn('node', [BIN, 'serve', '--model-repo', repo.dir, '--port', '0', '--json', '--threads', '1', '--token', 'cli-token'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const ready = JSON.parse(await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once('line', resolve)));
      expect(ready.models.map((m: { name: string }) => m.name)).toEqual(['head', 'tail']);
      const config = join(repo.dir, 'edge.yaml');
      writeFileSync(config, `format: impera-runtime/1\nhead: head.onnx\ntail: tail.onnx\nserver:\n  url: ${ready.url}\n  model: tail\n  token: cli-token\n`);
      const r = await impera('edge', '--config', config, '--source', 'synthetic', '--frames', '3', '--json');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.frames.map((f: { outcome: string }) => f.outcome)).toEqual(['server', 'server', 'server']);
      expect(out.summary).toMatchObject({ framesIn: 3, resultsOut: 3 });
      const human = await impera('edge', '--config', config, '--source', 'synthetic', '--frames', '2');
      expect(human.stdout).toMatch(/2 frames in from synthetic frames.*2 results out: server 2/);
      expect(human.stdout).toMatch(/serverCompute/);
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('edge gives every frame a result when the server answers 200 with something that is not a result', async () => {
    const repo = await splitRepo();
    const stub = await malformedServer();
    try {
      const config = join(repo.dir, 'edge.yaml');
      writeFileSync(config, `format: impera-runtime/1\nhead: head.onnx\ntail: tail.onnx\nserver:\n  url: ${stub.url}\n  model: tail\n`);
      const count = MALFORMED_ANSWERS.length;
      const r = await impera('edge', '--config', config, '--source', 'synthetic', '--frames', String(count), '--json');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.frames.map((f: { outcome: string }) => f.outcome)).toEqual(Array(count).fill('local'));
      expect(out.summary).toMatchObject({ framesIn: count, resultsOut: count });
    } finally {
      stub.close();
    }
  });

  it('edge on a probability map: one .npy per frame and output, map IoU against the full model, no accuracy', async () => {
    const repo = await splitRepo('int8', mapModel(), 'feat');
    const server = await serve(repo);
    try {
      saveModel(mapModel(), join(repo.dir, 'full.onnx'));
      const config = join(repo.dir, 'edge.yaml');
      writeFileSync(config, `format: impera-runtime/1\nhead: head.onnx\ntail: tail.onnx\ncodec: codec.json\nserver:\n  url: ${server.url}\n  model: tail\n`);
      const saved = join(tmp(), 'outputs');
      const r = await impera('edge', '--config', config, '--source', 'synthetic', '--frames', '3', '--save-outputs', saved, '--reference', join(repo.dir, 'full.onnx'), '--json');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.frames.every((f: { outcome: string; prediction?: number }) => f.outcome === 'server' && f.prediction === undefined)).toBe(true);
      expect(out.summary.quality).toMatchObject({ metric: 'map-iou', samples: 3, against: 'the full model run here on the same frames' });
      expect(readdirSync(saved).sort()).toEqual(['000000', '000001', '000002'].flatMap((n) => [`frame-${n}.map.npy`, `frame-${n}.score.npy`]));
      const human = await impera('edge', '--config', config, '--source', 'synthetic', '--frames', '2');
      expect(human.stdout).toMatch(/quality: map IoU .* compares the outputs with the full model's: give --reference FULL\.onnx to measure it/);
      expect(human.stdout).not.toMatch(/accuracy/);
      await expectOneLineError(['edge', '--config', config, '--source', 'synthetic', '--frames', '1', '--metric', 'accuracy'], /accuracy does not fit 'map' \[1, 1, 16, 16\]/);
    } finally {
      await server.close();
    }
  });

  it('explain what is wrong in one line', async () => {
    const dir = tmp();
    await expectOneLineError(['serve', '--model-repo', join(dir, 'nope')], /model repository '.*nope' is not a folder/);
    await expectOneLineError(['serve', '--model-repo', dir], /holds no models/);
    await expectOneLineError(['serve', '--model-repo', dir, '--tls-cert', 'c.pem'], /--tls-cert and --tls-key go together/);
    await expectOneLineError(['serve', '--model-repo', dir, '--body-limit', 'lots'], /--body-limit must be a size like 32MB/);
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    withExternalData(outside, { location: '../secret.txt', offset: '0' }, 'tail.onnx');
    writeFileSync(join(dir, 'secret.txt'), 'top secret '.repeat(1000));
    await expectOneLineError(['serve', '--model-repo', outside], /keeps its data in '\.\.\/secret\.txt', which is outside the model's folder/);
    const huge = join(dir, 'huge');
    mkdirSync(huge);
    saveModel(hugeInput(), join(huge, 'huge.onnx'));
    await expectOneLineError(['serve', '--model-repo', huge], /input 'x' declares shape \[-1, 1000000, 1000000\], 4000000000000 bytes per sample, more than a tensor can hold/);
    await expectOneLineError(['edge', '--config', join(dir, 'missing.yaml')], /runtime config '.*missing\.yaml' does not exist/);
    writeFileSync(join(dir, 'bad.yaml'), 'format: impera-runtime/1\nhead: head.onnx\n');
    await expectOneLineError(['edge', '--config', join(dir, 'bad.yaml')], /runtime config '.*bad\.yaml' line 1: server: missing/);
    await expectOneLineError(['export-triton', join(dir, 'none'), '--out', dir], /does not exist/);
    await expectOneLineError(['bench-e2e', '--links', '10'], /link '10' must be RATE\/DELAY/);
    await expectOneLineError(['bench-e2e', '--shaper', 'magic'], /--shaper must be auto, netns or proxy/);
  });
});

describe('impera export-triton', () => {
  it('writes config.pbtxt and 1/model.onnx for the tail of a split', async () => {
    const repo = await splitRepo();
    const out = tmp();
    const r = await impera('export-triton', repo.dir, '--out', out, '--max-batch', '4', '--batch-delay-us', '250', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ model: 'tail', warnings: [] });
    expect(existsSync(join(out, 'tail', '1', 'model.onnx'))).toBe(true);
    const human = await impera('export-triton', join(repo.dir, 'head.onnx'), '--out', out, '--name', 'edge-head');
    expect(human.stdout).toMatch(/max_batch_size: 8/);
    expect(human.stdout).toMatch(/name: "edge-head"/);
    await expectOneLineError(['export-triton', repo.dir, '--out', out, '--name', 'a/b'], /must be letters, digits/);
  });
});
