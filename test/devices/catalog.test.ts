import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDevice, findRadio, loadCatalog, peakGflops, readCatalogFile, BUILTIN_CATALOG } from '../../src/devices/catalog.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-catalog-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const board = `
devices:
  - id: my-board
    name: My board
    kind: cpu
    cores: 2
    peakGflops: { fp32: 10 }
    memoryBandwidthGBs: 5
    memoryGB: 1
    sources: { peak: datasheet, bandwidth: datasheet, memory: datasheet }
`;

describe('the device catalog', () => {
  it('ships the devices the issue names, every figure with its source', () => {
    const c = loadCatalog();
    for (const id of ['raspberry-pi-4', 'raspberry-pi-5', 'jetson-nano', 'jetson-orin-nano', 'laptop-cpu', 'server-cpu', 'nvidia-t4', 'nvidia-a100', 'nvidia-h100']) {
      const d = findDevice(c, id);
      expect(d.sources.peak && d.sources.bandwidth && d.sources.memory).toBeTruthy();
      if (d.power) expect(d.sources.power).toBeTruthy();
    }
    expect(c.radios.map((r) => r.id)).toEqual(['wifi', 'lte']);
    expect(findRadio(c, 'lte').uplinkMbps).toBe(5.85);
  });

  it('falls back to the fp32 peak for a dtype a device lists no figure for', () => {
    const c = loadCatalog();
    expect(peakGflops(findDevice(c, 'nvidia-h100'), 'fp16')).toBe(989400);
    expect(peakGflops(findDevice(c, 'raspberry-pi-4'), 'int8')).toBe(48);
  });

  it('merges user catalogs: new ids are added, existing ids replaced (YAML or JSON)', () => {
    const json = file('c.json', JSON.stringify({ devices: [{ ...readCatalogFile(BUILTIN_CATALOG).devices.find((d) => d.id === 'nvidia-t4'), name: 'my T4' }] }));
    const c = loadCatalog([file('c.yaml', board), json]);
    expect(findDevice(c, 'my-board').cores).toBe(2);
    expect(findDevice(c, 'nvidia-t4').name).toBe('my T4');
    expect(c.devices.filter((d) => d.id === 'nvidia-t4')).toHaveLength(1);
  });

  it('names the known devices when asked for an unknown one', () => {
    expect(() => findDevice(loadCatalog(), 'jetson-xavier')).toThrow(/unknown device 'jetson-xavier'; the catalog knows: raspberry-pi-4, .*nvidia-h100/);
  });

  it('names the known radios when asked for an unknown one', () => {
    expect(() => findRadio(loadCatalog(), '5g')).toThrow(/unknown radio '5g'; the catalog knows: wifi, lte$/);
  });

  it('rejects entries with a clear error naming the file, the entry and the field', () => {
    expect(() => loadCatalog([file('nosource.yaml', board.replace(', memory: datasheet', ''))])).toThrow(/nosource\.yaml' line \d+: devices\.0\.sources\.memory \(my-board\): every figure needs its source/);
    expect(() => loadCatalog([file('neg.yaml', board.replace('fp32: 10', 'fp32: -1'))])).toThrow(/devices\.0\.peakGflops\.fp32 \(my-board\)/);
    expect(() => loadCatalog([file('cores.yaml', board.replace('    cores: 2\n', ''))])).toThrow(/devices\.0\.cores \(my-board\): a CPU needs the number of cores/);
    expect(() => loadCatalog([file('typo.yaml', board.replace('memoryGB', 'memoryGb'))])).toThrow(/devices\.0\.memoryGB \(my-board\): missing/);
    expect(() => loadCatalog([file('bad.yaml', 'devices: [ {')])).toThrow(/is not valid YAML or JSON/);
    expect(() => loadCatalog([join(dir, 'missing.yaml')])).toThrow(/does not exist/);
    expect(() => loadCatalog([dir])).toThrow(/impera-catalog-\w+' cannot be read \(EISDIR/); // a folder exists, but is no catalog
  });
});
