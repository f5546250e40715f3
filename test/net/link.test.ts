import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LINK_PRESETS, parseLinkSpec, resolveLink } from '../../src/net/link.js';

describe('link presets', () => {
  it("carry Neurosurgeon's uplinks, Split-Et-Impera's link, 5G, Ethernet and Wi-Fi cells", () => {
    expect(resolveLink('3g').up.meanMbps).toBe(1.1);
    expect(resolveLink('lte').up.meanMbps).toBe(5.85);
    expect(resolveLink('wifi').up.meanMbps).toBe(18.88);
    const sei = resolveLink('split-et-impera');
    expect([sei.up.meanMbps, sei.down.meanMbps, sei.delayMs]).toEqual([1000, 1000, 0.1]);
    expect(resolveLink('5g').up.meanMbps).toBeGreaterThan(resolveLink('lte').up.meanMbps);
    expect(resolveLink('ethernet').framing).toBe('ethernet');
    expect(resolveLink('wifi-ac').wifi?.standard).toBe('802.11ac');
    expect(resolveLink('wifi-ac').up.meanMbps).toBeCloseTo(292.5, 9);
    for (const name of Object.keys(LINK_PRESETS)) expect(resolveLink(name).name).toBe(name);
  });

  it('take overrides field by field', () => {
    const l = resolveLink({ preset: 'lte', loss: 0.02, delayMs: 40, jitterMs: 5 });
    expect([l.up.meanMbps, l.loss, l.delayMs, l.jitterMs, l.mtu]).toEqual([5.85, 0.02, 40, 5, 1500]);
    const custom = resolveLink({ upMbps: 20, downMbps: 100, delayMs: 3 });
    expect([custom.up.meanMbps, custom.down.meanMbps, custom.framing]).toEqual([20, 100, 'ethernet']);
    expect(resolveLink({ preset: 'wifi-ac', wifi: { mcs: 9, shortGuard: true } }).up.meanMbps).toBeCloseTo(433.33, 1);
  });

  it('drive the uplink from a bandwidth trace file relative to the scenario', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-link-'));
    writeFileSync(join(dir, 'up.csv'), '0, 2\n1, 6\n');
    const l = resolveLink({ preset: 'lte', trace: 'up.csv' }, { baseDir: dir });
    expect(l.up.constant).toBe(false);
    expect(l.up.meanMbps).toBe(4);
    expect(l.down.meanMbps).toBe(5.85);
  });
});

describe('bad links', () => {
  const error = (config: unknown) => {
    try {
      resolveLink(config, { where: 'network.link' });
    } catch (e) {
      return e as { code: string; message: string; hint: string };
    }
    throw new Error('no error');
  };

  it('reject zero or negative bandwidth, naming the field', () => {
    for (const v of [0, -5]) {
      const e = error({ upMbps: v });
      expect(e.code).toBe('BAD_LINK');
      expect(e.message).toMatch(/^network\.link\.upMbps: upMbps must be a positive number of Mb\/s/);
    }
    expect(error({ preset: 'lte', downMbps: -1 }).message).toMatch(/network\.link\.downMbps/);
  });

  it('reject loss outside [0, 1)', () => {
    expect(error({ upMbps: 10, loss: 1 }).message).toMatch(/network\.link\.loss: loss must be in \[0, 1\)/);
    expect(error({ upMbps: 10, loss: -0.1 }).message).toMatch(/loss must be in \[0, 1\)/);
    expect(error({ upMbps: 10, downLoss: 1.5 }).message).toMatch(/downLoss/);
  });

  it('reject an unknown preset and list the known ones', () => {
    const e = error('4g');
    expect(e.code).toBe('UNKNOWN_PRESET');
    expect(e.message).toMatch(/unknown link preset '4g'/);
    expect(e.hint).toMatch(/3g, lte, wifi, split-et-impera/);
    expect(error({ preset: 'wlan', loss: 0.1 }).code).toBe('UNKNOWN_PRESET');
  });

  it('reject unknown fields, a missing rate and an impossible MCS', () => {
    expect(error({ upMbps: 10, bandwith: 5 }).message).toMatch(/Unrecognized key.*bandwith/i);
    expect(error({ delayMs: 5 }).message).toMatch(/give a preset or an upload rate/);
    expect(error({ preset: 'wifi-n', wifi: { mcs: 9 } }).message).toMatch(/802\.11n has MCS 0-7/);
  });

  it('report a malformed trace file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-link-'));
    writeFileSync(join(dir, 'bad.csv'), '0, 1\n1, lots\n');
    expect(() => resolveLink({ preset: 'lte', trace: 'bad.csv' }, { baseDir: dir })).toThrow(/bad\.csv': line 2, field 2 \(Mb\/s\): expected a number/);
  });
});

