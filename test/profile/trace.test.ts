import { describe, expect, it } from 'vitest';
import { kernelTimes, parseTrace, type TraceEvent } from '../../src/profile/trace.js';

const run = (ts: number, dur: number): TraceEvent => ({ cat: 'Session', name: 'model_run', ts, dur });
const kernel = (name: string, op: string, ts: number, dur: number): TraceEvent => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: op } });

describe('ORT trace parsing', () => {
  const events: TraceEvent[] = [
    { cat: 'Session', name: 'session_initialization', ts: 0, dur: 50 },
    kernel('init_only', 'Conv', 10, 5), // outside any run: ignored
    run(100, 100),
    kernel('conv', 'Conv', 110, 60),
    kernel('relu', 'Relu', 175, 10),
    run(300, 100),
    kernel('relu', 'Relu', 375, 30), // listed out of order: events are sorted by time
    kernel('conv', 'Conv', 305, 40),
    kernel('conv', 'Conv', 350, 20), // a kernel that runs twice in one run (a loop) sums
    run(500, 200),
    kernel('conv', 'Conv', 510, 100),
    kernel('relu', 'Relu', 620, 20),
  ];

  it('assigns kernel events to the run they fall in and ignores the rest', () => {
    const t = parseTrace(events);
    expect(t.runMs).toEqual([0.1, 0.1, 0.2]);
    expect([...t.ops]).toEqual([
      ['conv', 'Conv'],
      ['relu', 'Relu'],
    ]);
    expect(t.runs.map((r) => r.get('conv'))).toEqual([0.06, 0.06, 0.1]);
    expect(t.runs.map((r) => r.get('relu'))).toEqual([0.01, 0.03, 0.02]);
    expect(t.runs.some((r) => r.has('init_only'))).toBe(false);
  });

  it('gives each kernel its median over a window of runs', () => {
    const t = parseTrace(events);
    expect(kernelTimes(t)).toEqual([
      { name: 'conv', opType: 'Conv', ms: 0.06 },
      { name: 'relu', opType: 'Relu', ms: 0.02 },
    ]);
    expect(kernelTimes(t, 2).map((k) => k.ms)).toEqual([0.1, 0.02]);
    expect(kernelTimes(t, 0, 1).map((k) => k.ms)).toEqual([0.06, 0.01]);
  });
});
