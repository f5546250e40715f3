/** Option parsers shared by the commands: bad values are refused in one line naming the option, before any work. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { positiveInt, positiveNumber } from '../../src/cli/common.js';
import { registerPlan } from '../../src/cli/commands/plan.js';
import { parseBytes, registerServe } from '../../src/cli/commands/serve.js';
import { HOSTILE_SERVE_ARGS } from '../../src/harness/hostile.js';
import { registerSimulate } from '../../src/cli/commands/simulate.js';

/** Parse a command line with one command registered; its file or folder does not exist, so only option parsing can pass. */
function parse(register: (p: Command) => void, ...args: string[]): Promise<unknown> {
  const program = new Command('impera').exitOverride();
  register(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program.parseAsync(['node', 'impera', ...args]);
}

describe('option parsers', () => {
  it('positiveInt takes whole numbers above 0 only', () => {
    expect(positiveInt('--n')('3')).toBe(3);
    for (const bad of ['0', '-2', '2.5', 'abc', '']) expect(() => positiveInt('--n')(bad)).toThrow(/--n must be a positive integer, got/);
  });

  it('positiveNumber takes finite numbers above 0 only', () => {
    expect(positiveNumber('--fps')('2.5')).toBe(2.5);
    expect(positiveNumber('--tolerance')('1e-5')).toBe(1e-5);
    for (const bad of ['0', '-1', 'abc', 'Infinity', 'NaN']) expect(() => positiveNumber('--fps')(bad)).toThrow(/--fps must be a positive number, got/);
  });

  it('parseBytes reads decimal and binary units', () => {
    const p = parseBytes('--body-limit');
    expect(p('1048576')).toBe(1048576);
    expect(p('32MB')).toBe(32e6);
    expect(p('512 kB')).toBe(512e3);
    expect(p('1MiB')).toBe(1024 ** 2);
    for (const bad of ['0', 'lots', '-1MB', '1 TB']) expect(() => p(bad)).toThrow(/--body-limit must be a size like 32MB/);
  });

  it('commands refuse bad counts and durations instead of guessing', async () => {
    await expect(parse(registerPlan, 'plan', '/nonexistent/impera.yaml', '--top', 'abc')).rejects.toThrow(/--top must be a positive integer, got 'abc'/);
    await expect(parse(registerPlan, 'plan', '/nonexistent/impera.yaml', '--top', '0')).rejects.toThrow(/--top must be a positive integer/);
    await expect(parse(registerSimulate, 'simulate', '/nonexistent/s.yaml', '--duration', 'Infinity')).rejects.toThrow(/--duration must be a positive number/);
    for (const bad of ['70000', '1.5', '-1']) await expect(parse(registerServe, 'serve', '--model-repo', '/nonexistent', '--port', bad)).rejects.toThrow(/--port must be a whole number from 0 to 65535/);
  });

  it('serve refuses limits out of range, naming the option and the range', async () => {
    const serve = (...args: string[]) => parse(registerServe, 'serve', '--model-repo', '/nonexistent', ...args);
    for (const bad of ['1e10', '-1', '60001', 'abc', '']) await expect(serve('--batch-delay-ms', bad)).rejects.toThrow(`--batch-delay-ms must be a number from 0 to 60000, got '${bad}'`);
    for (const bad of ['0', '3600001', '1.5']) await expect(serve('--inference-timeout-ms', bad)).rejects.toThrow(`--inference-timeout-ms must be a whole number from 1 to 3600000, got '${bad}'`);
    await expect(serve('--max-json-depth', '3')).rejects.toThrow("--max-json-depth must be a whole number from 4 to 1000, got '3'");
    await expect(serve('--max-tensors', '0')).rejects.toThrow("--max-tensors must be a whole number from 1 to 1000000, got '0'");
    await expect(serve('--stream-buffer-limit', '0')).rejects.toThrow(/--stream-buffer-limit must be a size like 32MB/);
    // in range, option parsing passes and the missing repository is what stops it
    await expect(serve('--batch-delay-ms', '2.5', '--inference-timeout-ms', '5000', '--max-json-depth', '8')).rejects.toThrow(/model repository '\/nonexistent' is not a folder/);
  });

  it('serve refuses every argument of the hostile set at start, before reading the repository', async () => {
    for (const { kind, args } of HOSTILE_SERVE_ARGS) {
      const refusal = parse(registerServe, 'serve', '--model-repo', '/nonexistent', ...args);
      await expect(refusal, kind).rejects.toThrow(/--token|--batch-delay-ms|--inference-timeout-ms|--max-json-depth/);
    }
  });

  it('serve refuses tokens no client could send and TLS files it cannot read, before loading anything', async () => {
    const serve = (...args: string[]) => parse(registerServe, 'serve', '--model-repo', '/nonexistent', ...args);
    await expect(serve('--token', 'ok', '--token', '')).rejects.toThrow('the bearer token given with --token (number 2) is empty, so no client could authenticate');
    await expect(serve('--token', 'two words')).rejects.toThrow(/given with --token \(number 1\) has a space, a control or a non-ASCII character/);
    const dir = mkdtempSync(join(tmpdir(), 'impera-serve-'));
    writeFileSync(join(dir, 'tokens'), 'good\n\nbad token\n');
    await expect(serve('--token-file', join(dir, 'tokens'))).rejects.toThrow(/the bearer token on line 3 of --token-file has a space/);
    await expect(serve('--tls-cert', dir, '--tls-key', dir)).rejects.toThrow(/^--tls-cert '.*' cannot be read \(EISDIR/);
  });
});
