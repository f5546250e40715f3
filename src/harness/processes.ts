/**
 * `impera serve` and `impera edge` as child processes on either side of a network path (inside its namespaces
 * for the netns shaper), for the end-to-end check and the load, fault and overhead runs.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ImperaError } from '../errors.js';
import { PACKAGE_ROOT } from '../util/package.js';
import type { FrameResult } from '../runtime/edge/runner.js';
import type { ShapedPath } from './shaper/path.js';

export const CLI = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');

/** Lines of a child's stdout, and its stderr for errors. */
function lines(child: ChildProcess): { next: () => Promise<string | undefined>; stderr: () => string } {
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const it = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return { next: async () => (await it.next()).value as string | undefined, stderr: () => err.trim() };
}

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The port in `impera serve --json`'s first line, `{"port": N, ...}`. */
function listeningPort(line: string): number | undefined {
  try {
    const port = (JSON.parse(line) as { port?: unknown }).port;
    return typeof port === 'number' ? port : undefined;
  } catch {
    return undefined;
  }
}

/** `impera serve` on the server side of the path; resolves once it listens. */
export async function startServerProcess(path: ShapedPath, repo: string, args: readonly string[] = []): Promise<ServerProcess> {
  const child = path.spawn('server', process.execPath, [CLI, 'serve', '--model-repo', repo, '--host', path.serverHost, '--port', '0', '--json', ...args]);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const out = lines(child);
  const first = await out.next();
  if (!first) throw new ImperaError('SERVER_ERROR', `impera serve did not start: ${out.stderr()}`);
  const port = listeningPort(first);
  if (port === undefined) {
    child.kill('SIGTERM');
    throw new ImperaError('SERVER_ERROR', `impera serve started but did not say where it listens (its first line: ${first.slice(0, 200)})`, 'run `impera serve --json` by hand to see what it prints');
  }
  return {
    url: await path.expose(port),
    port,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface EdgeRun {
  frames: FrameResult[];
}

/** `impera edge` on the edge side of the path with a runtime configuration; its JSON result. */
export async function runEdgeProcess(path: ShapedPath, config: string, o: { source: string; frames: number; fps: number }): Promise<EdgeRun> {
  const child = path.spawn('edge', process.execPath, [CLI, 'edge', '--config', config, '--source', o.source, '--frames', String(o.frames), '--fps', String(o.fps), '--json']);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new ImperaError('SERVER_ERROR', `impera edge failed (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`);
  return JSON.parse(stdout) as EdgeRun;
}
