/** The runtime configuration: what a valid file gives the runner, and a clear error naming the field otherwise. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuntimeConfig, resolveRuntimeConfig } from '../../../src/runtime/edge/config.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-config-'));
for (const f of ['head.onnx', 'tail.onnx', 'codec.json']) writeFileSync(join(dir, f), '');
const file = join(dir, 'edge.yaml');
const base = { format: 'impera-runtime/1', head: 'head.onnx', tail: 'tail.onnx', server: { url: 'http://10.0.0.2:8000', model: 'tail' } };

describe('runtime configuration', () => {
  it('resolves paths against the file, fills defaults and reads the token from the environment', () => {
    process.env.IMPERA_TEST_TOKEN = 'from-env';
    const c = resolveRuntimeConfig({ ...base, server: { ...base.server, tokenEnv: 'IMPERA_TEST_TOKEN' } }, file);
    expect(c.head).toBe(join(dir, 'head.onnx'));
    expect(c.server).toEqual({ url: 'http://10.0.0.2:8000', model: 'tail', protocol: 'binary', wire: 'packed', token: 'from-env' });
    expect(c).toMatchObject({ latencyBudgetMs: 1000, fallback: 'local', exits: [], reconnect: { initialMs: 200, maxMs: 5000 }, threads: 1 });
  });

  it('reads YAML files', () => {
    writeFileSync(file, 'format: impera-runtime/1\nhead: head.onnx\nfallback: none\nserver:\n  url: https://edge.example:443\n  model: t\n  protocol: websocket\n');
    expect(loadRuntimeConfig(file).server.protocol).toBe('websocket');
  });

  it.each([
    ['a wrong format', { ...base, format: 'impera-runtime/9' }, /format must be 'impera-runtime\/1'/],
    ['no head', { ...base, head: undefined }, /': head: /],
    ['a missing file', { ...base, head: 'nope.onnx' }, /head: '.*nope\.onnx' does not exist/],
    ['a URL that is not http', { ...base, server: { ...base.server, url: 'ftp://x' } }, /server\.url must be an http/],
    ['an unknown protocol', { ...base, server: { ...base.server, protocol: 'grpc' } }, /server\.protocol/],
    ['an unknown field', { ...base, retries: 3 }, /unrecognized key: "retries"/i],
    ['a negative budget', { ...base, latencyBudgetMs: -5 }, /latencyBudgetMs must be > 0/],
    ['an exit threshold above 1', { ...base, exits: [{ output: 'e', threshold: 1.5 }] }, /threshold is a probability/],
    ['local fallback without a tail', { ...base, tail: undefined }, /fallback is 'local' but no tail/],
    ['exit fallback without exits', { ...base, fallback: 'exit' }, /fallback is 'exit' but no exits/],
    ['packed bytes over JSON', { ...base, codec: 'codec.json', server: { ...base.server, protocol: 'json' } }, /packed wire bytes cannot travel as JSON/],
    ['two token sources', { ...base, server: { ...base.server, token: 'a', tokenEnv: 'B' } }, /give one of token, tokenEnv, tokenFile/],
    ['an unset token variable', { ...base, server: { ...base.server, tokenEnv: 'IMPERA_NOT_SET_ANYWHERE' } }, /IMPERA_NOT_SET_ANYWHERE is not set/],
    ['a missing token file', { ...base, server: { ...base.server, tokenFile: 'nope.txt' } }, /server\.tokenFile: '.*nope\.txt' does not exist/],
    ['a missing CA file', { ...base, server: { ...base.server, ca: 'nope.pem' } }, /server\.ca: '.*nope\.pem' does not exist/],
    ['zero threads', { ...base, threads: 0 }, /threads: /],
  ])('refuses %s', (_what, raw, message) => {
    expect(() => resolveRuntimeConfig(raw, file)).toThrow(message);
  });

  it('says when the file is missing or not YAML', () => {
    expect(() => loadRuntimeConfig(join(dir, 'missing.yaml'))).toThrow(/does not exist/);
    writeFileSync(file, 'format: [unclosed');
    expect(() => loadRuntimeConfig(file)).toThrow(/not valid YAML or JSON/);
  });
});
