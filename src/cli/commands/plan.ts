/**
 * `impera plan [SCENARIO]`: the main job. A scenario (devices, links, workload, QoS) in; every configuration
 * explored, the feasible set, the Pareto front and the recommendation out, as a table, `plan.json` and one
 * self-contained HTML report; `--export DIR` writes the recommended deployment for `impera serve` / `impera edge`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { plan } from '../../plan/planner.js';
import { readPlanScenario } from '../../plan/scenario.js';
import { exportPlan, exportSwitching } from '../../runtime/deploy.js';
import { describeEvaluation, formatQuality } from '../../plan/quality.js';
import { chosen, formatConstraint, latencyAt } from '../../plan/recommend.js';
import type { PlanConfiguration, PlanResult } from '../../plan/types.js';
import { renderReport } from '../../report/html.js';
import { PACKAGE_ROOT } from '../../util/package.js';
import { positiveInt, printJson, printWarnings } from '../common.js';
import { fmtInt, table } from '../table.js';
import { progressBar } from '../progress.js';
import { ImperaError } from '../../errors.js';

const EXAMPLE_SCENARIO = join(PACKAGE_ROOT, 'examples', 'plan', 'impera.yaml');

interface PlanCliOptions {
  out: string;
  export?: string;
  cache: boolean;
  saliency: boolean;
  exhaustive?: boolean;
  catalog: string[];
  top: number;
  json?: boolean;
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('recommend where to cut, what to send and how, for a scenario (devices, links, workload, QoS); writes plan.json and an HTML report')
    .argument('[scenario]', 'scenario file, YAML or JSON (default: the built-in example, examples/plan/impera.yaml)')
    .option('--out <dir>', 'where plan.json and report.html go', 'impera-plan')
    .option('--export <dir>', 'also write the recommended deployment (parts with codec and exits, the runtime config) and the switching plan for an adaptive edge (DIR/switching)')
    .option('--no-cache', 'recompute every analysis (profiles, quality, saliency, exits) instead of reusing cached ones')
    .option('--exhaustive', 'measure every cut x codec on every sample (default: the scenario\'s evaluation, adaptive unless it says exhaustive: each stopped once it cannot change the answer)')
    .option('--no-saliency', 'skip the saliency pass (its peaks are then no candidate cuts); skipped anyway when the scenario lists explore.cuts or says saliency: false')
    .addOption(new Option('--catalog <file>', 'extra device catalog, YAML or JSON (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]).default([]))
    .option('--top <n>', 'configurations in the printed table', positiveInt('--top'), 15)
    .option('--json', 'print plan.json to stdout')
    .action(async (file: string | undefined, o: PlanCliOptions) => {
      const scenario = readPlanScenario(file ?? EXAMPLE_SCENARIO);
      const bar = progressBar('plan', !o.json && process.stderr.isTTY === true);
      let result: PlanResult;
      let context: Awaited<ReturnType<typeof plan>>['context'];
      try {
        ({ result, context } = await plan(scenario, { cache: o.cache, saliency: o.saliency, ...(o.exhaustive ? { exhaustive: true } : {}), catalogFiles: o.catalog, onProgress: (step, done, total) => bar.update(done, total, step) }));
      } finally {
        bar.stop();
      }
      mkdirSync(o.out, { recursive: true });
      const files = [join(o.out, 'plan.json'), join(o.out, 'report.html')];
      writeFileSync(files[0]!, `${JSON.stringify(result, null, 1)}\n`);
      writeFileSync(files[1]!, await renderReport(result));
      if (o.export) {
        const pick = chosen(result);
        if (!pick) throw new ImperaError('BAD_SCENARIO', 'the plan has no configuration to export', 'widen explore (cuts, codecs, placements) or the devices so that at least one configuration exists');
        files.push(...(await exportPlan(pick, context, o.export, result)));
        if (result.switching) files.push(...(await exportSwitching(result.switching, result.configurations, context, o.export, result)));
      }
      if (o.json) return printJson(result);
      printWarnings(result.warnings);
      process.stdout.write(`${summary(result, o.top)}\n\nwrote ${files.join(', ')}\n`);
    });
}

function summary(r: PlanResult, top: number): string {
  const at = r.scenario.qos.latency?.at ?? 'p95';
  const lat = (c: PlanConfiguration) => latencyAt(c, at);
  const order = [...r.feasible, ...r.configurations.filter((c) => !c.feasible).sort((a, b) => lat(a) - lat(b)).map((c) => c.id)];
  const byId = new Map(r.configurations.map((c) => [c.id, c]));
  const rows = order.slice(0, top).map((id, i) => {
    const c = byId.get(id)!;
    const mark = id === r.recommendation?.id ? '>' : r.pareto.includes(id) ? 'P' : c.feasible ? '' : 'x';
    return [mark, i + 1, c.id, lat(c).toFixed(1), c.latency.source, `${formatQuality(c.quality.metric, c.quality.value)}${c.quality.source === 'estimate' ? '~' : ''}${c.quality.stopped ? ` (n=${c.quality.samples})` : ''}`, fmtInt(c.bytes), fmtInt(c.downlinkBytes), c.energyJ === null ? '-' : (1000 * c.energyJ).toFixed(1), (c.edgeMemoryBytes / 1e6).toFixed(1), Number.isFinite(c.throughputFps) ? c.throughputFps.toFixed(0) : 'inf'];
  });
  const q = r.scenario.qos;
  const qos = [
    ...(q.latency ? [`latency ${q.latency.at} <= ${q.latency.limit} ms`] : []),
    ...(q.quality ? [`${r.quality.label} ${q.quality.bound === 'min' ? '>=' : '<='} ${formatQuality(r.quality.metric, q.quality.limit)}`] : []),
    ...(q.edgeMemory ? [`edge memory <= ${(q.edgeMemory.limit / 1e6).toFixed(0)} MB`] : []),
    ...(q.energy ? [`edge energy <= ${(1000 * q.energy.limit).toFixed(1)} mJ`] : []),
    ...(q.bytes ? [`bytes <= ${fmtInt(q.bytes.limit)}`] : []),
    ...(q.throughput ? [`throughput >= ${q.throughput.limit} fps`] : []),
  ];
  return [
    `scenario ${r.scenario.name}`,
    `model    ${r.model.source} · ${fmtInt(r.model.macs / 1e6)} M MACs · ${r.cuts.length} candidate cuts`,
    `devices  ${r.setup.edge}${r.setup.server ? ` -> ${r.setup.links.join(' | ')} -> ${r.setup.server}` : ''} · ${r.setup.workload.devices} x ${r.setup.workload.fps} fps`,
    `qos      ${qos.join(', ') || 'none'} · objective ${r.scenario.objective}`,
    `quality  ${r.quality.label} (${r.quality.metric}, ${r.quality.reason}) on ${r.quality.samples} samples of ${r.quality.data}: ${r.quality.source === 'estimate' ? `estimated, marked ~ (full model ${formatQuality(r.quality.metric, r.quality.full.value)} as stated)` : `full model ${formatQuality(r.quality.metric, r.quality.full.value)}`}`,
    `measured ${describeEvaluation(r.quality)}`,
    '',
    table(['', '#', 'configuration', `${at} ms`, 'latency', r.quality.label, 'bytes up', 'bytes down', 'edge mJ', 'edge MB', 'max fps'], rows, ['left', 'right', 'left', 'right', 'left', 'right', 'right', 'right', 'right', 'right', 'right']),
    `${r.feasible.length} of ${r.configurations.length} configurations feasible, ${r.pareto.length} on the Pareto front (P); > recommended, x infeasible`,
    '',
    ...(r.recommendation?.explanation ?? r.nearestMiss?.explanation ?? []),
    ...(r.nearestMiss ? [`(closest: ${formatConstraint(r.nearestMiss.constraint, r.nearestMiss.value, r.quality.metric)} vs ${formatConstraint(r.nearestMiss.constraint, r.nearestMiss.limit, r.quality.metric)})`] : []),
    ...(r.dads ? ['', `DADS min-cut (${r.setup.edge.split(', ')[0]} -> ${r.setup.links[0]} -> ${r.setup.server}, float32, additive node times): ${r.dads.latencyMs.toFixed(1)} ms, ${r.dads.placement === 'split' ? `sending ${r.dads.tensors.length} tensor(s)` : `all on the ${r.dads.placement === 'edge' ? 'edge' : 'server'}`}; best enumerated cut: ${r.dads.bestCut.latencyMs.toFixed(1)} ms (${r.dads.bestCut.id})`] : []),
    '',
    `time ${r.timings.totalS.toFixed(1)} s: ${r.timings.steps.map((s) => `${s.step} ${s.seconds.toFixed(1)} s${s.cached ? ' (cached)' : ''}`).join(', ')}`,
  ].join('\n');
}
