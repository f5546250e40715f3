/** Learned bottlenecks in the plan (scenario `bottleneck:`), on a model with a known information bottleneck. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { plan } from '../../src/plan/planner.js';
import { readPlanScenario } from '../../src/plan/scenario.js';
import { writeBottleneckFixture } from '../bottlenecks/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-plan-learned-'));
writeBottleneckFixture(dir, 96);
const scenario = (name: string, lines: string[]) => {
  const file = join(dir, name);
  writeFileSync(file, ['model: model.onnx', 'samples: 48', 'devices: { edge: raspberry-pi-4, server: nvidia-t4 }', 'links: { uplink: wifi }', 'explore: { cuts: all, placements: [split], codecs: [fp32, int8+deflate] }', ...lines].join('\n'));
  return readPlanScenario(file);
};

describe('plan with bottleneck: {train: K}', () => {
  it('trains at the best-predicted cut, explores its codec there only, and a second plan takes it from the cache', async () => {
    const s = scenario('learned.yaml', ['data: data.npz', 'calibration: calibration.npz', 'bottleneck: { train: 1, epochs: 2, samples: 96, batchSize: 16 }']);
    const cacheDir = mkdtempSync(join(tmpdir(), 'impera-plan-learned-cache-'));
    const { result } = await plan(s, { cacheDir });
    // 'open' keeps the class in its channel of most variance, constant over positions: predicted 1, ranked first
    expect(result.bottlenecks!.map((b) => [b.cut, b.predicted])).toEqual([['open', 1]]);
    // trained on the 48 images the plan does not test on (a file is one set), 10 % of them validating
    expect(result.bottlenecks![0]!.trainSamples).toBe(43);
    const codec = result.bottlenecks![0]!.codec;
    expect(codec).toMatch(/^learned:.*\+int8\+deflate$/);
    const learned = result.rateQuality.filter((r) => r.codec === codec);
    expect(learned.map((r) => r.cut)).toEqual(['open']);
    // 1/64 of [16, 8, 8] crosses: 16 codes of 8 bits (deflated, with its framing) against 1,024 for int8
    const int8 = result.rateQuality.find((r) => r.cut === 'open' && r.codec === 'int8+deflate')!;
    expect(learned[0]!.bytes).toBeLessThanOrEqual(16 + 8);
    expect(int8.bytes).toBeGreaterThan(10 * learned[0]!.bytes);
    expect(learned[0]!.samples).toBe(48);
    const configs = result.configurations.filter((c) => c.codec === codec);
    expect(configs.map((c) => c.cuts[0]!.id)).toEqual(['open']);
    // its encoder runs on the device: the head's time plus the encoder's, more than the same cut sending int8
    const same = result.configurations.find((c) => c.cuts[0]?.id === 'open' && c.codec === 'int8+deflate')!;
    expect(configs[0]!.latency.breakdown!.deviceMs).toBeGreaterThan(same.latency.breakdown!.deviceMs);
    // and its decoder on the server, before the tail
    expect(configs[0]!.latency.breakdown!.serverMs).toBeGreaterThan(same.latency.breakdown!.serverMs);
    const step = (r: typeof result) => r.timings.steps.find((x) => x.step.startsWith('learned bottlenecks'))!;
    expect(step(result).cached).toBe(false);

    const again = (await plan(s, { cacheDir })).result;
    expect(step(again).cached).toBe(true);
    expect(again.bottlenecks).toEqual(result.bottlenecks);
    expect(again.rateQuality.filter((r) => r.codec === codec)).toEqual(learned);
  }, 300_000);

  it('is refused without data, and its fields are checked', async () => {
    await expect(plan(scenario('nodata.yaml', ['bottleneck: { train: 1 }']), { cache: false })).rejects.toThrow(/bottleneck: training a bottleneck needs images/);
    expect(() => scenario('zero.yaml', ['data: data.npz', 'bottleneck: { train: 0 }'])).toThrow(/bottleneck.train must be at least 1/);
    expect(() => scenario('typo.yaml', ['data: data.npz', 'bottleneck: { train: 1, epoch: 3 }'])).toThrow(/epoch/);
  });
});
