import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDir, readUserFile, zodMessage } from '../../src/util/config.js';

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
