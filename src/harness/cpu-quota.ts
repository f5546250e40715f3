/**
 * A slow device on this machine: processes run under a CPU quota in a cgroup of their own (as containers do), so
 * that an edge process can be several times slower than the server beside it. cgroup v1's cpu controller
 * (cpu.cfs_quota_us over cpu.cfs_period_us) or cgroup v2's cpu.max; both need root and a writable hierarchy. The
 * quota can change while processes run under it, and follow a trace (a device whose speed varies: other apps,
 * thermal throttling).
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../errors.js';
import { replaySteps, type TraceReplay } from './shaper/replay.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
/**
 * The scheduler period the quota is a share of (µs), by default. Not the kernel's default 100 ms: a quota is a
 * budget per period, so a burst shorter than the budget (one inference of a few ms after an idle wait) would run at
 * full speed; 10 ms periods slow such work too, as a slower processor would. A longer period takes smaller quotas.
 */
export const QUOTA_PERIOD_US = 10_000;
/** The smallest quota the kernel takes (µs). */
const MIN_QUOTA_US = 1000;

/** Where cpu cgroups are made: the hierarchy's folder and its version. */
export interface CpuController {
  version: 1 | 2;
  dir: string;
}

const writable = (dir: string): boolean => {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

/** The cpu controller under `root` that this process may write, or why there is none. */
export function cpuController(root = CGROUP_ROOT): CpuController | { reason: string } {
  const v1 = join(root, 'cpu');
  if (existsSync(join(v1, 'cpu.cfs_quota_us'))) return writable(v1) ? { version: 1, dir: v1 } : { reason: `${v1} (cgroup v1) is not writable by this user` };
  const controllers = join(root, 'cgroup.controllers');
  if (existsSync(controllers)) {
    if (!readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) return { reason: `cgroup v2 at ${root} has no cpu controller` };
    return writable(root) ? { version: 2, dir: root } : { reason: `${root} (cgroup v2) is not writable by this user` };
  }
  return { reason: `no cpu cgroup under ${root} (neither v1's cpu/ nor v2's cgroup.controllers)` };
}

/** A cgroup holding processes to `cores` of CPU time per wall second. */
export interface CpuQuota {
  readonly dir: string;
  /** The quota now (cores). */
  readonly cores: number;
  /** Change the quota, for the processes already under it too. */
  set(cores: number): void;
  /** Move a process (and the threads it starts afterwards) under the quota. */
  add(pid: number): void;
  /** Move what is left back to the hierarchy's root and delete the cgroup; safe to call twice. */
  remove(): void;
}

const HINT = 'run as root on Linux with a writable cpu cgroup (v1 /sys/fs/cgroup/cpu or v2 with the cpu controller), or go without the throttle';

/** The files that set `cores` of quota in periods of `periodUs`, by version. */
function quotaFiles(version: 1 | 2, cores: number, periodUs: number): [string, string][] {
  const quota = String(Math.round(cores * periodUs));
  return version === 1
    ? [['cpu.cfs_period_us', String(periodUs)], ['cpu.cfs_quota_us', quota]]
    : [['cpu.max', `${quota} ${periodUs}`]];
}

/** Refuse a quota the kernel would not take, in one line. */
function checkQuota(cores: number, periodUs: number): void {
  if (!(cores * periodUs >= MIN_QUOTA_US)) throw new ImperaError('BAD_ARGUMENT', `a CPU quota must be at least ${MIN_QUOTA_US / periodUs} core, not ${cores}`, `the kernel takes no less than ${MIN_QUOTA_US} µs per ${periodUs} µs period`);
}

/**
 * A new cgroup limited to `cores` (e.g. 0.25: a quarter of one core) in periods of `periodUs` (default
 * QUOTA_PERIOD_US); refuses in one line where it cannot.
 */
export function createCpuQuota(cores: number, o: { root?: string; name?: string; periodUs?: number } = {}): CpuQuota {
  const periodUs = o.periodUs ?? QUOTA_PERIOD_US;
  checkQuota(cores, periodUs);
  const c = cpuController(o.root);
  if ('reason' in c) throw new ImperaError('CPU_QUOTA_FAILED', `cannot throttle the CPU: ${c.reason}`, HINT);
  const dir = join(c.dir, o.name ?? `impera-${process.pid}-${Date.now().toString(36)}`);
  const write = (file: string, text: string) => {
    try {
      writeFileSync(join(dir, file), text);
    } catch (e) {
      throw new ImperaError('CPU_QUOTA_FAILED', `cannot write ${join(dir, file)}: ${(e as Error).message}`, HINT);
    }
  };
  // v2: a child cgroup has the cpu files only once its parent hands the controller down
  if (c.version === 2 && !readFileSync(join(c.dir, 'cgroup.subtree_control'), 'utf8').includes('cpu')) writeFileSync(join(c.dir, 'cgroup.subtree_control'), '+cpu');
  mkdirSync(dir);
  let removed = false;
  let now = cores;
  const quota: CpuQuota = {
    dir,
    get cores() {
      return now;
    },
    set(next) {
      checkQuota(next, periodUs);
      // v1 checks the quota against the period already written: the period first
      for (const [file, text] of quotaFiles(c.version, next, periodUs)) write(file, text);
      now = next;
    },
    add: (pid) => write('cgroup.procs', String(pid)),
    remove() {
      if (removed) return;
      removed = true;
      for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          writeFileSync(join(c.dir, 'cgroup.procs'), pid);
        } catch {
          // the process exited meanwhile
        }
      }
      rmdirSync(dir);
    },
  };
  try {
    quota.set(cores);
  } catch (e) {
    quota.remove();
    throw e;
  }
  return quota;
}

/** A CPU quota over time: `cores[i]` from `timesS[i]` (s) within each period of `periodS`, repeated. */
export interface CpuQuotaTrace {
  timesS: number[];
  cores: number[];
  periodS: number;
}

/** Make `quota` follow `trace` from now on (step 0 applied before it resolves) until stopped. */
export const replayCpuQuota = (quota: CpuQuota, trace: CpuQuotaTrace): Promise<TraceReplay> =>
  // async: a step the kernel refuses becomes the replay's error, not an exception in a timer
  replaySteps(trace, async (index) => quota.set(trace.cores[index]!));
