/** `impera edge`: run the device side of a split deployment on frames, with fallback when the server cannot answer. */
import type { Command } from 'commander';
import { loadRuntimeConfig } from '../../runtime/edge/config.js';
import { frameSource, pace } from '../../runtime/edge/frames.js';
import { EdgeRunner, type FrameResult } from '../../runtime/edge/runner.js';
import { summarize, type RunSummary } from '../../runtime/edge/summary.js';
import { addDataOptions, datasetOptions, positiveInt, positiveNumber, printJson } from '../common.js';
import { progressBar } from '../progress.js';
import { fmtFraction, fmtMs as ms, table } from '../table.js';
import { DEFAULT_DATA, NAMED_SOURCES } from '../../data/policy.js';

interface EdgeOptions {
  config: string;
  source: string;
  frames?: number;
  fps?: number;
  json?: boolean;
  jsonl?: boolean;
  preprocess?: string;
  labels?: string;
}

function summaryText(source: string, s: RunSummary): string {
  const outcomes = Object.entries(s.outcomes).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  const lines = [
    `${s.framesIn} frames in from ${source}, ${s.resultsOut} results out: ${outcomes}${s.accuracy !== undefined ? `; accuracy ${fmtFraction(s.accuracy)}` : ''}`,
    table(['stage', 'frames', 'p50 ms', 'p90 ms', 'p99 ms'], s.stages.map((x) => [x.stage.replace(/Ms$/, ''), x.frames, ms(x.p50Ms), ms(x.p90Ms), ms(x.p99Ms)]), ['left', 'right', 'right', 'right', 'right']),
  ];
  if (s.reasons.length) lines.push(table(['fallback / failure', 'frames'], s.reasons.map((r) => [r.reason, r.frames])));
  return `${lines.join('\n')}\n`;
}

export function registerEdge(program: Command): void {
  addDataOptions(program.command('edge'))
    .description('run the head on frames and send the cut to the server, falling back locally when it cannot answer')
    .requiredOption('--config <file>', 'runtime configuration (impera-runtime/1, YAML or JSON; see docs/RUNTIME.md)')
    .option('--source <frames>', `frames: 'synthetic', a dataset (${NAMED_SOURCES.join(', ')}, an image folder, an .npy or .npz file), or comma-separated image files`, DEFAULT_DATA)
    .option('--frames <n>', 'frames to process (default: every image of the source; synthetic: 100)', positiveInt('--frames'))
    .option('--fps <rate>', 'frames per second (default: as fast as they are processed)', positiveNumber('--fps'))
    .option('--json', 'print every frame result and the summary as one JSON object')
    .option('--jsonl', 'print each frame result as a JSON line as it completes, then the summary')
    .action(async (o: EdgeOptions) => {
      const config = loadRuntimeConfig(o.config);
      const runner = await EdgeRunner.open(config);
      const source = frameSource(o.source, runner.inputs, datasetOptions(o));
      const count = o.frames ?? (Number.isFinite(source.size) ? source.size : 100);
      const bar = progressBar('frames', !o.json && !o.jsonl && process.stderr.isTTY === true);
      const results: FrameResult[] = [];
      const start = performance.now();
      try {
        for (let i = 0; i < count; i++) {
          await pace(i, o.fps, start);
          const f = source.frame(i);
          const r = await runner.process(i, f.feeds, f.label);
          results.push(r);
          if (o.jsonl) process.stdout.write(`${JSON.stringify(r)}\n`);
          bar.update(i + 1, count);
        }
      } finally {
        bar.stop();
        await runner.close();
      }
      const summary = summarize(count, results);
      if (o.json) printJson({ source: source.name, frames: results, summary });
      else if (o.jsonl) process.stdout.write(`${JSON.stringify({ summary })}\n`);
      else process.stdout.write(summaryText(source.name, summary));
    });
}