describe('link specs: one reading for command lines and scenarios', () => {
  it('tell a preset, RATE/DELAY (with or without units) and a link file apart', () => {
    expect(parseLinkSpec('lte')).toEqual({ kind: 'preset', name: 'lte' });
    expect(parseLinkSpec(' 10/5 ')).toEqual({ kind: 'rate', mbps: 10, delayMs: 5 });
    expect(parseLinkSpec('100mbit/20ms')).toEqual({ kind: 'rate', mbps: 100, delayMs: 20 });
    expect(parseLinkSpec('2.5Mbps / 0.5ms')).toEqual({ kind: 'rate', mbps: 2.5, delayMs: 0.5 });
    expect(parseLinkSpec('links/uplink.yml')).toEqual({ kind: 'file', path: 'links/uplink.yml' });
    expect(parseLinkSpec('uplink.JSON')).toEqual({ kind: 'file', path: 'uplink.JSON' });
    for (const other of ['10', '10/5/1', 'a/b']) expect(parseLinkSpec(other).kind).toBe('preset');
    expect(parseLinkSpec('trace:traces/lte.up/20')).toEqual({ kind: 'trace', path: 'traces/lte.up', delayMs: 20 });
    expect(parseLinkSpec('trace:lte.csv/2.5ms')).toEqual({ kind: 'trace', path: 'lte.csv', delayMs: 2.5 });
    expect(parseLinkSpec('trace:traces/lte.csv')).toEqual({ kind: 'trace', path: 'traces/lte.csv', delayMs: 0 });
  });

  it('build trace:FILE/DELAY as the trace up, its mean rate down, that delay, over Ethernet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-link-'));
    // 3 packets per ms for 100 ms, then 1 per ms for 100 ms: 36 then 12 Mb/s, mean 24
    writeFileSync(join(dir, 'swing.up'), [...Array.from({ length: 100 }, (_, i) => `${i + 1}\n`.repeat(3)), ...Array.from({ length: 100 }, (_, i) => `${i + 101}\n`)].join(''));
    const l = resolveLink('trace:swing.up/15', { where: '--link', baseDir: dir });
    expect(l.trace!.mbps).toEqual([36, 12]);
    expect([l.up.meanMbps, l.down.meanMbps, l.delayMs, l.framing, l.name]).toEqual([24, 24, 15, 'ethernet', 'trace swing.up, 15 ms']);
    expect(() => resolveLink('trace:none.csv/5', { where: '--link', baseDir: dir })).toThrow(/bandwidth trace '.*none\.csv' does not exist/);
  });

  it('build RATE/DELAY as that rate both ways and that one-way delay over Ethernet', () => {
    const l = resolveLink('100mbit/20ms');
    expect([l.up.meanMbps, l.down.meanMbps, l.delayMs, l.framing, l.name]).toEqual([100, 100, 20, 'ethernet', '100 Mb/s, 20 ms']);
  });

  it('read a link file relative to the scenario, with its trace relative to the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-link-'));
    mkdirSync(join(dir, 'links'));
    writeFileSync(join(dir, 'links', 'up.csv'), '0, 2\n1, 6\n');
    writeFileSync(join(dir, 'links', 'uplink.yaml'), 'preset: lte\ndelayMs: 40\ntrace: up.csv\n');
    const l = resolveLink('links/uplink.yaml', { where: 'network.link', baseDir: dir });
    expect([l.up.meanMbps, l.down.meanMbps, l.delayMs]).toEqual([4, 5.85, 40]);
    writeFileSync(join(dir, 'links', 'bad.yaml'), 'preset: lte\nloss: 2\n');
    expect(() => resolveLink('links/bad.yaml', { where: 'network.link', baseDir: dir })).toThrow(expect.objectContaining({ code: 'BAD_LINK', message: expect.stringMatching(/^network\.link: link file '.*bad\.yaml' line 2: loss: loss must be in \[0, 1\)/) }));
    expect(() => resolveLink('links/none.json', { where: '--link', baseDir: dir })).toThrow(/--link: link file '.*none\.json' does not exist/);
  });
});

