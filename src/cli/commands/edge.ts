/**
 * `impera edge`: run the device side of a split deployment on frames, with fallback when the server cannot answer;
 * optionally keep every frame's outputs as `.npy` and measure their quality under the task's metric. With
 * `--switching`, the edge adapts: it switches between the plan's configurations as the network changes.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadEdgePage, writeEdgePage } from '../../runtime/browser/edge-page.js';
import { loadRuntimeConfig } from '../../runtime/edge/config.js';
import { frameSource, pace } from '../../runtime/edge/frames.js';
import { FrameQuality, saveOutputs } from '../../runtime/edge/quality.js';
import { EdgeRunner, type FrameResult } from '../../runtime/edge/runner.js';
import { AdaptiveEdge, type SwitchRecord } from '../../runtime/edge/adaptive.js';
import { loadSwitchingPlan } from '../../plan/switching.js';
import { ImperaError } from '../../errors.js';
import { formatQuality } from '../../plan/quality.js';
import type { MetricName } from '../../task/types.js';
import { summarize, type RunSummary } from '../../runtime/edge/summary.js';
import { addDataOptions, datasetOptions, positiveInt, positiveNumber, printJson } from '../common.js';
import { progressBar } from '../progress.js';
import { fmtMs as ms, table } from '../table.js';
import { DEFAULT_DATA, NAMED_SOURCES } from '../../data/policy.js';

interface EdgeOptions {
  config?: string;
  switching?: string;
  serverUrl?: string;
  source: string;
  frames?: number;
  fps?: number;
  json?: boolean;
  jsonl?: boolean;
  saveOutputs?: string;
  reference?: string;
  metric?: string;
  threshold?: number;
  metricModule?: string;
  preprocess?: string;
  labels?: string;
  browser?: string;
}

function switchesText(switches: readonly SwitchRecord[]): string {
  return switches.length ? `${table(['frame', 'from', 'to', 'why'], switches.map((x) => [x.frame, x.from, x.to, x.reason]), ['right', 'left', 'left', 'left'])}\n` : 'no switch\n';
}

/** The runner the options ask for: one configuration, or the switching plan's (adaptive). */
async function openRunner(o: EdgeOptions): Promise<{ runner: EdgeRunner | AdaptiveEdge; threads: number; tail?: string }> {
  if (!o.config === !o.switching) throw new ImperaError('BAD_ARGUMENT', 'give one of --config (one configuration) and --switching (an adaptive edge)', 'both are written by `impera plan --export DIR`: DIR/runtime.yaml and DIR/switching/switching.json');
  if (o.config) {
    const config = loadRuntimeConfig(o.config);
    return { runner: await EdgeRunner.open(o.serverUrl ? { ...config, server: { ...config.server, url: o.serverUrl } } : config), threads: config.threads, ...(config.tail ? { tail: config.tail } : {}) };
  }
  const edge = await AdaptiveEdge.open(loadSwitchingPlan(o.switching!), o.switching!, o.serverUrl ? { url: o.serverUrl } : {});
  return { runner: edge, threads: 1 };
}

function summaryText(source: string, s: RunSummary): string {
  const outcomes = Object.entries(s.outcomes).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  const q = s.quality;
  const quality = q ? `${q.label} ${formatQuality(q.metric, q.value)} [${formatQuality(q.metric, q.ci[0])}, ${formatQuality(q.metric, q.ci[1])}] on ${q.samples} frames against ${q.against} (${q.reason})` : `quality: ${s.qualityNote ?? 'not measured'}`;
  const lines = [
    `${s.framesIn} frames in from ${source}, ${s.resultsOut} results out: ${outcomes}`,
    quality,
    table(['stage', 'frames', 'p50 ms', 'p90 ms', 'p99 ms'], s.stages.map((x) => [x.stage.replace(/Ms$/, ''), x.frames, ms(x.p50Ms), ms(x.p90Ms), ms(x.p99Ms)]), ['left', 'right', 'right', 'right', 'right']),
  ];
  if (s.reasons.length) lines.push(table(['fallback / failure', 'frames'], s.reasons.map((r) => [r.reason, r.frames])));
  return `${lines.join('\n')}\n`;
}

