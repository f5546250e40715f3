/**
 * A shaped network path between an edge and a server on this machine, for the end-to-end check: a link's rates,
 * delay and loss applied to real traffic. Two ways: network namespaces joined by a user-space link emulator
 * (netns.ts; needs root and TUN; real kernel TCP at both ends sees the link) or a shaping TCP proxy on loopback
 * (proxy.ts; anyone; paces the byte stream but has no packets, so no TCP windows or loss).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { FRAMING_BYTES } from '../../net/framing.js';
import type { Link } from '../../net/link.js';

export type ShaperKind = 'netns' | 'proxy';

/** A path between edge and server: shaped (netns, proxy) or plain loopback. */
export type PathKind = ShaperKind | 'loopback';

/** The numbers a shaper applies, per direction (up: edge -> server). */
export interface ShapeParams {
  upMbps: number;
  downMbps: number;
  delayMs: number;
  /** Packet loss probabilities (the proxy cannot drop packets and refuses loss). */
  loss: number;
  downLoss: number;
  /** Link-layer bytes per packet added to the serialisation time. */
  overheadBytes: number;
}

export function shapeParams(link: Link): ShapeParams {
  return { upMbps: link.up.meanMbps, downMbps: link.down.meanMbps, delayMs: link.delayMs, loss: link.loss, downLoss: link.downLoss, overheadBytes: FRAMING_BYTES[link.framing] };
}

export interface ShapedPath {
  readonly kind: PathKind;
  /** The address a server on this path listens on. */
  serverHost: string;
  /** Apply a link (rates, delay, loss) from now on. */
  set(p: ShapeParams): Promise<void>;
  /** The URL an edge uses to reach a server listening on `port` through the shaped link. */
  expose(port: number): Promise<string>;
  /** Start a process on one side of the link (netns: inside that side's namespace). */
  spawn(side: 'server' | 'edge', command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess;
  close(): Promise<void>;
}

/** Processes started on a path, killed when it closes, so a run cut short leaves nothing behind. */
export class Children {
  private readonly live = new Set<ChildProcess>();

  /** Start `command` (with `prefix` before it, e.g. `ip netns exec NS`) and keep track of it. */
  spawn(prefix: readonly string[], command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const [first, ...rest] = [...prefix, command, ...args];
    const child = spawn(first!, rest, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    return child;
  }

  killAll(): void {
    for (const c of this.live) c.kill('SIGKILL');
  }
}
