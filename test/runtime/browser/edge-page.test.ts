/**
 * The browser edge page's Node side: what it tells the page (read back from the runtime config and the head), what
 * it refuses at start with one line naming the fix (early exits, entropy coders, a server with bearer tokens), and
 * the folder `writeEdgePage` writes.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CAMERA_PREPROCESS, loadEdgePage, writeEdgePage } from '../../../src/runtime/browser/edge-page.js';
import { EDGE_PAGE_FILES, ORT_SCRIPT } from '../../../src/runtime/browser/page-config.js';
import { resolvePreprocess } from '../../../src/data/preprocess-spec.js';
import { saveModel } from '../../../src/onnx/io.js';
import { headWithExit, serve, splitRepo, type SplitRepo } from '../../helpers/runtime.js';

const SERVER = { url: 'http://127.0.0.1:8000', model: 'tail', protocol: 'websocket' };

function configFile(repo: SplitRepo, name: string, over: Record<string, unknown>): string {
  const file = join(repo.dir, name);
  writeFileSync(file, JSON.stringify({ format: 'impera-runtime/1', head: 'head.onnx', tail: 'tail.onnx', server: SERVER, ...over }));
  return file;
}

describe('the page for a runtime config', () => {
  let int8: SplitRepo;
  beforeAll(async () => {
    int8 = await splitRepo('int8');
  });

  it("tells the page the head's inputs, the wire tensors, the codec and the server model; the head is the file's bytes", () => {
    const page = loadEdgePage(configFile(int8, 'edge.yaml', { codec: 'codec.json', output: 'y' }));
    expect(page.config).toMatchObject({ model: 'tail', output: 'y', wire: 'packed', cut: ['r1::wire'], latencyBudgetMs: 1000, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 8, 8] }] });
    expect(page.config.codec).toEqual(JSON.parse(readFileSync(join(int8.dir, 'codec.json'), 'utf8')));
    expect(page.config.preprocess).toEqual(resolvePreprocess(CAMERA_PREPROCESS));
    expect(Buffer.from(page.head).equals(readFileSync(join(int8.dir, 'head.onnx')))).toBe(true);
    expect(page.server).toBe(SERVER.url);
  });

  it("sends the head's outputs as they are without a codec", async () => {
    const plain = await splitRepo();
    expect(loadEdgePage(configFile(plain, 'edge.yaml', {})).config.cut).toEqual(['r1']);
  });

  it('refuses early exits, an entropy coder and a bad --edge-preprocess at start, in one line', async () => {
    const deflate = await splitRepo('int4+deflate');
    expect(() => loadEdgePage(configFile(deflate, 'edge.yaml', { codec: 'codec.json' }))).toThrow(/codec 'int4\+deflate' ends with an entropy coder, which the browser edge cannot run/);
    saveModel(headWithExit(), join(int8.dir, 'head-exit.onnx'));
    expect(() => loadEdgePage(configFile(int8, 'exits.yaml', { head: 'head-exit.onnx', exits: [{ output: 'exit', threshold: 0.9 }] }))).toThrow(/does not run early exits \(1 configured\)/);
    expect(() => loadEdgePage(configFile(int8, 'edge.yaml', {}), 'resize=squash')).toThrow(/--edge-preprocess/);
  });

  it('is not served by a server with bearer tokens (a browser cannot send one on its WebSocket)', async () => {
    const edgePage = loadEdgePage(configFile(int8, 'edge.yaml', {}));
    await expect(serve(int8, { edgePage, tokens: ['a-long-enough-secret-token-1234'] })).rejects.toThrow(/cannot send a bearer token on its WebSocket/);
  });

  it("writes a folder with the page, its configuration (naming the server), the head and onnxruntime-web's files", () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-page-'));
    const files = writeEdgePage(dir, loadEdgePage(configFile(int8, 'edge.yaml', { codec: 'codec.json' })));
    for (const f of files) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(files).toContain(`${EDGE_PAGE_FILES.ort}${ORT_SCRIPT}`);
    expect(files.some((f) => f.endsWith('.wasm'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, EDGE_PAGE_FILES.config), 'utf8')).server).toBe(SERVER.url);
  });
});
