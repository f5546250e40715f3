/**
 * bench:plan — cold plans, adaptive evaluation against exhaustive side by side in one run (each with its own empty
 * cache: profiling, saliency, quality of every cut x codec, exit training included), then a warm re-plan after
 * changing one link (analyses from the adaptive run's cache). Checks that both evaluations give the same
 * recommendation and Pareto front and that the recommended configuration's adaptive quality lies within the
 * exhaustive interval. Models: `example` (the built-in scenario, examples/plan/impera.yaml, as `npx impera plan`
 * runs it) and `resnet50` (3 edge devices, 5 links, 5 codecs and 3 exit policies on Fashion-MNIST). Goals: example
 * cold <= 60 s, resnet50 (1,000 images) <= 120 s, warm < 5 s. Besides wall time each run reports this process's
 * CPU seconds (ONNX Runtime's threads included): on a machine shared with other work, wall time measures the load
 * as much as the plan, CPU time much less so.
 *
 *   npm run bench:plan [-- --models example,resnet50 --samples 1000 --exit-train 2000]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { plan } from '../src/plan/planner.js';
import { readPlanScenario, type PlanScenario } from '../src/plan/scenario.js';
import type { PlanResult } from '../src/plan/types.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { arg, machine, ZOO } from './common.js';

const models = arg('models', 'example,resnet50').split(',');
const EXITS: Record<string, string[]> = {
  resnet50: ['/1/layer1/layer1.2/relu_2/Relu_output_0', '/1/layer2/layer2.3/relu_2/Relu_output_0', '/1/layer3/layer3.5/relu_2/Relu_output_0'],
  mobilenet_v2: ['/1/features/features.3/Add_output_0', '/1/features/features.10/Add_output_0', '/1/features/features.16/Add_output_0'],
};

const dir = mkdtempSync(join(tmpdir(), 'impera-bench-plan-'));

/** The zoo model's scenario with these uplinks. */
const zooScenario = (model: string, links: unknown[]) => ({
  name: `bench:plan ${model}`,
  model: join(ZOO, `${model}.onnx`),
  data: 'fashion-mnist',
  samples: Number(arg('samples', '1000')),
  devices: { edge: ['raspberry-pi-4', 'jetson-nano', 'jetson-orin-nano'], server: 'nvidia-t4' },
  links: { uplink: links },
  workload: { fps: 5, devices: 1 },
  qos: { latency: { ms: 200, at: 'p95' }, accuracy: 0.9 },
  objective: 'max-accuracy',
  explore: {
    cuts: 'candidates',
    codecs: ['fp32', 'fp16', 'int8+deflate', 'int4+deflate', 'pca:c/8+int8+deflate'],
    exits: { at: EXITS[model]!, taus: [0.8, 0.9, 0.95], trainSamples: Number(arg('exit-train', '2000')), valSamples: 1000, calSamples: 1000 },
  },
});

/** The model's scenario, cold (`warm` false) or with one link changed for the warm re-plan. */
function scenarioOf(model: string, warm: boolean): PlanScenario {
  if (model === 'example') {
    const s = readPlanScenario(join(PACKAGE_ROOT, 'examples', 'plan', 'impera.yaml'));
    return warm ? { ...s, config: { ...s.config, links: { ...s.config.links, uplink: { preset: 'wifi', loss: 0.01 } } } } : s;
  }
  const file = join(dir, `${model}-${warm ? 'warm' : 'cold'}.yaml`);
  writeFileSync(file, stringify(zooScenario(model, ['3g', 'lte', warm ? { preset: 'wifi', loss: 0.01 } : 'wifi', '5g', 'ethernet'])));
  return readPlanScenario(file);
}

async function timed(label: string, s: PlanScenario, cacheDir: string, exhaustive: boolean): Promise<{ seconds: number; cpuS: number; result: PlanResult }> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let last = 0;
  const { result } = await plan(s, {
    cacheDir,
    exhaustive,
    onProgress: (step, done, total) => {
      if (performance.now() - last > 30_000 || done === total) {
        last = performance.now();
        process.stderr.write(`${label}: ${step} ${done}/${total}\n`);
      }
    },
  });
  const cpu = process.cpuUsage(cpu0);
  return { seconds: (performance.now() - t0) / 1000, cpuS: (cpu.user + cpu.system) / 1e6, result };
}

