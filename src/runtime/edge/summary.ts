/** What a run of the edge runner did: frames in and results out, outcomes, quality under the task's metric, latency per stage. */
import { quantile } from '../../util/stats.js';
import type { EdgeQuality } from './quality.js';
import type { FrameResult, FrameTimings, Outcome } from './runner.js';

export interface StageSummary {
  stage: keyof FrameTimings;
  frames: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export interface RunSummary {
  framesIn: number;
  resultsOut: number;
  outcomes: Record<Outcome, number>;
  /** Quality of the answers under the task's metric (quality.ts), or why there is none. */
  quality?: EdgeQuality;
  qualityNote?: string;
  stages: StageSummary[];
  /** Fallback and failure reasons with their counts. */
  reasons: { reason: string; frames: number }[];
}

const STAGES: (keyof FrameTimings)[] = ['totalMs', 'headMs', 'encodeMs', 'requestMs', 'serverQueueMs', 'serverComputeMs', 'localMs'];

/** Reasons differ in details (the next try in N ms): count them by their first clause. */
const reasonKey = (r: string): string => r.split(/[;(]/)[0]!.trim();

export function summarize(framesIn: number, results: readonly FrameResult[], quality?: { quality: EdgeQuality } | { note: string }): RunSummary {
  const outcomes: Record<Outcome, number> = { server: 0, exit: 0, local: 0, failed: 0 };
  for (const r of results) outcomes[r.outcome]++;
  const stages = STAGES.flatMap((stage) => {
    const values = results.map((r) => r.timings[stage]).filter((v): v is number => v !== undefined);
    return values.length ? [{ stage, frames: values.length, p50Ms: quantile(values, 0.5), p90Ms: quantile(values, 0.9), p99Ms: quantile(values, 0.99) }] : [];
  });
  const reasons = new Map<string, number>();
  for (const r of results) if (r.reason) reasons.set(reasonKey(r.reason), (reasons.get(reasonKey(r.reason)) ?? 0) + 1);
  return {
    framesIn,
    resultsOut: results.length,
    outcomes,
    ...(quality && 'quality' in quality ? { quality: quality.quality } : quality ? { qualityNote: quality.note } : {}),
    stages,
    reasons: [...reasons].map(([reason, frames]) => ({ reason, frames })),
  };
}
