/** `impera simulate` as users run it (the built binary; `npm test` builds first). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLine, impera, imperaWithEnv, tmp } from '../helpers/cli.js';

const EXAMPLES = new URL('../../examples/scenarios', import.meta.url).pathname;

describe('impera simulate', () => {
  it('documents the scenario format, presets and backends in --help', async () => {
    const r = await impera('simulate', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--backend <name>/);
    expect(r.stdout).toMatch(/analytic.*des.*ns3/s);
    expect(r.stdout).toMatch(/Link presets: 3g, lte, wifi, split-et-impera, 5g, ethernet/);
  });

  it("tables the four set-ups side by side (Split-Et-Impera's example)", async () => {
    const r = await impera('simulate', join(EXAMPLES, 'split-et-impera.yaml'), '--duration', '5');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +local +remote +split +early-exit/m);
    expect(r.stdout).toMatch(/latency p95 ms/);
    expect(r.stdout).toMatch(/packets lost/);
    expect(r.stdout).toMatch(/network +split-et-impera: 1000\.0\/1000\.0 Mb\/s, 0\.1 ms, loss 1\.00%/);
  });

  it('prints JSON, per backend', async () => {
    for (const backend of ['analytic', 'des']) {
      const r = await impera('simulate', join(EXAMPLES, 'split-et-impera.yaml'), '--duration', '5', '--backend', backend, '--json');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.backend).toBe(backend);
      expect(out.results.map((x: { setup: string }) => x.setup)).toEqual(['local', 'remote', 'split', 'early-exit']);
      const local = out.results[0];
      expect(local.latencyMs.mean).toBeCloseTo(39.4, 6);
      expect(out.results[2].packets.sent).toBeGreaterThan(0);
    }
  });

  it('writes every frame\'s timestamps with --frames', async () => {
    const file = join(tmp(), 'frames.csv');
    const r = await impera('simulate', join(EXAMPLES, 'split-et-impera.yaml'), '--duration', '2', '--setup', 'split', '--frames', file);
    expect(r.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('setup,frame,device,status,created_ms,headStart_ms,headEnd_ms,txStart_ms,serverArrival_ms,serverStart_ms,serverEnd_ms,delivered_ms');
    expect(lines).toHaveLength(21);
    const [created, headStart, headEnd, txStart] = lines[1]!.split(',').slice(4, 8).map(Number);
    expect(lines[1]).toMatch(/^split,0,camera,done,/);
    expect(headStart).toBe(created);
    expect(headEnd! - created!).toBeCloseTo(42.1, 3);
    expect(txStart).toBe(headEnd);
  });

  it('rejects a bad scenario in one line naming the field', async () => {
    const file = join(tmp(), 's.yaml');
    writeFileSync(file, 'payload: { cutBytes: 1000 }\ncompute: { device: { head: 1 }, server: { tail: 1 } }\ndevices: [{ fps: -1 }]\n');
    expectOneLine(await impera('simulate', file), /scenario '.*s\.yaml' line \d+: devices\.0\.fps: fps must be > 0/);
    writeFileSync(file, 'payload: { cutBytes: 1000 }\ncompute: { device: { head: 1 }, server: { tail: 1 } }\ndevices: [{ fps: 5 }]\nnetwork: { link: 4g }\n');
    expectOneLine(await impera('simulate', file), /network\.link: unknown link preset '4g' \(use one of: 3g, lte/);
  });

  it('says how to install ns-3 when it is missing, while the other backends still work', async () => {
    const env = { IMPERA_NS3_PREFIX: '/nonexistent/ns3' };
    const scenario = join(EXAMPLES, 'split-et-impera.yaml');
    expectOneLine(await imperaWithEnv(['simulate', scenario, '--backend', 'ns3', '--duration', '1'], env), /ns-3 is not installed .*sudo apt-get install libns3-dev/);
    expect((await imperaWithEnv(['simulate', scenario, '--backend', 'des', '--duration', '1'], env)).code).toBe(0);
    expect((await imperaWithEnv(['simulate', scenario, '--backend', 'analytic', '--duration', '1'], env)).code).toBe(0);
  });

  it('rejects --frames with a backend that does not keep frames', async () => {
    expectOneLine(await impera('simulate', join(EXAMPLES, 'split-et-impera.yaml'), '--backend', 'analytic', '--frames', 'x.csv'), /--frames needs --backend des/);
  });
});
