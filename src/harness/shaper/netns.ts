/**
 * Two network namespaces (edge and server; iproute2) joined by linkemu, a user-space link emulator on TUN devices
 * (linkemu.c, compiled with the C compiler on first use and cached like the ns-3 scenarios). netem would do the
 * same in the kernel, but is not in every kernel (this machine's has tbf and no netem); the emulator needs only TUN.
 * Both namespaces are fresh, so their TCP settings are the kernel's defaults, except the congestion control,
 * set to Reno: the analytic TCP model (src/net/tcp.ts) is NewReno.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ImperaError } from '../../errors.js';
import { cacheRoot, contentKey } from '../../util/cache.js';
import { PACKAGE_ROOT } from '../../util/package.js';
import { Children, type ShapedPath, type ShapeParams } from './path.js';

export const LINKEMU_SOURCE = join(PACKAGE_ROOT, 'src', 'harness', 'shaper', 'linkemu.c');
const MTU = 1500;
/** Queue limit per direction: large enough that TCP's window, not the queue, limits it (the model has no queue losses). */
const QUEUE_LIMIT_BYTES = 16 * 1024 * 1024;
/** Packets the kernel may queue for a TUN device before the emulator reads them (default 500: a window's burst overflows it). */
const TX_QUEUE = 20_000;

const ok = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** Why network namespaces cannot be used here, or undefined when they can (creating and removing one to be sure). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  if (!ok('ip', ['-V'])) return "iproute2's `ip` is not installed (apt-get install iproute2)";
  if (!existsSync('/dev/net/tun')) return 'the TUN device /dev/net/tun is missing';
  if (!ok('cc', ['--version'])) return 'no C compiler `cc` to build the link emulator (apt-get install gcc)';
  // root in a container may still lack the right to create namespaces: try
  const probe = `impera-probe-${process.pid}`;
  if (!ok('ip', ['netns', 'add', probe])) return 'this environment does not allow creating network namespaces (a container without CAP_SYS_ADMIN?)';
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return undefined;
}

/** The emulator's executable, compiled now if this version of its source is not cached yet. */
export function linkemuBinary(env: NodeJS.ProcessEnv = process.env): string {
  const source = readFileSync(LINKEMU_SOURCE);
  const dir = join(cacheRoot(env), 'shaper', contentKey(source));
  const binary = join(dir, 'linkemu');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', partial, LINKEMU_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmSync(partial, { force: true });
    throw new ImperaError('SHAPER_FAILED', `compiling the link emulator failed: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().split('\n')[0]}`, 'check the C compiler (cc) and the kernel headers (linux-libc-dev)');
  }
  renameSync(partial, binary);
  return binary;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new ImperaError('SHAPER_FAILED', `ip ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`, 'the shaper needs root and iproute2');
}

export class NetnsPath implements ShapedPath {
  readonly kind = 'netns' as const;
  private readonly children = new Children();

  private constructor(
    private readonly ns: { edge: string; server: string },
    readonly serverHost: string,
    private readonly emulator: ChildProcess,
    private readonly replies: AsyncIterator<string>,
  ) {}

  static async open(tag = String(process.pid)): Promise<NetnsPath> {
    const why = netnsUnavailable();
    if (why) throw new ImperaError('SHAPER_FAILED', `cannot shape the link with network namespaces: ${why}`, 'run as root on Linux, or use --shaper proxy');
    const binary = linkemuBinary();
    const ns = { edge: `impera-${tag}-edge`, server: `impera-${tag}-server` };
    const dev = { edge: `imp${tag.slice(-7)}e`, server: `imp${tag.slice(-7)}s` };
    const subnet = `10.231.${Number(tag) % 256}`;
    const addr = { edge: `${subnet}.1`, server: `${subnet}.2` };
    for (const side of ['edge', 'server'] as const) {
      if (ok('ip', ['netns', 'pids', ns[side]])) ip(['netns', 'del', ns[side]]); // left over by a crashed run
      ip(['netns', 'add', ns[side]]);
      ip(['-n', ns[side], 'link', 'set', 'lo', 'up']);
      const cc = spawnSync('ip', ['netns', 'exec', ns[side], 'sysctl', '-qw', 'net.ipv4.tcp_congestion_control=reno'], { encoding: 'utf8' });
      if (cc.status !== 0) throw new ImperaError('SHAPER_FAILED', `cannot select TCP Reno in namespace ${ns[side]}: ${cc.stderr.trim()}`);
    }
    const emulator = spawn(binary, [ns.edge, dev.edge, ns.server, dev.server], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    emulator.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const replies = createInterface({ input: emulator.stdout! })[Symbol.asyncIterator]();
    const first = await replies.next();
    if (first.done || first.value !== 'ready') {
      NetnsPath.removeNamespaces(ns);
      throw new ImperaError('SHAPER_FAILED', `the link emulator did not start: ${stderr.trim() || first.value}`);
    }
    ip(['-n', ns.edge, 'addr', 'add', addr.edge, 'peer', addr.server, 'dev', dev.edge]);
    ip(['-n', ns.edge, 'link', 'set', dev.edge, 'mtu', String(MTU), 'txqueuelen', String(TX_QUEUE), 'up']);
    ip(['-n', ns.server, 'addr', 'add', addr.server, 'peer', addr.edge, 'dev', dev.server]);
    ip(['-n', ns.server, 'link', 'set', dev.server, 'mtu', String(MTU), 'txqueuelen', String(TX_QUEUE), 'up']);
    return new NetnsPath(ns, addr.server, emulator, replies);
  }

  private static removeNamespaces(ns: { edge: string; server: string }): void {
    for (const n of [ns.edge, ns.server]) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  }

  private async command(line: string): Promise<string> {
    this.emulator.stdin!.write(`${line}\n`);
    const r = await this.replies.next();
    if (r.done) throw new ImperaError('SHAPER_FAILED', 'the link emulator exited');
    return r.value;
  }

  async set(p: ShapeParams): Promise<void> {
    const bps = (mbps: number) => Math.round(mbps * 1e6);
    const us = Math.round(p.delayMs * 1000);
    const reply = await this.command(`set ${bps(p.upMbps)} ${bps(p.downMbps)} ${us} ${us} ${p.loss} ${p.downLoss} ${p.overheadBytes} ${QUEUE_LIMIT_BYTES} 1`);
    if (reply !== 'ok') throw new ImperaError('SHAPER_FAILED', `the link emulator refused the link: ${reply}`);
  }

  /** Packets and bytes forwarded and dropped per direction since the start. */
  async stats(): Promise<unknown> {
    return JSON.parse(await this.command('stats'));
  }

  async expose(port: number): Promise<string> {
    return `http://${this.serverHost}:${port}`;
  }

  spawn(side: 'server' | 'edge', command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    return this.children.spawn(['ip', 'netns', 'exec', this.ns[side]], command, args, env);
  }

  async close(): Promise<void> {
    this.children.killAll();
    const exited = new Promise((resolve) => this.emulator.once('exit', resolve));
    this.emulator.stdin!.end();
    await exited;
    NetnsPath.removeNamespaces(this.ns);
  }
}
