import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { constantRate, loadTrace, parseTrace, traceRate } from '../../src/net/rate.js';

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
    expect(bad('0, 1\n1, fast\n')).toThrow(/bad\.csv.*line 2: expected two numbers/);
    expect(bad('0, 1, 2\n')).toThrow(/line 1: expected two numbers/);
    expect(bad('1, 5\n2, 5\n')).toThrow(/line 1: the first time must be 0/);
    expect(bad('0, 5\n2, 5\n1, 5\n')).toThrow(/line 3: times must increase/);
    expect(bad('0, 5\n1, -2\n')).toThrow(/line 2: a rate cannot be negative/);
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
