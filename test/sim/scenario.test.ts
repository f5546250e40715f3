import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/onnx/io.js';
import { modelFingerprint, PROFILE_FORMAT, saveProfile, type Profile } from '../../src/profile/profile-file.js';
import { loadScenario } from '../../src/sim/scenario.js';
import { chooseSetups, deployment } from '../../src/sim/setups.js';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { mapModel } from '../helpers/models.js';

const EXAMPLES = join(PACKAGE_ROOT, 'examples', 'scenarios');
const MODEL = join(PACKAGE_ROOT, 'examples', 'mobilenet_v2.onnx');

const minimal = {
  payload: { inputBytes: 602112, cutBytes: 100352, resultBytes: 40 },
  compute: { device: { head: 12, full: 40 }, server: { tail: 2, full: 3 } },
  devices: [{ name: 'cam', count: 2, fps: 10 }],
};

function write(content: unknown, name = 'scenario.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'impera-scenario-'));
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

async function error(content: unknown): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await loadScenario(write(content));
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('no error');
}

describe('scenario files', () => {
  it('load the examples', async () => {
    const sei = await loadScenario(join(EXAMPLES, 'split-et-impera.yaml'));
    expect(sei.payload.cutBytes).toBe(100352);
    expect(sei.groups[0]!.link.loss).toBe(0.01);
    expect(chooseSetups(sei)).toEqual(['local', 'remote', 'split', 'early-exit']);
    const wifi = await loadScenario(join(EXAMPLES, 'wifi-cameras.yaml'));
    expect(wifi.network).toBe('shared');
    expect(chooseSetups(wifi)).toEqual(['remote', 'split']);
    const lte = await loadScenario(join(EXAMPLES, 'lte-trace.yaml'));
    expect(lte.groups[0]!.link.trace?.mbps[0]).toBe(5.85);
    expect(lte.transport).toMatchObject({ protocol: 'udp', udp: { fec: { data: 10, parity: 1 } } });
  });

  it('take cut sizes from a model and a cut (cut 39 of the built-in MobileNetV2: 16x56x56 float32)', async () => {
    const s = await loadScenario(join(EXAMPLES, 'wifi-cameras.yaml'));
    expect(s.payload).toMatchObject({ cutBytes: 50176, inputBytes: 602112, resultBytes: 40, cut: '/1/features/features.7/conv/conv.2/Conv_output_0' });
    const int8 = await loadScenario(write({ ...minimal, payload: undefined, model: { path: MODEL, cut: 39, wire: 'int8' } }));
    expect(int8.payload.cutBytes).toBe(12544);
  });

  it("send every output of the model back: a probability map and a score (16x16 + 1 floats) come down per frame", async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'impera-map-')), 'map.onnx');
    saveModel(mapModel(), path);
    const s = await loadScenario(write({ ...minimal, payload: undefined, model: { path, cut: 'feat' } }));
    expect(s.payload).toMatchObject({ cutBytes: 4 * 16 * 16 * 4, inputBytes: 3 * 16 * 16 * 4, resultBytes: (16 * 16 + 1) * 4 });
    expect(deployment(s, 'split').devices.every((d) => d.downBytes === 1028)).toBe(true);
  });

  it('fill defaults: dedicated Ethernet, TCP, one worker, 60 s', async () => {
    const s = await loadScenario(write(minimal));
    expect([s.network, s.link.name, s.transport.protocol, s.server.workers, s.durationS]).toEqual(['dedicated', 'ethernet', 'tcp', 1, 60]);
    expect(chooseSetups(s)).toEqual(['local', 'remote', 'split']);
  });

  it('become the four Split-Et-Impera set-ups', async () => {
    const s = await loadScenario(write({ ...minimal, earlyExit: { probability: 0.25 }, compute: { ...minimal.compute, device: { head: 12, full: 40, exit: 1 } } }));
    const [local, remote, split, exit] = (['local', 'remote', 'split', 'early-exit'] as const).map((x) => deployment(s, x));
    expect(local!.devices[0]).toMatchObject({ offload: false, compute: { kind: 'fixed', ms: 40 } });
    expect(remote!.devices[0]).toMatchObject({ offload: true, upBytes: 602112, compute: { ms: 0 } });
    expect(remote!.server.compute).toEqual({ kind: 'fixed', ms: 3 });
    expect(split!.devices[0]).toMatchObject({ upBytes: 100352, compute: { ms: 12 }, exitProbability: 0 });
    expect(split!.server.compute).toEqual({ kind: 'fixed', ms: 2 });
    expect(exit!.devices[0]).toMatchObject({ exitProbability: 0.25, exit: { ms: 1 } });
    expect(split!.devices.map((d) => d.name)).toEqual(['cam-0', 'cam-1']);
  });

  it('read compute times from profile files (impera-profile/1) for the cut', async () => {
    const model = loadModel(MODEL);
    const cut = '/1/features/features.7/conv/conv.2/Conv_output_0';
    const profile: Profile = {
      format: PROFILE_FORMAT,
      createdAt: '2026-11-22T00:00:00Z',
      model: { source: MODEL, fingerprint: modelFingerprint(model), inputShapes: { input: [1, 3, 224, 224] } },
      device: { kind: 'predicted', name: 'test-device', description: 'test' },
      runtime: null,
      batch: 1,
      nodes: [],
      parts: [
        { kind: 'full', cut: null, batch: 1, predictedMs: 31 },
        { kind: 'head', cut, batch: 1, measured: { runs: 5, minMs: 11, medianMs: 12.5, p90Ms: 14 } },
        { kind: 'tail', cut, batch: 1, predictedMs: 4.5 },
      ],
    };
    const path = write({ ...minimal, payload: undefined, model: { path: MODEL, cut: 39 }, compute: { device: { profile: 'device.json' }, server: { profile: 'device.json', full: 2 } } });
    saveProfile(profile, join(path, '..', 'device.json'));
    const s = await loadScenario(path);
    expect(s.compute.device).toMatchObject({ head: { ms: 12.5 }, full: { ms: 31 } });
    expect(s.compute.server).toMatchObject({ tail: { ms: 4.5 }, full: { ms: 2 } });
  });
});

