/** impera's cache folder: `IMPERA_CACHE_DIR`, else ~/.cache/impera (compiled ns-3 programs, planner analyses). */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const cacheRoot = (env: NodeJS.ProcessEnv = process.env): string => env.IMPERA_CACHE_DIR ?? join(homedir(), '.cache', 'impera');

/** A short content hash naming a cache entry. */
export const contentKey = (...parts: (string | Buffer)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
};
