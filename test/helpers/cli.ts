/** Running the built `impera` binary as users do (`npm test` builds it first). */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';

export const BIN = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

export const tmp = (): string => mkdtempSync(join(tmpdir(), 'impera-cli-'));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export const impera = (...args: string[]): Promise<CliRun> => imperaWithEnv(args, {});

/** The binary with extra environment variables. */
export async function imperaWithEnv(args: string[], env: Record<string, string>): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], { maxBuffer: 64 << 20, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A bad input ends with exit code 1 and exactly one line on stderr naming the problem. */
export async function expectOneLineError(args: string[], pattern: RegExp): Promise<void> {
  expectOneLine(await impera(...args), pattern);
}

/** The finished run's exit code and stderr are one error line matching `pattern`. */
export function expectOneLine(r: Pick<CliRun, 'code' | 'stderr'>, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^impera: error: /);
  expect(lines[0]).toMatch(pattern);
}
