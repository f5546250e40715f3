import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDir, MAX_CONFIG_BYTES, readConfigFile, readUserFile, zodMessage, type ConfigFileKind } from '../../src/util/config.js';

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
});

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'impera-config-file-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const kind: ConfigFileKind = { what: 'scenario', code: 'BAD_SCENARIO', missingHint: 'write one', invalidHint: 'see the examples' };
  const schema = z.strictObject({
    name: z.string().default('unnamed'),
    mode: z.enum(['fast', 'exact']).default('fast'),
    devices: z.array(z.strictObject({ id: z.string(), fps: z.number().positive('fps must be > 0') })).default([]),
  });

  it('reads YAML and JSON alike, and an empty file as an empty mapping with the defaults', () => {
    expect(readConfigFile(write('a.yaml', 'name: cams\ndevices:\n  - { id: cam, fps: 10 }\n'), schema, kind)).toEqual({ name: 'cams', mode: 'fast', devices: [{ id: 'cam', fps: 10 }] });
    expect(readConfigFile(write('a.json', JSON.stringify({ mode: 'exact' })), schema, kind)).toEqual({ name: 'unnamed', mode: 'exact', devices: [] });
    expect(readConfigFile(write('empty.yaml', ''), schema, kind)).toEqual({ name: 'unnamed', mode: 'fast', devices: [] });
  });

  it('names the file, the line, the field and the list entry of an invalid value, with the hint', () => {
    const file = write('fps.yaml', 'name: cams\ndevices:\n  - id: cam\n    fps: 10\n  - id: door\n    fps: -1\n');
    expect(() => readConfigFile(file, schema, kind)).toThrow(expect.objectContaining({ code: 'BAD_SCENARIO', message: `scenario '${file}' line 6: devices.1.fps (door): fps must be > 0`, hint: 'see the examples' }));
    const json = write('fps.json', JSON.stringify({ devices: [{ id: 'cam', fps: 0 }] }, null, 2));
    expect(() => readConfigFile(json, schema, kind)).toThrow(`scenario '${json}' line 5: devices.0.fps (cam): fps must be > 0`);
  });

  it('says what is wrong in words: unknown fields, the allowed values, a missing field', () => {
    expect(() => readConfigFile(write('typo.yaml', 'name: a\nmdoe: fast\n'), schema, kind)).toThrow(/typo\.yaml' line 1: \(top level\): unknown field 'mdoe'$/);
    expect(() => readConfigFile(write('mode.yaml', 'mode: quick\n'), schema, kind)).toThrow(/mode\.yaml' line 1: mode: must be one of "fast", "exact"$/);
    expect(() => readConfigFile(write('noid.yaml', 'devices:\n  - fps: 3\n'), schema, kind)).toThrow(/noid\.yaml' line 2: devices\.0\.id: missing$/);
  });

  it('reports a syntax error with its line, and a missing file with the hint for it', () => {
    expect(() => readConfigFile(write('bad.yaml', 'name: a\ndevices: [ {\n'), schema, kind)).toThrow(/^scenario '.*bad\.yaml' is not valid YAML or JSON \(line \d\): /);
    expect(() => readConfigFile(write('bad.json', '{"name": '), schema, kind)).toThrow(/^scenario '.*bad\.json' is not valid JSON: /);
    expect(() => readConfigFile(join(dir, 'none.yaml'), schema, kind)).toThrow(expect.objectContaining({ code: 'FILE_NOT_FOUND', hint: 'write one' }));
  });

  it('refuses repeated keys (at any depth) with their line, and alias bombs, in bounded time', () => {
    const loose = z.record(z.string(), z.unknown());
    expect(() => readConfigFile(write('dup.yaml', 'a: 1\nb:\n  c: 1\n  c: 2\n'), loose, kind)).toThrow(/dup\.yaml' is not valid YAML or JSON \(line 4\): the key 'c' appears twice in one mapping$/);
    expect(readConfigFile(write('same.yaml', 'a: {c: 1}\nb: {c: 2}\n'), loose, kind)).toEqual({ a: { c: 1 }, b: { c: 2 } });
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]'];
    expect(() => readConfigFile(write('bomb.yaml', bomb.join('\n')), loose, kind)).toThrow(/bomb\.yaml' is not valid YAML or JSON: Excessive alias count/);
  });

  it('refuses a file over MAX_CONFIG_BYTES before reading it, naming its size and the cap', () => {
    const big = write('big.json', `[${'0,'.repeat(MAX_CONFIG_BYTES / 2)}0]`);
    expect(() => readConfigFile(big, z.array(z.number()), kind)).toThrow(/big\.json' is too large: 1\.0 MiB \(impera reads config files of at most 1 MiB\)$/);
    expect(readConfigFile(write('ok.json', '[0]'), z.array(z.number()), kind)).toEqual([0]);
  });
});
