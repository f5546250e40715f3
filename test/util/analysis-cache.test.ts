/** The planner's analysis cache: keyed by exactly its inputs, on disk, and a damaged entry is recomputed. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysisCache } from '../../src/util/analysis-cache.js';

/** A computation that counts its runs and returns a value derived from the run. */
function counter() {
  let runs = 0;
  return { compute: async () => ({ run: ++runs, figures: [1.5, 2.25] }), runs: () => runs };
}

describe('analysis cache', () => {
  it('an unchanged input hits: the stored value, not computed again, also from a new cache object on the same folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-cache-'));
    const c = counter();
    const first = await analysisCache(true, dir).get('accuracy', { model: 'm', cuts: ['a'] }, c.compute);
    expect(first).toEqual({ value: { run: 1, figures: [1.5, 2.25] }, cached: false });
    const again = await analysisCache(true, dir).get('accuracy', { model: 'm', cuts: ['a'] }, c.compute);
    expect(again).toEqual({ value: { run: 1, figures: [1.5, 2.25] }, cached: true });
    expect(c.runs()).toBe(1);
  });

  it('a changed input misses: another key value, or the same key under another kind, computes anew', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-cache-'));
    const cache = analysisCache(true, dir);
    const c = counter();
    await cache.get('accuracy', { model: 'm', cuts: ['a'] }, c.compute);
    const changed = await cache.get('accuracy', { model: 'm', cuts: ['a', 'b'] }, c.compute);
    expect(changed).toEqual({ value: { run: 2, figures: [1.5, 2.25] }, cached: false });
    const otherKind = await cache.get('saliency', { model: 'm', cuts: ['a'] }, c.compute);
    expect(otherKind.cached).toBe(false);
    expect(c.runs()).toBe(3);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(3);
  });

  it('a corrupt entry is recomputed and replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-cache-'));
    const cache = analysisCache(true, dir);
    const c = counter();
    await cache.get('exits', { k: 1 }, c.compute);
    const [file] = readdirSync(dir);
    writeFileSync(join(dir, file!), '{"run": 1, "figu'); // an interrupted write
    const recomputed = await cache.get('exits', { k: 1 }, c.compute);
    expect(recomputed).toEqual({ value: { run: 2, figures: [1.5, 2.25] }, cached: false });
    expect(JSON.parse(readFileSync(join(dir, file!), 'utf8'))).toEqual({ run: 2, figures: [1.5, 2.25] });
    expect((await cache.get('exits', { k: 1 }, c.compute)).cached).toBe(true);
    expect(readdirSync(dir)).toEqual([file]); // no temporary file left behind
  });

  it('disabled, it always computes and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-cache-'));
    const cache = analysisCache(false, dir);
    const c = counter();
    await cache.get('accuracy', { k: 1 }, c.compute);
    expect(await cache.get('accuracy', { k: 1 }, c.compute)).toEqual({ value: { run: 2, figures: [1.5, 2.25] }, cached: false });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names a folder per kind and key for files an analysis writes (beside its entry), and a fresh temporary one without a cache', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-cache-'));
    const cache = analysisCache(true, dir);
    const a = cache.folder('bottleneck', { cut: 'a' });
    expect(cache.folder('bottleneck', { cut: 'a' })).toBe(a);
    expect(cache.folder('bottleneck', { cut: 'b' })).not.toBe(a);
    expect(a.startsWith(join(dir, 'bottleneck-'))).toBe(true);
    const off = analysisCache(false, dir);
    expect(off.folder('bottleneck', { cut: 'a' })).not.toBe(off.folder('bottleneck', { cut: 'a' }));
    expect(readdirSync(dir)).toEqual([]);
  });
});
