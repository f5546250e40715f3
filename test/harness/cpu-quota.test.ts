/**
 * The CPU quota: a process moved under it gets no more CPU time per wall second than the quota, a busy loop's
 * CPU share is the oracle (unthrottled it takes what the scheduler gives, here far more than the quota); the
 * cgroup is gone after remove; and without a cpu cgroup it refuses in one line saying what it needs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuController, createCpuQuota } from '../../src/harness/cpu-quota.js';

const controller = cpuController();
const why = 'reason' in controller ? controller.reason : '';

/** A node child that, once told, spins for `wallMs` and prints the CPU time it used (ms). */
async function busyLoopCpuShare(place: (pid: number) => void, wallMs: number): Promise<number> {
  const script = `process.stdin.once('data', () => { const t = Date.now(), u = process.cpuUsage(); while (Date.now() - t < ${wallMs}); const d = process.cpuUsage(u); console.log((d.user + d.system) / 1000 / (Date.now() - t)); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  place(child.pid!);
  child.stdin.write('go\n');
  await exited;
  return Number(out);
}

describe('a CPU quota', () => {
  it('refuses in one line where there is no cpu cgroup, saying what it needs', () => {
    const root = mkdtempSync(join(tmpdir(), 'impera-cgroup-'));
    expect(cpuController(root)).toEqual({ reason: `no cpu cgroup under ${root} (neither v1's cpu/ nor v2's cgroup.controllers)` });
    expect(() => createCpuQuota(0.2, { root })).toThrow(/cannot throttle the CPU: no cpu cgroup/);
    expect(() => createCpuQuota(0)).toThrow(/positive number of cores/);
  });

  describe.skipIf(why !== '')(`on this machine's cgroups${why ? ` (skipped: ${why})` : ''}`, () => {
    it('holds a busy loop to its share of a core, and is gone once removed', async () => {
      const quota = createCpuQuota(0.1);
      try {
        const share = await busyLoopCpuShare((pid) => quota.add(pid), 1500);
        // at most the quota, with one period's slack (the loop may start with a full period's budget)
        expect(share).toBeGreaterThan(0.03);
        expect(share).toBeLessThanOrEqual(0.1 + 0.1 / 1.5);
        const v1 = existsSync(join(quota.dir, 'cpu.cfs_quota_us'));
        expect(readFileSync(join(quota.dir, v1 ? 'cpu.cfs_quota_us' : 'cpu.max'), 'utf8').trim()).toBe(v1 ? '10000' : '10000 100000');
      } finally {
        quota.remove();
      }
      expect(existsSync(quota.dir)).toBe(false);
      quota.remove();
    });

    it('moves processes still inside back out when removed', async () => {
      const quota = createCpuQuota(0.5);
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
      try {
        quota.add(child.pid!);
        expect(readFileSync(join(quota.dir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(child.pid));
        quota.remove();
        expect(existsSync(quota.dir)).toBe(false);
      } finally {
        child.kill();
      }
    });
  });
});
