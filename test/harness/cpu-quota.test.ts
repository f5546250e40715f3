/**
 * The CPU quota: a process moved under it gets no more CPU time per wall second than the quota, so a burst of
 * c ms of CPU work takes at least c / cores ms less one period (the oracle, a lower bound that load cannot break;
 * unthrottled it takes about c ms, a few times that on a loaded machine); the cgroup is gone after remove; the
 * quota changes while a process runs under it, by hand or following a trace; and without a cpu cgroup it refuses
 * in one line saying what it needs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuController, createCpuQuota, QUOTA_PERIOD_US, replayCpuQuota } from '../../src/harness/cpu-quota.js';

const controller = cpuController();
const why = 'reason' in controller ? controller.reason : '';

/** A node child that, once told, spins until it has used `cpuMs` of CPU time and prints the wall time it took (ms). */
async function burstWallMs(place: (pid: number) => void, cpuMs: number): Promise<number> {
  const script = `process.stdin.once('data', () => { const t = performance.now(), u = process.cpuUsage(); for (;;) { const d = process.cpuUsage(u); if ((d.user + d.system) / 1000 >= ${cpuMs}) break; } console.log(performance.now() - t); process.exit(0); });`;
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
    expect(() => createCpuQuota(0.05)).toThrow(/at least 0.1 core/);
  });

  describe.skipIf(why !== '')(`on this machine's cgroups${why ? ` (skipped: ${why})` : ''}`, () => {
    it('slows a short burst of CPU work to its share of a core, and is gone once removed', async () => {
      const quota = createCpuQuota(0.1);
      try {
        // 40 ms of work at 0.1 core: at least 400 ms less one 10 ms period
        expect(await burstWallMs((pid) => quota.add(pid), 40)).toBeGreaterThanOrEqual(40 / 0.1 - QUOTA_PERIOD_US / 1000);
        const v1 = existsSync(join(quota.dir, 'cpu.cfs_quota_us'));
        expect(readFileSync(join(quota.dir, v1 ? 'cpu.cfs_quota_us' : 'cpu.max'), 'utf8').trim()).toBe(v1 ? '1000' : '1000 10000');
      } finally {
        quota.remove();
      }
      expect(existsSync(quota.dir)).toBe(false);
      quota.remove();
    });

    it('changes its quota in place, by hand or following a trace, in periods of its own', async () => {
      const quota = createCpuQuota(1, { periodUs: 20_000 });
      const written = () => {
        const v1 = existsSync(join(quota.dir, 'cpu.cfs_quota_us'));
        return v1 ? `${readFileSync(join(quota.dir, 'cpu.cfs_quota_us'), 'utf8').trim()} ${readFileSync(join(quota.dir, 'cpu.cfs_period_us'), 'utf8').trim()}` : readFileSync(join(quota.dir, 'cpu.max'), 'utf8').trim();
      };
      try {
        expect(written()).toBe('20000 20000');
        // 0.05 core is 1 ms per 20 ms period: the least the kernel takes
        quota.set(0.05);
        expect([written(), quota.cores]).toEqual(['1000 20000', 0.05]);
        expect(() => quota.set(0.02)).toThrow(/a CPU quota must be at least 0.05 core, not 0.02/);
        // 0.5 core from 0 s, 0.25 from 0.2 s (the period long enough that it does not wrap during the test)
        const replay = await replayCpuQuota(quota, { timesS: [0, 0.2], cores: [0.5, 0.25], periodS: 60 });
        expect(written()).toBe('10000 20000');
        await new Promise((r) => setTimeout(r, Math.max(0, replay.startMs + 400 - performance.now())));
        await replay.stop();
        expect([written(), replay.error]).toEqual(['5000 20000', undefined]);
      } finally {
        quota.remove();
      }
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
