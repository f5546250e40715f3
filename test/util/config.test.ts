import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImperaError } from '../../src/errors.js';
import { configDir, MAX_CONFIG_BYTES, parseConfig, readConfigFile, readUserFile, zodMessage } from '../../src/util/config.js';

const fail = (why: string, line?: number) => new ImperaError('BAD_SCENARIO', `${line ?? '-'}: ${why}`);

const issueOf = (schema: z.ZodType, value: unknown) => {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected a validation error');
  return r.error;
};

describe('config helpers', () => {
  it('names the first invalid field after where it came from', () => {
    const schema = z.object({ link: z.object({ upMbps: z.number() }) });
    expect(zodMessage('scenario', issueOf(schema, { link: { upMbps: 'fast' } }))).toMatch(/^scenario\.link\.upMbps: /);
    expect(zodMessage('', issueOf(schema, { link: { upMbps: 'fast' } }))).toMatch(/^link\.upMbps: /);
  });

  it('gives just the message when neither the source nor a field is known', () => {
    const message = zodMessage('', issueOf(z.strictObject({}), { extra: 1 }));
    expect(message).toMatch(/^Unrecognized key/);
  });

  it("resolves relative paths from the config file's folder", () => {
    expect(configDir('/etc/impera/scenario.yaml')).toBe('/etc/impera');
  });

  it('reads a file, and names a missing one or one that cannot be read (a folder) with the hint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-config-'));
    writeFileSync(join(dir, 'a.yaml'), 'x: 1\n');
    expect(readUserFile(join(dir, 'a.yaml'), 'scenario', 'hint')).toBe('x: 1\n');
    expect(() => readUserFile(join(dir, 'b.yaml'), 'scenario', 'write one')).toThrow(expect.objectContaining({ code: 'FILE_NOT_FOUND', message: expect.stringMatching(/^scenario '.*b\.yaml' does not exist$/), hint: 'write one' }));
    expect(() => readUserFile(dir, 'scenario', 'hint')).toThrow(/scenario '.*' cannot be read \(EISDIR/);
  });

  it('parses YAML and JSON, with the document for line numbers', () => {
    const parsed = parseConfig('a:\n  b: [1, 2]\n', fail);
    expect(parsed.value).toEqual({ a: { b: [1, 2] } });
    expect(parsed.lines.linePos(parsed.doc.toString().indexOf('b')).line).toBe(2);
    expect(parseConfig('{"a": {"b": [1, 2]}}', fail).value).toEqual({ a: { b: [1, 2] } });
  });

  it('hands syntax errors, repeated keys (at any depth) and alias bombs to the reader with the line where known', () => {
    expect(() => parseConfig('a: [1,\n', fail)).toThrow(/^\d+: not valid YAML or JSON: /);
    expect(() => parseConfig('a: 1\nb:\n  c: 1\n  c: 2\n', fail)).toThrow(/^4: not valid YAML or JSON: the key 'c' appears twice in one mapping$/);
    expect(() => parseConfig('a: 1\na: 2\n', fail)).toThrow(/^2: .*the key 'a' appears twice/);
    expect(parseConfig('a: {c: 1}\nb: {c: 2}\n', fail).value).toEqual({ a: { c: 1 }, b: { c: 2 } });
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'];
    expect(() => parseConfig(bomb.join('\n'), fail)).toThrow(/^-: not valid YAML or JSON: Excessive alias count/);
  });

  it('refuses a file over MAX_CONFIG_BYTES before reading it, naming its size and the cap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-config-'));
    writeFileSync(join(dir, 'big.json'), `[${'0,'.repeat(MAX_CONFIG_BYTES / 2)}0]`);
    expect(() => readConfigFile(join(dir, 'big.json'), 'scenario', 'hint', fail)).toThrow(/^-: too large: 1\.0 MiB \(impera reads config files of at most 1 MiB\)$/);
    writeFileSync(join(dir, 'ok.json'), '[0]');
    expect(readConfigFile(join(dir, 'ok.json'), 'scenario', 'hint', fail).value).toEqual([0]);
    expect(() => readConfigFile(join(dir, 'none.json'), 'scenario', 'write one', fail)).toThrow(/scenario '.*none\.json' does not exist/);
  });
});