const steps = (r: PlanResult) => r.timings.steps.map((s) => `  ${s.step.padEnd(44)} ${s.seconds.toFixed(2).padStart(8)} s${s.cached ? '  (cached)' : ''}`).join('\n');
const sameSet = (a: readonly string[], b: readonly string[]) => [...a].sort().join('\n') === [...b].sort().join('\n');

/** One model: adaptive cold, exhaustive cold, adaptive warm; the comparison. */
async function benchModel(model: string) {
  const cacheOf = (name: string) => join(dir, `${model}-${name}-cache`);
  const cold = await timed(`${model} adaptive`, scenarioOf(model, false), cacheOf('adaptive'), false);
  const exhaustive = await timed(`${model} exhaustive`, scenarioOf(model, false), cacheOf('exhaustive'), true);
  const warm = await timed(`${model} warm`, scenarioOf(model, true), cacheOf('adaptive'), false);
  const [a, e] = [cold.result, exhaustive.result];
  const pick = (r: PlanResult) => r.configurations.find((c) => c.id === r.recommendation?.id);
  const [ra, re] = [pick(a), pick(e)];
  const withinCi = ra && re ? re.quality.ci !== undefined && ra.quality.value >= re.quality.ci[0] && ra.quality.value <= re.quality.ci[1] : ra === re;
  console.log(`\n== ${model}: cold adaptive ${cold.seconds.toFixed(1)} s (CPU ${cold.cpuS.toFixed(1)} s), cold exhaustive ${exhaustive.seconds.toFixed(1)} s (CPU ${exhaustive.cpuS.toFixed(1)} s), warm ${warm.seconds.toFixed(2)} s; ${a.configurations.length} configurations`);
  console.log(`adaptive:   ${a.quality.evaluation.mode} — ${JSON.stringify(a.quality.evaluation)}\n${steps(a)}`);
  console.log(`exhaustive:\n${steps(e)}`);
  console.log(`warm re-plan (wifi -> wifi with 1 % loss):\n${steps(warm.result)}`);
  console.log(`recommendation adaptive:   ${a.recommendation?.id ?? `none (nearest miss ${a.nearestMiss?.id})`} ${ra ? `${ra.quality.value} [${ra.quality.ci?.join(', ')}] n=${ra.quality.samples}` : ''}`);
  console.log(`recommendation exhaustive: ${e.recommendation?.id ?? `none (nearest miss ${e.nearestMiss?.id})`} ${re ? `${re.quality.value} [${re.quality.ci?.join(', ')}] n=${re.quality.samples}` : ''}`);
  console.log(`Pareto front: adaptive ${a.pareto.length}, exhaustive ${e.pareto.length}, same ${sameSet(a.pareto, e.pareto)}; feasible ${a.feasible.length} / ${e.feasible.length}`);
  return {
    model,
    cold_s: Number(cold.seconds.toFixed(1)),
    exhaustive_s: Number(exhaustive.seconds.toFixed(1)),
    speedup: Number((exhaustive.seconds / cold.seconds).toFixed(2)),
    cold_cpu_s: Number(cold.cpuS.toFixed(1)),
    exhaustive_cpu_s: Number(exhaustive.cpuS.toFixed(1)),
    cpu_speedup: Number((exhaustive.cpuS / cold.cpuS).toFixed(2)),
    same_recommendation: a.recommendation?.id === e.recommendation?.id && a.nearestMiss?.id === e.nearestMiss?.id,
    same_front: sameSet(a.pareto, e.pareto),
    quality_within_ci: withinCi,
    warm_s: Number(warm.seconds.toFixed(2)),
  };
}

console.log(`bench:plan  ${new Date().toISOString()}  ${machine()}  ${models.join(', ')}`);
try {
  const results = [];
  for (const model of models) results.push(await benchModel(model));
  const first = results[0]!;
  console.log(
    JSON.stringify({ bench: 'plan', cold_s: first.cold_s, exhaustive_s: first.exhaustive_s, speedup: first.speedup, same_recommendation: results.every((r) => r.same_recommendation), warm_s: Math.max(...results.map((r) => r.warm_s)), models: results }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
