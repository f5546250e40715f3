/** Running the built `impera` binary as users do (`npm test` builds it first). */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';

const BIN = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

export const tmp = (): string => mkdtempSync(join(tmpdir(), 'impera-cli-'));

export async function impera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A bad input ends with exit code 1 and exactly one line on stderr naming the problem. */
export async function expectOneLineError(args: string[], pattern: RegExp): Promise<void> {
  const r = await impera(...args);
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^impera: error: /);
  expect(lines[0]).toMatch(pattern);
}
