import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfile, modelFingerprint, partMs, PROFILE_FORMAT, saveProfile, type Profile } from '../../src/profile/profile-file.js';
import { chain, residual } from '../helpers/models.js';

function sample(fingerprint: string): Profile {
  return {
    format: PROFILE_FORMAT,
    createdAt: '2026-11-22T00:00:00Z',
    model: { source: 'chain', fingerprint, inputShapes: { x: [1, 3, 8, 8] } },
    device: { kind: 'measured', name: 'host', description: 'test' },
    runtime: { engine: 'onnxruntime-node', version: '1.30.0', executionProvider: 'cpu', threads: 1, graphOptimization: 'all' },
    batch: 1,
    nodes: [{ name: 'c1', opType: 'Conv', ms: 0.1 }],
    parts: [
      { kind: 'full', cut: null, batch: 1, measured: { runs: 5, minMs: 1, medianMs: 1.2, p90Ms: 1.5 } },
      { kind: 'head', cut: 'r1', batch: 1, predictedMs: 0.4 },
    ],
  };
}

describe('profile files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'impera-profile-'));

  it('round-trip and give part timings (measured median first, else predicted)', () => {
    const model = chain();
    const path = join(dir, 'p.json');
    saveProfile(sample(modelFingerprint(model)), path);
    const p = loadProfile(path, model);
    expect(partMs(p, 'full', null)).toBe(1.2);
    expect(partMs(p, 'head', 'r1')).toBe(0.4);
    expect(partMs(p, 'tail', 'r1')).toBeUndefined();
  });

  it('detect a profile made for another model', () => {
    const path = join(dir, 'other.json');
    saveProfile(sample(modelFingerprint(chain())), path);
    expect(() => loadProfile(path, residual())).toThrow(/made for 'chain', not for 'residual'/);
  });

  it('reject corrupt files with the field that is wrong', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...sample('0'.repeat(64)), batch: -1 }));
    expect(() => loadProfile(bad)).toThrow(/profile '.*bad\.json' line 1: batch: /);
    writeFileSync(bad, '{"format": "impera-profile/1", ');
    expect(() => loadProfile(bad)).toThrow(/not valid JSON/);
    expect(() => loadProfile(join(dir, 'none.json'))).toThrow(/does not exist/);
    expect(() => loadProfile(dir)).toThrow(/impera-profile-\w+' cannot be read \(EISDIR/); // not "invalid JSON: profile it again"
  });
});
