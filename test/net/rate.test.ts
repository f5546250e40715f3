import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/util/package.js';
import { constantRate, loadTrace, MAHIMAHI_BIN_MS, parseMahimahiTrace, parseTrace, traceFormat, traceRate } from '../../src/net/rate.js';

describe('a constant rate', () => {
  it('serialises bits at the rate: 8,000 bits at 8 Mb/s take 1 ms', () => {
    expect(constantRate(8).finish(5, 8000)).toBeCloseTo(6, 12);
  });
});

describe('a bandwidth trace', () => {
  const trace = parseTrace('time_s, mbps\n0, 1\n1, 4\n2, 0\n3, 2\n', 'test');

  it('holds each rate until the next row, the last for one more step, then repeats', () => {
    expect(trace.periodS).toBe(4);
    const rate = traceRate(trace);
    expect(rate.meanMbps).toBeCloseTo((1 + 4 + 0 + 2) / 4, 12);
    // 1 Mb/s for the first second: 500 kbit take 0.5 s
    expect(rate.finish(0, 500_000)).toBeCloseTo(500, 9);
    // from 0.5 s: 500 kbit to the end of the first second, then 4 Mb/s: 2 Mbit more take 0.5 s
    expect(rate.finish(500, 2_500_000)).toBeCloseTo(1500, 9);
  });

  it('sends nothing during an outage (0 Mb/s) and resumes after it', () => {
    const rate = traceRate(trace);
    // starting at 2 s (the outage): the first bit goes at 3 s, at 2 Mb/s
    expect(rate.finish(2000, 1_000_000)).toBeCloseTo(3500, 9);
  });

  it('wraps around: the same transfer one period later takes as long', () => {
    const rate = traceRate(trace);
    const once = rate.finish(300, 3_000_000) - 300;
    expect(rate.finish(4300, 3_000_000) - 4300).toBeCloseTo(once, 9);
    // 7 Mbit per period: 14 Mbit from 0 end exactly after two periods
    expect(rate.finish(0, 14_000_000)).toBeCloseTo(8000, 6);
  });

  it('accepts comments, tabs, semicolons and a header line', () => {
    const t = parseTrace('# measured somewhere\ntime\tMbps\n0\t5.85 # start\n0.5;3\n', 'x');
    expect(t.timesS).toEqual([0, 0.5]);
    expect(t.mbps).toEqual([5.85, 3]);
  });
});

describe('malformed trace files', () => {
  const bad = (text: string) => () => parseTrace(text, 'bad.csv');

  it('name the line and say what is wrong', () => {
    expect(bad('0, 1\n1, fast\n')).toThrow(/bad\.csv.*line 2, field 2 \(Mb\/s\): expected a number, got 'fast'/);
    expect(bad('0, 1\nsoon, 3\n')).toThrow(/line 2, field 1 \(time_s\): expected a number, got 'soon'/);
    expect(bad('0, 1, 2\n')).toThrow(/line 1: expected two numbers/);
    expect(bad('1, 5\n2, 5\n')).toThrow(/line 1, field 1 \(time_s\): the first time must be 0/);
    expect(bad('0, 5\n2, 5\n1, 5\n')).toThrow(/line 3, field 1 \(time_s\): times must increase/);
    expect(bad('0, 5\n1, -2\n')).toThrow(/line 2, field 2 \(Mb\/s\): a rate cannot be negative/);
  });

  it('reject traces that cannot carry anything', () => {
    expect(bad('0, 5\n')).toThrow(/needs at least two rows, found 1/);
    expect(bad('# nothing\n')).toThrow(/found 0/);
    expect(bad('0, 0\n1, 0\n')).toThrow(/every rate is 0 Mb\/s/);
  });

  it('are ImperaErrors with a hint on the format', () => {
    try {
      bad('0, x\n')();
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('BAD_TRACE');
      expect((e as { hint: string }).hint).toMatch(/time_s, Mb\/s/);
    }
  });

  it('report a missing file as such', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-trace-'));
    expect(() => loadTrace(join(dir, 'none.csv'))).toThrow(/does not exist/);
    writeFileSync(join(dir, 'ok.csv'), '0, 1\n1, 2\n');
    expect(loadTrace(join(dir, 'ok.csv')).mbps).toEqual([1, 2]);
  });
});

