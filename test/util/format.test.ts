import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtFraction, fmtMs, fmtPercent, fmtSignedPercent } from '../../src/util/format.js';

describe('number formats', () => {
  it('show fractions as percentages with one decimal, signed where a change is meant', () => {
    expect(fmtFraction(0.9063)).toBe('90.6%');
    expect(fmtSignedPercent(0.099)).toBe('+9.9%');
    expect(fmtSignedPercent(-0.004)).toBe('-0.4%');
    expect(fmtPercent(1, 8)).toBe('12.5%');
    expect(fmtPercent(1, 0)).toBe('-');
  });

  it('show milliseconds and bytes as tables quote them', () => {
    expect(fmtMs(3.14159)).toBe('3.14');
    expect(fmtMs(31.4159)).toBe('31.4');
    expect(fmtMs(undefined)).toBe('-');
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(150_528)).toBe('150.5 kB');
  });
});
