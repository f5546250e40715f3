import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configDir, zodMessage } from '../../src/util/config.js';

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
});
