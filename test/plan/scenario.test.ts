import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPlanScenario } from '../../src/plan/scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-scenario-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const base = ['devices:', '  edge: raspberry-pi-4', '  server: nvidia-t4', 'links:', '  uplink: wifi'];

describe('plan scenario files', () => {
  it('reads the built-in example with its defaults filled in', () => {
    const s = readPlanScenario(new URL('../../examples/plan/impera.yaml', import.meta.url).pathname);
    expect(s.config.qos).toEqual({ latency: { ms: 100, at: 'p95' }, accuracy: 0.9 });
    expect(s.config.devices).toEqual({ edge: 'raspberry-pi-4', server: 'nvidia-t4' });
    expect(s.config.workload).toEqual({ fps: 10, devices: 1 });
    expect(s.config.explore.placements).toEqual(['local', 'remote', 'split']);
    expect(s.baseDir).toMatch(/examples\/plan$/);
  });

  it('reads the learned-bottleneck example: the built-in setup plus bottleneck training, its defaults filled in', () => {
    const s = readPlanScenario(new URL('../../examples/plan-bottleneck/impera.yaml', import.meta.url).pathname);
    expect(s.config.bottleneck).toEqual({ train: 2, samples: 2000, epochs: 5, ratio: 1 / 64, bits: 8, deflate: true, seed: 1, learningRate: 2e-3, batchSize: 32 });
    expect(s.config.devices).toEqual({ edge: 'raspberry-pi-4', server: 'nvidia-t4' });
    expect(s.config.explore.placements).toEqual(['local', 'remote', 'split']);
  });

  it('fills every default of a minimal scenario', () => {
    const c = readPlanScenario(write('minimal.yaml', base.join('\n'))).config;
    expect(c.workload).toEqual({ fps: 10, devices: 1 });
    expect(c.server).toEqual({ workers: 1 });
    expect(c.explore).toEqual({ cuts: 'candidates', codecs: ['fp32', 'fp16', 'int8+deflate', 'int4+deflate', 'pca:c/4+int8+deflate'], placements: ['local', 'remote', 'split'], finalists: 8 });
    expect([c.samples, c.objective, c.qos, c.transport, c.quality]).toEqual([200, 'max-quality', {}, { protocol: 'tcp' }, undefined]);
    // a section given in part keeps the defaults of the fields it leaves out
    const partial = readPlanScenario(write('partial.yaml', [...base, 'workload: { devices: 4 }', 'explore: { finalists: 2 }'].join('\n'))).config;
    expect(partial.workload).toEqual({ fps: 10, devices: 4 });
    expect(partial.explore.codecs).toHaveLength(5);
    expect(partial.explore.finalists).toBe(2);
  });

  it('names cuts by index, by tensors joined by +, or as {tensors: [...]}, and explores the bytes/head-FLOPs front', () => {
    const listed = readPlanScenario(write('cuts.yaml', [...base, 'explore:', "  cuts: [39, 'a+b', {tensors: [c, d, e]}]", '  exits: { at: [{tensors: [f]}] }', 'data: fashion-mnist'].join('\n'))).config;
    expect(listed.explore.cuts).toEqual([39, 'a+b', { tensors: ['c', 'd', 'e'] }]);
    expect(listed.explore.exits?.at).toEqual([{ tensors: ['f'] }]);
    expect(readPlanScenario(write('pareto.yaml', [...base, 'explore: { cuts: pareto }'].join('\n'))).config.explore.cuts).toBe('pareto');
    expect(() => readPlanScenario(write('empty-cut.yaml', [...base, 'explore: { cuts: [{tensors: []}] }'].join('\n')))).toThrow(/explore.cuts.0.tensors: name at least one tensor/);
    expect(() => readPlanScenario(write('odd-cut.yaml', [...base, 'explore: { cuts: [{tensors: [a], at: 3}] }'].join('\n')))).toThrow(/explore.cuts.0/);
  });

  it('takes data as a source alone or with its preprocessing (a compact string or fields) and labels', () => {
    expect(readPlanScenario(write('data1.yaml', [...base, 'data: images'].join('\n'))).config.data).toEqual({ source: 'images' });
    const fields = readPlanScenario(write('data2.yaml', [...base, 'data:', '  source: lines', '  preprocess: { resize: pad, size: 320x48, mean: 0.5, std: 0.5 }', '  labels: labels.npy'].join('\n'))).config.data;
    expect(fields).toEqual({ source: 'lines', preprocess: { resize: 'pad', size: '320x48', mean: 0.5, std: 0.5 }, labels: 'labels.npy' });
    const compact = readPlanScenario(write('data3.yaml', [...base, 'data: { source: lines, preprocess: "imagenet,order=bgr" }'].join('\n'))).config.data;
    expect(compact).toEqual({ source: 'lines', preprocess: 'imagenet,order=bgr' });
    const bad = write('data4.yaml', [...base, 'data:', '  source: lines', '  preprocess: { order: brg }'].join('\n'));
    expect(() => readPlanScenario(bad)).toThrow(/line 8: data\.preprocess: preprocess field 'order' \('brg'\) invalid option: expected one of "rgb"\|"bgr"/);
  });

  it('reads input values (a number or a list per input) that the model is planned specialised to', () => {
    const c = readPlanScenario(write('values.yaml', [...base, 'inputValues: { sr: 16000, mask: [1, 0] }'].join('\n'))).config;
    expect(c.inputValues).toEqual({ sr: 16000, mask: [1, 0] });
    expect(() => readPlanScenario(write('bad-values.yaml', [...base, 'inputValues: { sr: fast }'].join('\n')))).toThrow(/values.yaml' line 6: inputValues.sr/);
  });

  it('names the file, the line and the field of a wrong type, and what is allowed', () => {
    const file = write('types.yaml', [...base, 'qos:', '  latency: { ms: fast }'].join('\n'));
    expect(() => readPlanScenario(file)).toThrow(new RegExp(`scenario '${file}' line 7: qos.latency.ms: latency.ms must be a number`));
    const obj = write('objective.yaml', [...base, 'objective: cheapest'].join('\n'));
    expect(() => readPlanScenario(obj)).toThrow(/objective.yaml' line 6: objective: must be one of "max-quality", "max-accuracy", "min-latency", "min-energy", "min-bytes", "max-throughput"/);
    const extra = write('extra.yaml', [...base, 'qos:', '  latncy: { ms: 10 }'].join('\n'));
    expect(() => readPlanScenario(extra)).toThrow(/extra.yaml' line 7: qos: unknown field 'latncy'/);
    const acc = write('acc.yaml', [...base, 'qos:', '  accuracy: 90'].join('\n'));
    expect(() => readPlanScenario(acc)).toThrow(/acc.yaml' line 7: qos.accuracy: accuracy must be in \(0, 1\] \(a share, e.g. 0.9 for 90 %\)/);
  });

  it('rejects contradictory constraints and incomplete set-ups before any work', () => {
    const fps = write('fps.yaml', [...base, 'workload: { fps: 10 }', 'qos:', '  throughputFps: 30'].join('\n'));
    expect(() => readPlanScenario(fps)).toThrow(/qos.throughputFps: asks for 30 fps but each device produces only workload.fps = 10/);
    const noServer = write('noserver.yaml', ['devices:', '  edge: raspberry-pi-4'].join('\n'));
    expect(() => readPlanScenario(noServer)).toThrow(/devices.server: placements remote, split need a server/);
    const noLink = write('nolink.yaml', ['devices:', '  edge: raspberry-pi-4', '  server: nvidia-t4'].join('\n'));
    expect(() => readPlanScenario(noLink)).toThrow(/links.uplink: the edge device needs a link to the server/);
    const chain = write('chain.yaml', ['devices:', '  chain: [raspberry-pi-4, jetson-nano, nvidia-t4]', 'links:', '  chain: [wifi]'].join('\n'));
    expect(() => readPlanScenario(chain)).toThrow(/links.chain: a chain of 3 devices needs 2 links, got 1/);
    const exits = write('exits.yaml', [...base, 'explore:', '  exits: { at: [12] }'].join('\n'));
    expect(() => readPlanScenario(exits)).toThrow(/explore.exits: exit branches are trained on labelled data/);
    const peaks = write('peaks.yaml', [...base, 'explore:', '  cuts: peaks'].join('\n'));
    expect(() => readPlanScenario(peaks)).toThrow(/explore.cuts: 'peaks' needs saliency, which needs data/);
    const peaksOff = write('peaks-off.yaml', [...base, 'data: fashion-mnist', 'saliency: false', 'explore:', '  cuts: peaks'].join('\n'));
    expect(() => readPlanScenario(peaksOff)).toThrow(/explore.cuts: 'peaks' needs saliency, which saliency: false turns off/);
    const chainOf = (lines: string[]) => ['data: fashion-mnist', 'devices:', '  chain: [raspberry-pi-4, nvidia-t4]', 'links:', '  chain: [wifi]', ...lines].join('\n');
    expect(() => readPlanScenario(write('chain-energy.yaml', chainOf(['objective: min-energy'])))).toThrow(expect.objectContaining({ message: expect.stringMatching(/objective: min-energy applies to one edge device, not a chain/), hint: expect.stringMatching(/min-latency or max-throughput/) }));
    expect(() => readPlanScenario(write('chain-exits.yaml', chainOf(['explore:', '  exits: { at: [12] }'])))).toThrow(/explore.exits: exits are explored for an edge device and a server, not a chain/);
  });

  it('reports invalid YAML with its line, and a missing file with what to do', () => {
    const bad = write('bad.yaml', ['devices:', '  edge: [raspberry-pi-4', 'links: wifi'].join('\n'));
    expect(() => readPlanScenario(bad)).toThrow(/bad.yaml' is not valid YAML or JSON \(line \d+\)/);
    expect(() => readPlanScenario(join(dir, 'nope.yaml'))).toThrow(/scenario '.*nope.yaml' does not exist/);
  });

  it('refuses an alias bomb ("billion laughs"), a repeated key and an oversized file with one clear line', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`)];
    expect(() => readPlanScenario(write('bomb.yaml', levels.join('\n')))).toThrow(expect.objectContaining({ code: 'BAD_SCENARIO', message: expect.stringMatching(/bomb\.yaml' is not valid YAML or JSON: Excessive alias count/) }));
    expect(() => readPlanScenario(write('twice.yaml', [...base, 'links:', '  uplink: lte'].join('\n')))).toThrow(/twice\.yaml' is not valid YAML or JSON \(line 6\): the key 'links' appears twice in one mapping/);
    expect(() => readPlanScenario(write('big.yaml', `# ${'x'.repeat(2 << 20)}\n${base.join('\n')}`))).toThrow(/big\.yaml' is too large: 2\.0 MiB \(impera reads config files of at most 1 MiB\)/);
  });

  it('reads JSON scenarios too', () => {
    const file = write('s.json', JSON.stringify({ devices: { edge: 'raspberry-pi-4', server: 'nvidia-t4' }, links: { uplink: ['wifi', 'lte'] } }));
    expect(readPlanScenario(file).config.links.uplink).toEqual(['wifi', 'lte']);
  });

  it('reads the quality block and a bound on the metric; refuses what cannot hold before any work', () => {
    const ok = readPlanScenario(write('quality.yaml', [...base, 'quality: { metric: map-iou, threshold: 0.3, outputs: [sigmoid_0.tmp_0] }', 'qos:', '  quality: { min: 0.8 }'].join('\n'))).config;
    expect(ok.quality).toEqual({ metric: 'map-iou', threshold: 0.3, outputs: ['sigmoid_0.tmp_0'] });
    expect(ok.qos.quality).toEqual({ min: 0.8 });
    const custom = readPlanScenario(write('custom.yaml', [...base, 'quality: { metric: "custom:map", module: metric.mjs }', 'qos:', '  quality: { max: 0.05 }'].join('\n'))).config;
    expect(custom.quality).toEqual({ metric: 'custom:map', module: 'metric.mjs' });
    const fail = (name: string, lines: string[], message: RegExp) => expect(() => readPlanScenario(write(name, [...base, ...lines].join('\n')))).toThrow(expect.objectContaining({ code: 'BAD_SCENARIO', message: expect.stringMatching(message) }));
    fail('unknown-metric.yaml', ['quality: { metric: miou }'], /quality.metric: metric must be one of accuracy, top1-agreement, .*token-error-rate, or custom:NAME with module/);
    fail('no-module.yaml', ['quality: { metric: "custom:map" }'], /quality.module: a custom: metric needs module:/);
    fail('both-bounds.yaml', ['qos:', '  quality: { min: 0.8, max: 0.9 }'], /qos.quality: give one of min \(higher-is-better metrics\) or max \(lower-is-better metrics\)/);
    fail('no-bound.yaml', ['qos:', '  quality: {}'], /qos.quality: give one of min/);
    fail('alias-and-quality.yaml', ['qos:', '  accuracy: 0.9', '  quality: { min: 0.8 }'], /qos.accuracy: give qos.quality or qos.accuracy \(its alias for accuracy\), not both/);
    fail('accuracy-of-iou.yaml', ['quality: { metric: map-iou }', 'qos:', '  accuracy: 0.9'], /qos.accuracy: the scenario's metric is map-iou, not accuracy/);
  });
});
