/** `impera eval` and `impera split --codec` as users run them. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';

describe('impera eval', () => {
  it('tables accuracy and bytes per cut x codec with input baselines, and plots rate-accuracy', async () => {
    const dir = tmp();
    const r = await impera('eval', '--cuts', '39', '--codecs', 'fp32,int8+deflate', '--samples', '32', '--byte-samples', '8', '--calibration-samples', '16', '--jpeg', '50', '--out', join(dir, 'ra.svg'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/full model: accuracy \d+\.\d % \[\d+\.\d, \d+\.\d\] on 32 images/);
    expect(r.stdout).toMatch(/#39 +\/1\/features\/features\.7\/conv\/conv\.2\/Conv_output_0 +fp32 +50,179/);
    expect(r.stdout).toMatch(/int8\+deflate/);
    expect(r.stdout).toMatch(/JPEG q50/);
    expect(readFileSync(join(dir, 'ra.svg'), 'utf8')).toMatch(/bytes per sample on the wire/);
  });

  it('prints JSON for machines', async () => {
    const r = JSON.parse((await impera('eval', '--cuts', '39', '--codecs', 'fp16', '--samples', '16', '--byte-samples', '4', '--calibration-samples', '8', '--no-baselines', '--json')).stdout);
    expect(r.samples).toBe(16);
    expect(r.cuts[0].codecs[0]).toMatchObject({ codec: 'fp16', lossy: true, bytes: { mean: 25_091, samples: 4 } });
    expect(r.baselines).toEqual([]);
  });

  it('rejects unknown codecs, bad bit widths and oversized PCA with one clear line', async () => {
    await expectOneLineError(['eval', '--codecs', 'int8,zip'], /codec 'zip': unknown stage 'zip'/);
    await expectOneLineError(['eval', '--codecs', 'int20'], /bit width 20 is outside 1-16/);
    await expectOneLineError(['eval', '--cuts', '39', '--codecs', 'pca:80+int8', '--samples', '8', '--calibration-samples', '8'], /keeps 80 PCA channels, but '.*' has only 64/);
  });
});

describe('impera split --codec', () => {
  it('exports head and tail with the codec inside, writes codec.json and verifies predictions over the wire', async () => {
    const out = tmp();
    const r = await impera('split', '--at', '39', '--codec', 'int8+deflate', '--calibration-samples', '16', '--out', out, '--verify', '--samples', '8', '--json');
    expect(r.code).toBe(0);
    const manifest = JSON.parse(r.stdout);
    expect(manifest.codec.tensors[0]).toMatchObject({ dtype: 'uint8', bits: 8, wireElements: 12_544 });
    expect(manifest.parts[0].outputs[0].name).toMatch(/::wire$/);
    expect(manifest.codecCheck.agree).toBeGreaterThanOrEqual(7);
    expect(existsSync(join(out, 'codec.json'))).toBe(true);
  });

  it('refuses a codec with several cuts', () => expectOneLineError(['split', '--at', '11,40', '--codec', 'int8', '--out', tmp()], /--codec works with one cut/));
});
