/** `impera plan` as users run it: a small real scenario, a cold cache, the report, the export and bad scenarios. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRuntimeConfig } from '../../src/runtime/edge/config.js';
import { loadSwitchingPlan } from '../../src/plan/switching.js';
import { loadModel } from '../../src/onnx/io.js';
import { createSession } from '../../src/ort/session.js';
import { EXAMPLE_DATA } from '../../src/util/package.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-plan-'));
const scenario = (name: string, extra: string[] = [], qos = ['  latency: { ms: 150, at: p95 }', '  accuracy: 0.5']) => {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      `data: ${EXAMPLE_DATA}`,
      'samples: 24',
      'devices:',
      '  edge: raspberry-pi-4',
      '  server: nvidia-t4',
      'links:',
      '  uplink: wifi',
      'qos:',
      ...qos,
      'explore:',
      '  cuts: [39, 41]',
      '  codecs: [fp32, int8+deflate]',
      ...extra,
    ].join('\n'),
  );
  return file;
};

describe('impera plan', () => {
  beforeAll(() => {
    // a cold cache: every analysis runs for real
    process.env.IMPERA_CACHE_DIR = join(dir, 'cache');
  });

  it('explores local, remote and split at each cut x codec, recommends, and writes plan.json and the report', async () => {
    const out = tmp();
    const r = await impera('plan', scenario('all.yaml'), '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/devices {2}raspberry-pi-4 \(predicted\) -> wifi -> nvidia-t4 \(predicted\)/);
    expect(r.stdout).toMatch(/^> +1 +\S/m);
    expect(r.stdout).toMatch(/Recommended: .* p95 latency [\d.]+ ms, top-1 accuracy [\d.]+ %/);
    expect(r.stdout).toMatch(/quality {2}top-1 accuracy \(accuracy, chosen: .*\) on 24 samples of /);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8'));
    // local, 5 remote input encodings (float32 tensor, raw image, PNG, JPEG q90, q50), 2 cuts x 2 codecs
    expect(plan.configurations).toHaveLength(1 + 5 + 4);
    expect(plan.configurations.map((c: { id: string }) => c.id)).toContain('split #39 int8+deflate');
    expect(plan.quality).toMatchObject({ metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', source: 'measured', samples: 24, full: { metric: 'accuracy', source: 'measured' } });
    // 24 samples are less than the first round (32): adaptive evaluation measures everything on all of them
    expect(plan.quality.evaluation).toEqual({ mode: 'adaptive', measured: 4, full: 4, stopped: {}, ruledOut: [] });
    expect(r.stdout).toMatch(/^measured adaptive: 4 of 4 cut x codec on all 24 samples$/m);
    expect(plan.configurations.every((c: { downlinkBytes: number; placement: string }) => c.downlinkBytes === (c.placement === 'local' ? 0 : 40))).toBe(true); // 10 logits back
    expect(plan.recommendation.id).toBe(plan.feasible[0]);
    expect(plan.timings.steps.map((s: { cached: boolean }) => s.cached)).not.toContain(true);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain(plan.recommendation.id);
    // the scenario lists its cuts: no saliency pass, and the plan and the report say why
    expect(plan.saliency).toBeNull();
    expect(plan.saliencySkipped).toBe('the scenario lists the cuts to explore (explore.cuts), so saliency peaks are not needed');
    expect(html).toContain('No saliency pass in this plan: the scenario lists the cuts to explore (explore.cuts)');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);

    // the same scenario again: every analysis from the cache
    const again = JSON.parse((await impera('plan', scenario('all.yaml'), '--out', tmp(), '--json')).stdout);
    expect(again.timings.steps.filter((s: { step: string }) => /profile|quality|saliency/.test(s.step)).every((s: { cached: boolean }) => s.cached)).toBe(true);
    expect(again.recommendation.id).toBe(plan.recommendation.id);
  });

  it('exports the recommended split: head with codec, tail in a model repository, and a valid runtime config', async () => {
    const deploy = tmp();
    const r = await impera('plan', scenario('split.yaml', ['  placements: [split]']), '--out', tmp(), '--export', deploy);
    expect(r.code).toBe(0);
    const config = loadRuntimeConfig(join(deploy, 'runtime.yaml'));
    expect(config.server).toMatchObject({ model: 'tail', protocol: 'binary' });
    expect(existsSync(join(deploy, 'server', 'tail.onnx'))).toBe(true);
    const head = await createSession(loadModel(config.head).proto, deploy);
    const chosen = JSON.parse(readFileSync(join(deploy, 'configuration.json'), 'utf8')).configuration;
    expect(head.outputNames[0]).toMatch(chosen.codec === 'fp32' ? /Output_0$|output_0$/ : /::wire$/);
    await head.release();
    // the switching plan beside it: the recommendation first, every option's runtime and its tail in one repository
    const switching = loadSwitchingPlan(join(deploy, 'switching', 'switching.json'));
    expect(switching.options[0]!.id).toBe(chosen.id);
    for (const o of switching.options) {
      expect(loadRuntimeConfig(join(deploy, 'switching', o.runtime!)).server.model).toBe(o.name);
      expect(existsSync(join(deploy, 'switching', 'server', o.name, 'model.onnx'))).toBe(true);
    }
  });

  it('when nothing is feasible, says which constraint is closest and by how much', async () => {
    const r = await impera('plan', scenario('tight.yaml', [], ['  latency: { ms: 0.01, at: p95 }']), '--out', tmp());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Nothing meets every constraint. Closest: .*, whose latency is [\d.]+ ms against 0.0 ms/);
  });

  it('rejects an unknown device, a missing model and a bad field, naming the field', async () => {
    const unknown = join(dir, 'unknown.yaml');
    writeFileSync(unknown, readFileSync(scenario('u.yaml'), 'utf8').replace('raspberry-pi-4', 'raspberry-pi-9'));
    await expectOneLineError(['plan', unknown, '--out', tmp()], /devices.edge: unknown device 'raspberry-pi-9'; the catalog knows: raspberry-pi-4/);
    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, `model: nope.onnx\n${readFileSync(scenario('m.yaml'), 'utf8')}`);
    await expectOneLineError(['plan', missing, '--out', tmp()], /model: model file '.*nope.onnx' does not exist/);
    await expectOneLineError(['plan', scenario('bad.yaml', ['  finalists: many']), '--out', tmp()], /bad.yaml' line 14: explore.finalists: /);
    // a bound the metric in use cannot have: named once the metric is known
    await expectOneLineError(['plan', scenario('ceiling.yaml', [], ['  quality: { max: 0.05 }']), '--out', tmp()], /qos\.quality\.max: the task's metric is top-1 accuracy \(accuracy, higher is better\), so it takes a floor/);
  });
});
