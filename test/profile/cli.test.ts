/** `impera profile` and `impera devices` as users run them (built by `npm test` first). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveModel } from '../../src/onnx/io.js';
import { loadProfile, PROFILE_FORMAT, saveProfile, type Profile } from '../../src/profile/profile-file.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { chain, residual } from '../helpers/models.js';

const dir = tmp();
const chainPath = join(dir, 'chain.onnx');
saveModel(chain(), chainPath);
const residualPath = join(dir, 'residual.onnx');
saveModel(residual(), residualPath);

describe('impera devices', () => {
  it('tables the catalog with radios, and prints it as JSON', async () => {
    const r = await impera('devices');
    expect(r.code).toBe(0);
    for (const id of ['raspberry-pi-4', 'jetson-orin-nano', 'nvidia-h100', 'wifi', 'lte']) expect(r.stdout).toMatch(new RegExp(`^${id} `, 'm'));
    const j = JSON.parse((await impera('devices', '--json')).stdout);
    expect(j.devices.find((d: { id: string }) => d.id === 'nvidia-a100').memoryBandwidthGBs).toBe(2039);
  });

  it('rejects a bad user catalog naming the field', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'devices:\n  - id: x\n    name: X\n    kind: tpu\n');
    await expectOneLineError(['devices', '--catalog', bad], /bad\.yaml' line \d+: devices\.0\.kind \(x\)/);
  });
});

describe('impera profile', () => {
  it('measures a model and its cuts, writes the profile, and predicts it for a device from that profile', async () => {
    const out = join(dir, 'chain.json');
    const r = await impera('profile', chainPath, '--cuts', 'r1', '--stages', 'r1,r2', '--threads', '1', '--batch', '2', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/onnxruntime-node .*1 threads/);
    expect(r.stdout).toMatch(/^head +r1 +1 /m); // at batch 1 and at the chosen batch
    expect(r.stdout).toMatch(/^head +r1 +2 /m);
    expect(r.stdout).toMatch(/^stage 2 +r1,r2 +2 /m);
    expect(r.stdout).toMatch(/sum-of-nodes prediction: median \|error\|/);
    const measured = loadProfile(out);
    expect(measured.device.kind).toBe('measured');

    const p = await impera('profile', chainPath, '--cuts', 'r1', '--batch', '2', '--device', 'nvidia-t4', '--calibrate', out, '--json');
    expect(p.code).toBe(0);
    const predicted = JSON.parse(p.stdout) as Profile;
    expect(predicted.device).toMatchObject({ kind: 'predicted', name: 'nvidia-t4', calibratedFrom: out });
    expect(predicted.parts.map((x) => `${x.kind} @${x.batch}`)).toEqual(['full @2', 'head @2', 'tail @2']);
  });

  it('names the known devices for an unknown one', async () => {
    await expectOneLineError(['profile', chainPath, '--device', 'jetson-xavier'], /unknown device 'jetson-xavier'; the catalog knows: raspberry-pi-4, raspberry-pi-5, jetson-nano, jetson-orin-nano, .*nvidia-h100/);
  });

  it('refuses to calibrate on a profile made for another model', async () => {
    const other = join(dir, 'other.json');
    const profile: Profile = {
      format: PROFILE_FORMAT,
      createdAt: '2026-11-22T00:00:00Z',
      model: { source: 'residual.onnx', fingerprint: 'a'.repeat(64), inputShapes: { x: [1, 2, 6, 6] } },
      device: { kind: 'measured', name: 'host', description: 'test' },
      runtime: null,
      batch: 1,
      nodes: [],
      parts: [],
    };
    saveProfile(profile, other);
    await expectOneLineError(['profile', chainPath, '--device', 'nvidia-t4', '--calibrate', other], /was made for 'residual\.onnx', not for .*chain\.onnx' \(fingerprints differ\)/);
  });

  it('rejects a corrupt profile file', async () => {
    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"format": "impera-profile/1", "nodes": [');
    await expectOneLineError(['profile', chainPath, '--device', 'nvidia-t4', '--calibrate', corrupt], /is not valid JSON/);
    writeFileSync(corrupt, JSON.stringify({ format: 'impera-profile/1', batch: 1 }));
    await expectOneLineError(['profile', chainPath, '--device', 'nvidia-t4', '--calibrate', corrupt], /profile '.*corrupt\.json' line 1: createdAt: missing/);
  });

  it('refuses options that only apply to a prediction when measuring', async () => {
    await expectOneLineError(['profile', chainPath, '--calibrate', 'p.json'], /--calibrate applies only with --device/);
    await expectOneLineError(['profile', chainPath, '--dtype', 'int8', '--catalog', 'c.yaml'], /--catalog, --dtype apply only with --device/);
  });

  it('rejects a non-positive thread or batch count', async () => {
    await expectOneLineError(['profile', chainPath, '--threads', '0'], /--threads must be a positive integer, got '0'/);
    await expectOneLineError(['profile', chainPath, '--threads', '-2'], /--threads must be a positive integer/);
    await expectOneLineError(['profile', chainPath, '--batch', '0'], /--batch must be a positive integer, got '0'/);
    await expectOneLineError(['profile', residualPath, '--batch', '1.5'], /--batch must be a positive integer/);
  });
});
