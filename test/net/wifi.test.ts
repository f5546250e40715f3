import { describe, expect, it } from 'vitest';
import { aggregate, phyRateMbps, ppduUs, uncontendedUs, type WifiPhy } from '../../src/net/wifi.js';

const ac: WifiPhy = { standard: '802.11ac', mcs: 7, widthMHz: 80, spatialStreams: 1, shortGuard: false, maxAmpduBytes: 65535 };

describe('802.11 PHY rates (the standard MCS tables)', () => {
  it('match the published data rates', () => {
    expect(phyRateMbps(ac)).toBeCloseTo(292.5, 9);
    expect(phyRateMbps({ ...ac, mcs: 9, shortGuard: true })).toBeCloseTo(433.33, 2);
    expect(phyRateMbps({ ...ac, standard: '802.11n', widthMHz: 20 })).toBeCloseTo(65, 9);
    expect(phyRateMbps({ ...ac, standard: '802.11n', widthMHz: 40, shortGuard: true })).toBeCloseTo(150, 9);
    expect(phyRateMbps({ ...ac, mcs: 9, widthMHz: 160, spatialStreams: 2, shortGuard: true })).toBeCloseTo(1733.33, 1);
  });
});

describe('A-MPDU aggregation and airtime', () => {
  const mtuPackets = (n: number) => new Array<number>(n).fill(1500);

  it('packs 42 full-size MPDUs into 65,535 B, as ns-3 does (64,846 B PSDU)', () => {
    const { count, psduBytes } = aggregate(ac, mtuPackets(69), 0, 69);
    expect(count).toBe(42);
    expect(psduBytes).toBe(64846);
    // 444 OFDM symbols of 4 us + the 40 us VHT preamble (ns-3 reports 1,812 us: one symbol less)
    expect(ppduUs(ac, psduBytes)).toBe(1816);
  });

  it('stops at the 64-MPDU Block Ack window, and at the longest PPDU on slow channels', () => {
    expect(aggregate(ac, new Array<number>(100).fill(100), 0, 100).count).toBe(64);
    const slow: WifiPhy = { ...ac, standard: '802.11n', mcs: 0, widthMHz: 20 };
    const { count, psduBytes } = aggregate(slow, mtuPackets(42), 0, 42);
    expect(count).toBeLessThan(5);
    expect(ppduUs(slow, psduBytes)).toBeLessThanOrEqual(5484);
  });

  it('delivers a 100,352 B frame from an idle station in two A-MPDUs (ns-3: 3.05-3.19 ms)', () => {
    const sizes = [...mtuPackets(68), 256 + 28];
    const t = uncontendedUs(ac, sizes);
    expect(t).toBeGreaterThan(3050);
    expect(t).toBeLessThan(3190);
  });
});
