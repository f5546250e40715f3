/** `impera devices`: the device catalog (built-in plus --catalog files) as a table or JSON. */
import { Option, type Command } from 'commander';
import { loadCatalog, type Device, type Radio } from '../../devices/catalog.js';
import { radioJoulesPerByte } from '../../devices/energy.js';
import { printJson } from '../common.js';
import { fmtCount, table } from '../table.js';

interface DevicesOptions {
  catalog: string[];
  sources?: boolean;
  json?: boolean;
}

export function registerDevices(program: Command): void {
  program
    .command('devices')
    .description('list the device catalog: peak compute, memory bandwidth and size, launch cost, power, radios')
    .addOption(new Option('--catalog <file>', 'extra device catalog, YAML or JSON; entries with an existing id replace it (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]).default([]))
    .option('--sources', 'also print the source of every figure')
    .option('--json', 'print the catalog as JSON')
    .action((options: DevicesOptions) => {
      const catalog = loadCatalog(options.catalog);
      if (options.json) return printJson(catalog);
      const sections = [deviceTable(catalog.devices), radioTable(catalog.radios)];
      if (options.sources) sections.push(sourceText(catalog.devices, catalog.radios));
      process.stdout.write(`${sections.join('\n\n')}\n`);
    });
}

const flops = (x: number | undefined) => (x === undefined ? '-' : `${fmtCount(x * 1e9)}`);

function deviceTable(devices: readonly Device[]): string {
  const rows = devices.map((d) => [
    d.id,
    d.name,
    d.kind + (d.cores ? ` (${d.cores} cores)` : ''),
    flops(d.peakGflops.fp32),
    flops(d.peakGflops.fp16),
    flops(d.peakGflops.int8),
    d.memoryBandwidthGBs,
    d.memoryGB,
    d.launchUs ?? '-',
    d.power ? `${d.power.idleW ?? '?'} / ${d.power.activeW}` : '-',
  ]);
  return table(['id', 'name', 'kind', 'FP32 FLOP/s', 'FP16', 'INT8 OP/s', 'GB/s', 'memory GB', 'launch µs', 'idle/active W'], rows, ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
}

function radioTable(radios: readonly Radio[]): string {
  const rows = radios.map((r) => [r.id, r.name, `${r.alphaWPerMbps} W/(Mb/s) x rate + ${r.betaW} W`, r.uplinkMbps, (radioJoulesPerByte(r) * 1e6).toFixed(2)]);
  return table(['radio', 'name', 'transmit power', 'uplink Mb/s', 'µJ per byte at that rate'], rows, ['left', 'left', 'left', 'right', 'right']);
}

function sourceText(devices: readonly Device[], radios: readonly Radio[]): string {
  return [...devices, ...radios].map((d) => [`${d.id}:`, ...Object.entries(d.sources).map(([k, v]) => `  ${k}: ${v}`)].join('\n')).join('\n');
}
