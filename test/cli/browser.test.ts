/** The browser edge from the command line: `impera serve --edge-page` and `impera edge --browser`, as users run them. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { BIN, expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { splitRepo } from '../helpers/runtime.js';

const edgeConfig = (dir: string): string => {
  const file = join(dir, 'edge.yaml');
  writeFileSync(file, 'format: impera-runtime/1\nhead: head.onnx\ncodec: codec.json\ntail: tail.onnx\nserver:\n  url: http://127.0.0.1:8000\n  model: tail\n  protocol: websocket\n');
  return file;
};

describe('impera serve --edge-page and impera edge --browser', () => {
  it('serve the page, its configuration, the head and onnxruntime-web at /edge/, cross-origin isolated', async () => {
    const repo = await splitRepo('int8');
    const server = spawn('node', [BIN, 'serve', '--model-repo', repo.dir, '--port', '0', '--json', '--threads', '1', '--edge-page', edgeConfig(repo.dir)], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      server.stderr!.on('data', (c: Buffer) => (stderr += c));
      const ready = JSON.parse(await new Promise<string>((resolve, reject) => {
        createInterface({ input: server.stdout! }).once('line', resolve);
        server.once('exit', () => reject(new Error(`impera serve exited: ${stderr}`)));
      }));
      expect(ready.edgePage).toBe(`${ready.url}/edge/`);
      const html = await fetch(ready.edgePage);
      expect(html.status).toBe(200);
      expect(html.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(await html.text()).toContain('<title>impera browser edge</title>');
      expect(await (await fetch(`${ready.edgePage}config.json`)).json()).toMatchObject({ model: 'tail', wire: 'packed', cut: ['r1::wire'] });
      const head = Buffer.from(await (await fetch(`${ready.edgePage}head.onnx`)).arrayBuffer());
      expect(head.equals(readFileSync(join(repo.dir, 'head.onnx')))).toBe(true);
      expect((await fetch(`${ready.edgePage}ort/ort.webgpu.min.js`)).status).toBe(200);
      expect((await fetch(`${ready.edgePage}ort/../../package.json`)).status).toBe(404);
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('edge --browser writes the page as a folder that calls the configured server', async () => {
    const repo = await splitRepo('int8');
    const dir = join(tmp(), 'page');
    const r = await impera('edge', '--config', edgeConfig(repo.dir), '--browser', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote the browser edge to .*page \(7 files/);
    for (const f of ['index.html', 'edge.js', 'head.onnx', 'ort/ort-wasm-simd-threaded.asyncify.wasm']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).server).toBe('http://127.0.0.1:8000');
  });

  it('explain what is wrong in one line', async () => {
    const repo = await splitRepo('int8');
    const config = edgeConfig(repo.dir);
    await expectOneLineError(['serve', '--model-repo', repo.dir, '--edge-page', config, '--token', 'a-long-enough-secret-token-1234'], /the browser edge page cannot send a bearer token on its WebSocket/);
    await expectOneLineError(['serve', '--model-repo', repo.dir, '--edge-preprocess', 'imagenet'], /--edge-preprocess goes with --edge-page/);
    await expectOneLineError(['serve', '--model-repo', repo.dir, '--edge-page', join(repo.dir, 'nope.yaml')], /nope\.yaml/);
    await expectOneLineError(['edge', '--config', config, '--browser', join(tmp(), 'x'), '--preprocess', 'resize=squash'], /--preprocess/);
  });
});