describe('bad scenarios', () => {
  it('name the field that is wrong', async () => {
    expect((await error({ ...minimal, devices: [{ fps: -3 }] })).message).toMatch(/devices\.0\.fps: fps must be > 0/);
    expect((await error({ ...minimal, devices: [] })).message).toMatch(/devices: give at least one device group/);
    expect((await error({ ...minimal, sever: { workers: 2 } })).message).toMatch(/scenario '.*' line \d+: \(top level\): unknown field 'sever'/);
    expect((await error({ ...minimal, transport: { protocol: 'quic' } })).message).toMatch(/transport/);
    expect((await error({ ...minimal, server: { workers: 0 } })).message).toMatch(/server\.workers: workers must be at least 1/);
    expect((await error({ ...minimal, compute: { device: { head: { dist: 'normal', mean: 3 } } } })).message).toMatch(/compute\.device\.head/);
    expect((await error('devices: [oops')).message).toMatch(/not valid YAML/);
  });

  it('reject bad links: zero bandwidth, loss outside [0, 1), unknown presets', async () => {
    expect((await error({ ...minimal, network: { link: { upMbps: 0 } } })).message).toMatch(/network\.link\.upMbps: upMbps must be a positive number/);
    expect((await error({ ...minimal, network: { link: { preset: 'lte', loss: 1 } } })).message).toMatch(/network\.link\.loss: loss must be in \[0, 1\)/);
    const unknown = await error({ ...minimal, devices: [{ fps: 10, link: 'gigabit' }] });
    expect(unknown.code).toBe('UNKNOWN_PRESET');
    expect(unknown.message).toMatch(/devices\.0\.link: unknown link preset 'gigabit'/);
  });

  it('report a malformed or missing trace file', async () => {
    const path = write({ ...minimal, network: { link: { preset: 'lte', trace: 'up.csv' } } });
    writeFileSync(join(path, '..', 'up.csv'), '0, 5\n1, x\n');
    await expect(loadScenario(path)).rejects.toThrow(/up\.csv': line 2, field 2 \(Mb\/s\): expected a number/);
    await expect(loadScenario(write({ ...minimal, network: { link: { preset: 'lte', trace: 'none.csv' } } }))).rejects.toThrow(/bandwidth trace '.*none\.csv' does not exist/);
  });

  it('report a missing profile, naming the field that references it', async () => {
    const e = await error({ ...minimal, compute: { device: { profile: 'phone.json' }, server: { tail: 2 } } });
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.message).toMatch(/^compute\.device\.profile: profile '.*phone\.json' does not exist/);
    expect(e.hint).toMatch(/impera profile/);
  });

  it('say what a requested set-up lacks', async () => {
    const s = await loadScenario(write({ ...minimal, compute: { device: { head: 5 }, server: { tail: 1 } }, setups: ['split', 'remote'] }));
    expect(() => chooseSetups(s)).toThrow(/set-up 'remote' needs compute\.server\.full/);
    expect(() => deployment(s, 'local')).toThrow(/^scenario '.*scenario\.yaml': set-up 'local' needs compute\.device\.full$/);
    const none = await loadScenario(write({ ...minimal, compute: { device: {}, server: {} } }));
    expect(() => chooseSetups(none)).toThrow(/no set-up can run: split needs compute\.device\.head, compute\.server\.tail/);
  });

  it('report a missing scenario file and a cut that is not in the model', async () => {
    await expect(loadScenario('/nonexistent/scenario.yaml')).rejects.toThrow(/scenario '\/nonexistent\/scenario\.yaml' does not exist/);
    await expect(loadScenario(write({ ...minimal, model: { path: MODEL, cut: 'no_such_tensor' } }))).rejects.toThrow(/'no_such_tensor' is not a tensor of the model/);
  });
});
