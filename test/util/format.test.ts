import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtFraction, fmtFractionFine, fmtMs, fmtMsFine, fmtMsWide, fmtPercent, fmtPoints, fmtSignedPercent } from '../../src/util/format.js';

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

  it('show percentage points where the column says %, and rare events with three decimals', () => {
    expect(fmtPoints(0.9063)).toBe('90.6');
    expect(fmtPoints(-0.004)).toBe('-0.4');
    expect(fmtPoints(null)).toBe('-');
    expect(fmtPoints(NaN)).toBe('-');
    expect(fmtFractionFine(0.0004)).toBe('0.040%');
    expect(fmtFractionFine(0)).toBe('0.0%');
    expect(fmtFractionFine(0.25)).toBe('25.0%');
    expect(fmtFractionFine(null)).toBe('-');
  });

  it('show milliseconds over orders of magnitude with three digits, and sub-millisecond parts with three decimals', () => {
    expect(fmtMsWide(4321.4)).toBe('4321');
    expect(fmtMsWide(56.74)).toBe('56.7');
    expect(fmtMsWide(8.9)).toBe('8.90');
    expect(fmtMsWide(Infinity)).toBe('-');
    expect(fmtMsFine(0.0421)).toBe('0.042');
    expect(fmtMsFine(3.14159)).toBe('3.14');
    expect(fmtMsFine(undefined)).toBe('-');
  });
});
