/** Order statistics of timing samples. */
import { median, quantile } from '../util/stats.js';
import type { TimingStats } from './profile-file.js';


export function timingStats(samplesMs: readonly number[]): TimingStats {
  return { runs: samplesMs.length, minMs: Math.min(...samplesMs), medianMs: median(samplesMs), p90Ms: quantile(samplesMs, 0.9) };
}