describe("Mahimahi packet-delivery traces", () => {
  /** `perMs` delivery opportunities in every ms from 1 to `ms`. */
  const steady = (perMs: number, ms: number) => Array.from({ length: ms }, (_, i) => `${i + 1}\n`.repeat(perMs)).join('');

  it('read N opportunities per ms as N x 12 Mb/s (1500-byte packets)', () => {
    for (const n of [1, 3]) {
      const t = parseMahimahiTrace(steady(n, 1000), 'steady.up');
      expect(t.periodS).toBe(1);
      expect(t.mbps).toEqual(new Array(1000 / MAHIMAHI_BIN_MS).fill(12 * n));
    }
  });

  it('take mm-link\'s one-line example, "1", as 12 Mb/s repeated every ms', () => {
    const t = parseMahimahiTrace('1\n', 'one.up');
    expect(t).toMatchObject({ timesS: [0], mbps: [12], periodS: 0.001 });
    expect(traceRate(t).finish(0, 12_000 * 5)).toBeCloseTo(5, 9);
  });

  it('count opportunities per bin: a 10 ms step from 2 to 0.5 packets per ms is 24 then 6 Mb/s', () => {
    const fast = Array.from({ length: 10 }, (_, i) => `${i + 1}\n${i + 1}\n`).join('');
    const slow = Array.from({ length: 5 }, (_, i) => `${12 + 2 * i}\n`).join('');
    const t = parseMahimahiTrace(fast + slow, 'step.down', 10);
    // bin (0, 10]: 20 packets; bin (10, 20]: 12, 14, 16, 18, 20
    expect(t.timesS).toEqual([0, 0.01]);
    expect(t.mbps[0]).toBeCloseTo(24, 12);
    expect(t.mbps[1]).toBeCloseTo(6, 12);
    // the mean rate is mm-link's: 25 packets every 20 ms
    expect(traceRate(t).meanMbps).toBeCloseTo((25 * 1500 * 8) / 20 / 1000, 12);
  });

  it("count an opportunity at 0 ms as the previous period's end", () => {
    const t = parseMahimahiTrace('0\n5\n10\n20\n', 'zero.up', 10);
    // (0, 10]: 5, 10; (10, 20]: 20 and 0 (= 20 of the period before)
    expect(t.mbps).toEqual([2.4, 2.4]);
  });

  it('give the last bin its own width when the bin does not divide the period', () => {
    const t = parseMahimahiTrace(steady(1, 250), 'x.up', 100);
    expect(t.timesS).toEqual([0, 0.1, 0.2]);
    t.mbps.forEach((m) => expect(m).toBeCloseTo(12, 12));
  });

  it('are told apart from CSV by extension, by content, or as asked', () => {
    expect(traceFormat('lte.up', '0, 1\n')).toBe('mahimahi');
    expect(traceFormat('lte.csv', '1\n2\n')).toBe('csv');
    expect(traceFormat('lte.txt', '# delivery times\n1\n2\n')).toBe('mahimahi');
    expect(traceFormat('lte.txt', 'time_s, mbps\n0, 1\n')).toBe('csv');
    expect(traceFormat('lte.txt', '0, 1\n', 'mahimahi')).toBe('mahimahi');
    expect(parseTrace('1\n2\n', 'lte.trace').mbps).toEqual([12]);
    expect(() => parseTrace('1\n2\n', 'lte.trace', { format: 'csv' })).toThrow(/expected two numbers/);
  });

  it('name the file, line and field of a malformed line', () => {
    const bad = (text: string) => () => parseMahimahiTrace(text, 'bad.up');
    expect(bad('1\n2\nlater\n')).toThrow(/bandwidth trace 'bad\.up': line 3, field 1 \(delivery time, ms\): expected a whole number >= 0, got 'later'/);
    expect(bad('1\n2.5\n')).toThrow(/line 2, field 1 .*got '2\.5'/);
    expect(bad('1\n-3\n')).toThrow(/line 2, field 1 .*got '-3'/);
    expect(bad('1\n1 2\n')).toThrow(/line 2: expected one delivery time in ms, got '1 2'/);
    expect(bad('5\n# note\n3\n')).toThrow(/line 3, field 1 .*times must not decrease, got 3 after 5/);
    expect(bad('0\n0\n')).toThrow(/the last delivery time must be > 0 ms/);
    expect(bad('# empty\n')).toThrow(/has no delivery times/);
    try {
      bad('x\n')();
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('BAD_TRACE');
      expect((e as { hint: string }).hint).toMatch(/Mahimahi/);
    }
  });

  it('load from a file by extension', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-trace-'));
    writeFileSync(join(dir, 'link.down'), steady(2, 200));
    expect(loadTrace(join(dir, 'link.down')).mbps).toEqual([24, 24]);
    expect(loadTrace(join(dir, 'link.down'), { binMs: 200 }).mbps).toEqual([24]);
  });
});

describe('the example traces (examples/traces/, scripts/make-example-traces.mjs)', () => {
  it('load in both formats and swing by more than 10x between their lowest and highest rates', () => {
    for (const file of ['lte-swing.csv', 'lte-swing.up']) {
      const t = loadTrace(join(PACKAGE_ROOT, 'examples', 'traces', file));
      const live = t.mbps.filter((r) => r > 0);
      expect(Math.max(...live) / Math.min(...live), file).toBeGreaterThan(10);
      expect(t.periodS, file).toBeGreaterThanOrEqual(30);
    }
  });
});
