/**
 * The planner's analysis cache: profiling, accuracy and bytes of cut x codec, saliency and exit training are
 * minutes of work that depend only on the model, the data and their own parameters — not on links, workload or
 * QoS — so they are kept as JSON files named by a hash of exactly those inputs. Changing a link or a constraint
 * then re-plans from the cache in seconds.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot, contentKey } from './cache.js';

export interface AnalysisCache {
  /** The value for `key`, computed (and stored) on a miss; `cached` says which. */
  get<T>(kind: string, key: unknown, compute: () => Promise<T>): Promise<{ value: T; cached: boolean }>;
  /**
   * A folder for files an analysis writes (a trained model), named like its entry so a cached value may point to
   * it; without a cache, a fresh temporary folder.
   */
  folder(kind: string, key: unknown): string;
}

/** A cache in `dir` (default: <impera cache>/plan), or none (`enabled` false: always compute). */
export function analysisCache(enabled = true, dir = join(cacheRoot(), 'plan')): AnalysisCache {
  return {
    folder: (kind, key) => (enabled ? join(dir, `${kind}-${contentKey(JSON.stringify(key))}`) : mkdtempSync(join(tmpdir(), `impera-${kind}-`))),
    async get<T>(kind: string, key: unknown, compute: () => Promise<T>) {
      if (!enabled) return { value: await compute(), cached: false };
      const file = join(dir, `${kind}-${contentKey(JSON.stringify(key))}.json`);
      if (existsSync(file)) {
        try {
          return { value: JSON.parse(readFileSync(file, 'utf8')) as T, cached: true };
        } catch {
          // a damaged entry (e.g. an interrupted write elsewhere) is recomputed
        }
      }
      const value = await compute();
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(value));
      renameSync(tmp, file);
      return { value, cached: false };
    },
  };
}
