import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startServerProcess } from '../../src/harness/processes.js';
import type { ShapedPath } from '../../src/harness/shaper/path.js';

/** A path whose server side runs `script` with node in place of `impera serve`. */
const pathRunning = (script: string): ShapedPath => ({
  kind: 'proxy',
  serverHost: '127.0.0.1',
  set: async () => {},
  expose: async (port) => `http://127.0.0.1:${port}`,
  spawn: () => spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] }),
  close: async () => {},
});

describe('starting impera serve on a path', () => {
  it('says what the server printed when its first line is not where it listens', async () => {
    await expect(startServerProcess(pathRunning('console.log("listening soon"); setTimeout(() => {}, 10000)'), '/nowhere')).rejects.toThrow(/did not say where it listens \(its first line: listening soon\)/);
  });

  it('passes on what the server said when it exits without a line', async () => {
    await expect(startServerProcess(pathRunning('console.error("no model repository"); process.exit(1)'), '/nowhere')).rejects.toThrow(/did not start: no model repository/);
  });
});
