/**
 * bench:setups — Split-Et-Impera's four set-ups (METHODS.md §3) planned for VGG16: local computing, remote
 * computing, split computing at each I-SPLIT candidate (saliency peaks) sending the raw float32 cut tensor, and
 * early exit, over their 1 Gb/s / 100 us link with TCP at 0-5 % packet loss; one plan per loss level (the first
 * fills the cache), the table of every set-up and the configuration the planner chooses (minimum p95 latency at
 * no more than 1 point below the full model's accuracy). Edge: this machine (measured); server: an H100 predicted
 * from the same profile.
 *
 *   npm run bench:setups [-- --samples 100 --exit-train 1000]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { plan } from '../src/plan/planner.js';
import { readPlanScenario } from '../src/plan/scenario.js';
import type { PlanConfiguration, PlanResult } from '../src/plan/types.js';
import { arg, machine, ZOO } from './common.js';

const LOSSES = [0, 0.01, 0.02, 0.03, 0.05];
const dir = mkdtempSync(join(tmpdir(), 'impera-bench-setups-'));
const samples = Number(arg('samples', '100'));
/** Frames per second of the one device, as the DES runs the finalists (printed in the header). */
const FPS = 2;

async function planAt(loss: number, accuracyFloor: number | undefined): Promise<PlanResult> {
  const file = join(dir, `loss-${loss}.yaml`);
  writeFileSync(
    file,
    stringify({
      name: `Split-Et-Impera, VGG16, 1 Gb/s / 100 us, TCP, loss ${100 * loss} %`,
      model: join(ZOO, 'vgg16.onnx'),
      data: 'fashion-mnist',
      samples,
      devices: { edge: 'this-machine', server: 'nvidia-h100' },
      links: { uplink: { preset: 'split-et-impera', loss } },
      transport: { protocol: 'tcp' },
      workload: { fps: FPS, devices: 1 },
      qos: accuracyFloor === undefined ? {} : { accuracy: accuracyFloor },
      objective: 'min-latency',
      explore: {
        cuts: 'peaks',
        codecs: ['fp32'],
        exits: { at: ['/1/features/features.33/MaxPool_output_0'], taus: [0.9], trainSamples: Number(arg('exit-train', '1000')), valSamples: 500, calSamples: 500 },
        finalists: 40,
      },
    }),
  );
  let last = 0;
  const { result } = await plan(readPlanScenario(file), {
    cacheDir: join(dir, 'cache'),
    onProgress: (step, done, total) => {
      if (performance.now() - last > 30_000 || done === total) {
        last = performance.now();
        process.stderr.write(`${step} ${done}/${total}\n`);
      }
    },
  });
  return result;
}

const started = new Date();
console.log(`bench:setups  ${started.toISOString()}  ${machine()}  vgg16, ${samples} test images, workload ${FPS} fps`);
const setup = (c: PlanConfiguration) => (c.placement === 'split' ? (c.exits ? `early exit (#${c.cuts[0]!.index}, tau ${c.exits.threshold})` : `split #${c.cuts[0]!.index}`) : c.placement === 'local' ? (c.exits ? `local + exit (tau ${c.exits.threshold})` : 'local') : `remote (${c.codec})`);
try {
  const first = await planAt(0, undefined);
  const floor = first.quality.full.value - 0.01;
  const rows: string[] = [];
  const chosen: { loss: number; id: string; p95: number }[] = [];
  for (const loss of LOSSES) {
    const t0 = performance.now();
    const r = await planAt(loss, floor);
    const pick = r.configurations.find((c) => c.id === r.recommendation?.id);
    chosen.push({ loss, id: pick ? setup(pick) : 'none', p95: pick?.latency.p95Ms ?? NaN });
    for (const c of r.configurations.filter((x) => x.placement !== 'remote' || /float32|raw image/.test(x.codec))) {
      rows.push(`| ${100 * loss} % | ${setup(c)}${c.id === r.recommendation?.id ? ' **(chosen)**' : ''} | ${c.latency.meanMs.toFixed(2)} | ${c.latency.p95Ms.toFixed(2)} | ${c.latency.p99Ms.toFixed(2)} | ${c.latency.source} | ${Math.round(c.bytes).toLocaleString('en-US')} | ${(100 * c.quality.value).toFixed(1)} | ${c.feasible ? 'yes' : 'no'} |`);
    }
    process.stderr.write(`loss ${100 * loss} %: planned in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  console.log(`\nFull model accuracy ${(100 * first.quality.full.value).toFixed(1)} % on ${samples} images; objective: minimum p95 latency with accuracy >= ${(100 * floor).toFixed(1)} %. Candidates (saliency peaks): ${first.cuts.map((c) => `#${c.index}`).join(', ')}.\n`);
  console.log('| loss | set-up | mean ms | p95 ms | p99 ms | latency from | bytes | accuracy % | feasible |');
  console.log('|---:|---|---:|---:|---:|---|---:|---:|---|');
  console.log(rows.join('\n'));
  console.log(`\nChosen: ${chosen.map((c) => `${100 * c.loss} %: ${c.id} (p95 ${c.p95.toFixed(2)} ms)`).join('; ')}`);
  console.log(JSON.stringify({ bench: 'setups', model: 'vgg16', chosen: chosen.map((c) => ({ loss: c.loss, setup: c.id, p95_ms: Number(c.p95.toFixed(3)) })) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
