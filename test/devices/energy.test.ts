import { describe, expect, it } from 'vitest';
import { findDevice, findRadio, loadCatalog, type Device } from '../../src/devices/catalog.js';
import { computeEnergyJ, edgeEnergy, radioEnergyJ, radioJoulesPerByte } from '../../src/devices/energy.js';

const catalog = loadCatalog();

describe('edge energy per inference', () => {
  it('charges the radio alpha * rate + beta watts for the time the bytes take', () => {
    const lte = findRadio(catalog, 'lte');
    // 1 MB at 8 Mb/s takes 1 s at 0.43839 * 8 + 1.28804 W
    expect(radioEnergyJ(lte, 1e6, 8)).toBeCloseTo(0.43839 * 8 + 1.28804, 9);
    // a faster link costs less per byte: the fixed beta is paid for less time
    expect(radioJoulesPerByte(lte, 20)).toBeLessThan(radioJoulesPerByte(lte, 5));
    expect(radioJoulesPerByte(findRadio(catalog, 'wifi')) * 1e6).toBeCloseTo(2.32, 2);
  });

  it('adds computing at the active power to sending the cut tensor', () => {
    const pi = findDevice(catalog, 'raspberry-pi-4');
    const wifi = findRadio(catalog, 'wifi');
    expect(computeEnergyJ(pi, 100)).toBeCloseTo(0.64, 12);
    const e = edgeEnergy(pi, wifi, { computeMs: 100, bytesSent: 50_000 });
    expect(e.totalJ).toBeCloseTo(0.64 + radioEnergyJ(wifi, 50_000), 12);
  });

  it('needs power figures', () => {
    const bare: Device = { ...findDevice(catalog, 'raspberry-pi-4'), power: undefined };
    expect(() => computeEnergyJ(bare, 1)).toThrow(/has no power figures/);
  });
});
