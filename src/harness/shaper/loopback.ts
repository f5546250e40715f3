/** No shaping: a server on loopback reached directly (the protocol-overhead measurement, the load and fault runs). */
import type { ChildProcess } from 'node:child_process';
import { ImperaError } from '../../errors.js';
import { Children, type ShapedPath, type ShapeParams } from './path.js';

export class LoopbackPath implements ShapedPath {
  readonly kind: ShapedPath['kind'] = 'loopback';
  readonly serverHost = '127.0.0.1';
  protected readonly children = new Children();

  async set(_p: ShapeParams): Promise<void> {
    throw new ImperaError('SHAPER_FAILED', 'the loopback path does not shape traffic', 'use the netns or proxy shaper');
  }

  async expose(port: number): Promise<string> {
    return `http://${this.serverHost}:${port}`;
  }

  spawn(_side: 'server' | 'edge', command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    return this.children.spawn([], command, args, env);
  }

  async close(): Promise<void> {
    this.children.killAll();
  }
}
