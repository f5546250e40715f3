/**
 * bench:plan — the planner on ResNet-50 with 3 edge devices, 5 links, 5 codecs and 3 exit policies: a cold plan
 * (empty cache: profiling, saliency, accuracy of every cut x codec, exit training included) and a warm re-plan
 * after changing one link (analyses from the cache; exploration, simulation and decision redone). Goal: warm
 * under 5 s.
 *
 *   npm run bench:plan [-- --model resnet50 --samples 200 --exit-train 2000]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { plan } from '../src/plan/planner.js';
import { readPlanScenario } from '../src/plan/scenario.js';
import type { PlanResult } from '../src/plan/types.js';
import { arg, machine, ZOO } from './common.js';

const model = arg('model', 'resnet50');
const EXITS: Record<string, string[]> = {
  resnet50: ['/1/layer1/layer1.2/relu_2/Relu_output_0', '/1/layer2/layer2.3/relu_2/Relu_output_0', '/1/layer3/layer3.5/relu_2/Relu_output_0'],
  mobilenet_v2: ['/1/features/features.3/Add_output_0', '/1/features/features.10/Add_output_0', '/1/features/features.16/Add_output_0'],
};

const dir = mkdtempSync(join(tmpdir(), 'impera-bench-plan-'));
const cacheDir = join(dir, 'cache');
const scenario = (links: unknown[]) => ({
  name: `bench:plan ${model}`,
  model: join(ZOO, `${model}.onnx`),
  data: 'fashion-mnist',
  samples: Number(arg('samples', '200')),
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

async function timed(links: unknown[], label: string): Promise<{ seconds: number; result: PlanResult }> {
  const file = join(dir, `${label}.yaml`);
  writeFileSync(file, stringify(scenario(links)));
  const t0 = performance.now();
  let last = 0;
  const { result } = await plan(readPlanScenario(file), {
    cacheDir,
    onProgress: (step, done, total) => {
      if (performance.now() - last > 30_000 || done === total) {
        last = performance.now();
        process.stderr.write(`${label}: ${step} ${done}/${total}\n`);
      }
    },
  });
  return { seconds: (performance.now() - t0) / 1000, result };
}

const started = new Date();
console.log(`bench:plan  ${started.toISOString()}  ${machine()}  ${model}`);
try {
  const cold = await timed(['3g', 'lte', 'wifi', '5g', 'ethernet'], 'cold');
  const warm = await timed(['3g', 'lte', { preset: 'wifi', loss: 0.01 }, '5g', 'ethernet'], 'warm');
  const steps = (r: PlanResult) => r.timings.steps.map((s) => `  ${s.step.padEnd(40)} ${s.seconds.toFixed(2).padStart(8)} s${s.cached ? '  (cached)' : ''}`).join('\n');
  console.log(`\ncold plan: ${cold.seconds.toFixed(1)} s, ${cold.result.configurations.length} configurations, ${cold.result.feasible.length} feasible\n${steps(cold.result)}`);
  console.log(`\nwarm re-plan (wifi -> wifi with 1 % loss): ${warm.seconds.toFixed(2)} s, ${warm.result.configurations.length} configurations\n${steps(warm.result)}`);
  for (const [label, r] of [['cold', cold.result], ['warm', warm.result]] as const) console.log(`\n${label}: ${(r.recommendation?.explanation ?? r.nearestMiss?.explanation ?? []).join('\n')}`);
  console.log(JSON.stringify({ bench: 'plan', model, cold_s: Number(cold.seconds.toFixed(1)), warm_s: Number(warm.seconds.toFixed(2)), configurations: warm.result.configurations.length }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
