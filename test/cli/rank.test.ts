/** `impera rank` as users run it, on a model with a known information bottleneck (test/bottlenecks/fixture.ts). */
import { describe, expect, it } from 'vitest';
import { writeBottleneckFixture } from '../bottlenecks/fixture.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';

const files = writeBottleneckFixture(tmp(), 32);
const common = [files.model, '--data', files.data, '--calibration', files.calibration, '--samples', '32', '--calibration-samples', '32'];

describe('impera rank', () => {
  it('tables every candidate with depth, CUI, each proxy and predicted, the open cut ranked above the bottleneck', async () => {
    const r = await impera('rank', ...common, '--cuts', 'open,hidden');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^32 images of .*data\.npz, bottleneck ratio 1\/64 of the elements; proxies scored by accuracy/m);
    expect(r.stdout).toMatch(/^full model: 100\.0 %$/m);
    expect(r.stdout).toMatch(/cut +tensor +depth +CUI +project +channel +spatial +predicted +rank/);
    expect(r.stdout).toMatch(/#\d+ +open +[\d.]+ +[\d.e+-]+ +100\.0 % +100\.0 % +100\.0 % +100\.0 % +1 *$/m);
    expect(r.stdout).toMatch(/#\d+ +hidden .* 2 *$/m);
    expect(r.stdout).toMatch(/best cut: #\d+ open/);
  });

  it('prints the same as data with --json', async () => {
    const r = await impera('rank', ...common, '--cuts', 'open,hidden', '--ratio', '1/16', '--no-cui', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { ratio: number; candidates: { tensor: string; depth: number; cui: number | null; proxies: Record<string, number>; predicted: number; rank: number; proxyRatios: Record<string, number> }[] };
    expect(j.ratio).toBe(1 / 16);
    expect(j.candidates.map((c) => [c.tensor, c.rank, c.cui])).toEqual([['open', 1, null], ['hidden', 2, null]]);
    expect(j.candidates[0]!.proxies).toEqual({ project: 1, channel: 1, spatial: 1 });
    expect(j.candidates[0]!.proxyRatios).toEqual({ project: 1 / 16, channel: 1 / 16, spatial: 1 / 16 });
    expect(j.candidates[1]!.predicted).toBeLessThan(0.8);
    expect(j.candidates[0]!.depth).toBeLessThan(j.candidates[1]!.depth);
  });

  it('refuses a ratio outside (0, 1) and a cut of two tensors, each in one line', async () => {
    await expectOneLineError(['rank', ...common, '--ratio', '64'], /the ratio '64' is not a share of the elements between 0 and 1/);
    // the built-in example's cut #12 crosses a residual block: two tensors
    await expectOneLineError(['rank', '--cuts', '12', '--samples', '4'], /cut .*\+.* crosses 2 tensors; a bottleneck \(and its predictors\) sits on one tensor/);
  });
});