function writeBrowserEdge(config: string, dir: string, preprocess: string | undefined): void {
  const files = writeEdgePage(dir, loadEdgePage(config, preprocess, '--preprocess'));
  process.stdout.write(`wrote the browser edge to ${dir} (${files.length} files: ${files.join(', ')}); serve the folder over HTTP and open index.html\n`);
}

export function registerEdge(program: Command): void {
  addDataOptions(program.command('edge'))
    .description('run the head on frames and send the cut to the server, falling back locally when it cannot answer')
    .option('--config <file>', 'runtime configuration (impera-runtime/1, YAML or JSON; see docs/RUNTIME.md)')
    .option('--switching <file>', 'adapt: a switching plan (impera-switching/1, from `impera plan --export`); its options switch as the network changes')
    .option('--server-url <url>', "the server's address (default: the one the configuration names)")
    .option('--source <frames>', `frames: 'synthetic', a dataset (${NAMED_SOURCES.join(', ')}, an image folder, an .npy or .npz file), or comma-separated image files`, DEFAULT_DATA)
    .option('--frames <n>', 'frames to process (default: every image of the source; synthetic: 100)', positiveInt('--frames'))
    .option('--fps <rate>', 'frames per second (default: as fast as they are processed)', positiveNumber('--fps'))
    .option('--json', 'print every frame result and the summary as one JSON object')
    .option('--jsonl', 'print each frame result as a JSON line as it completes, then the summary')
    .option('--save-outputs <dir>', 'write every output of every frame as DIR/frame-NNNNNN.<output>.npy')
    .option('--reference <model>', 'the full model, run here on each frame: quality is measured against its outputs')
    .option('--metric <name>', 'quality metric (default: chosen from the outputs and whether the frames are labelled)')
    .option('--threshold <t>', 'threshold of map metrics (default 0.5)', Number)
    .option('--metric-module <file>', "a user's metric: a JS module exporting score and better")
    .option('--browser <dir>', "write the browser edge for this config into DIR instead of running (a static page that calls server.url; --preprocess says how camera frames become the head's input; docs/BROWSER.md)")
    .action(async (o: EdgeOptions) => {
      if (o.browser) {
        if (!o.config) throw new ImperaError('BAD_ARGUMENT', '--browser writes the page of one configuration: give it with --config', 'the browser edge runs one configuration; the switching plan is for the Node edge');
        return writeBrowserEdge(o.config, o.browser, o.preprocess);
      }
      const { runner, threads, tail } = await openRunner(o);
      const source = frameSource(o.source, runner.inputs, datasetOptions(o));
      const taskOptions = { ...(o.metric ? { metric: o.metric as MetricName } : {}), ...(o.threshold !== undefined ? { threshold: o.threshold } : {}), ...(o.metricModule ? { module: resolve(o.metricModule) } : {}) };
      const quality = await FrameQuality.open(o.reference, { labelled: source.classes > 0, classes: source.classes }, taskOptions, threads, tail);
      const count = o.frames ?? (Number.isFinite(source.size) ? source.size : 100);
      const bar = progressBar('frames', !o.json && !o.jsonl && process.stderr.isTTY === true);
      const results: FrameResult[] = [];
      const start = performance.now();
      try {
        for (let i = 0; i < count; i++) {
          await pace(i, o.fps, start);
          const f = source.frame(i);
          // the frame's due time is its arrival: the adaptive edge counts the wait of frames behind a slow option
          const answer = await runner.processWithOutputs(i, f.feeds, f.label, o.fps ? start + (i * 1000) / o.fps : undefined);
          results.push(answer.result);
          if (o.saveOutputs) saveOutputs(o.saveOutputs, answer);
          await quality.add(answer, f.feeds, f.label);
          if (o.jsonl) process.stdout.write(`${JSON.stringify(answer.result)}\n`);
          bar.update(i + 1, count);
        }
      } finally {
        bar.stop();
        await runner.close();
        await quality.close();
      }
      const summary = summarize(count, results, quality.summary());
      const switches = runner instanceof AdaptiveEdge ? { switches: runner.switches } : {};
      if (o.json) printJson({ source: source.name, frames: results, summary, ...switches });
      else if (o.jsonl) process.stdout.write(`${JSON.stringify({ summary, ...switches })}\n`);
      else process.stdout.write(`${summaryText(source.name, summary)}${switches.switches ? switchesText(switches.switches) : ''}`);
    });
}
