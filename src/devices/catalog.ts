/**
 * The device catalog: edge and server devices with their published peak compute per dtype, memory bandwidth and
 * size, power and per-kernel launch cost, each figure with its source; and radios with their transmit power
 * model. impera ships `devices/catalog.yaml`; users add or override devices with their own YAML or JSON files.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ImperaError } from '../errors.js';
import { PACKAGE_ROOT } from '../util/package.js';
import { readConfigFile } from '../util/config.js';

export const BUILTIN_CATALOG = join(PACKAGE_ROOT, 'devices', 'catalog.yaml');

const positive = z.number().positive();
export const DTYPES = ['fp32', 'tf32', 'fp16', 'int8'] as const;
export type ComputeDtype = (typeof DTYPES)[number];

const device = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'ids are lower-case letters, digits and dashes'),
    name: z.string().min(1),
    kind: z.enum(['cpu', 'gpu']),
    /** CPUs: the cores the peak counts. */
    cores: z.number().int().positive().optional(),
    /** Peak compute, GFLOP/s (GOP/s for int8); fp32 is required. */
    peakGflops: z.object({ fp32: positive, tf32: positive.optional(), fp16: positive.optional(), int8: positive.optional() }).strict(),
    memoryBandwidthGBs: positive,
    memoryGB: positive,
    /** Accelerators: fixed cost per kernel (launch and dispatch), microseconds. */
    launchUs: z.number().nonnegative().optional(),
    power: z.object({ idleW: z.number().nonnegative().optional(), activeW: positive }).strict().optional(),
    sources: z.record(z.string(), z.string().min(1)),
  })
  .strict()
  .superRefine((d, ctx) => {
    const given: [string, boolean][] = [
      ['peak', true],
      ['bandwidth', true],
      ['memory', true],
      ['launch', d.launchUs !== undefined],
      ['power', d.power !== undefined],
    ];
    for (const [figure, present] of given) {
      if (present && !d.sources[figure]) ctx.addIssue({ code: 'custom', path: ['sources', figure], message: `every figure needs its source: add sources.${figure}` });
    }
    if (d.kind === 'cpu' && d.cores === undefined) ctx.addIssue({ code: 'custom', path: ['cores'], message: 'a CPU needs the number of cores its peak counts' });
    if (d.kind === 'gpu' && d.launchUs === undefined) ctx.addIssue({ code: 'custom', path: ['launchUs'], message: 'an accelerator needs its per-kernel launch cost' });
  });

const radio = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    name: z.string().min(1),
    /** Transmit power while sending: P = alphaWPerMbps * rate + betaW. */
    alphaWPerMbps: z.number().nonnegative(),
    betaW: z.number().nonnegative(),
    /** Typical uplink rate, Mb/s. */
    uplinkMbps: positive,
    sources: z.object({ power: z.string().min(1), uplink: z.string().min(1) }),
  })
  .strict();

const catalogFile = z.object({ devices: z.array(device).default([]), radios: z.array(radio).default([]) }).strict();

export type Device = z.infer<typeof device>;
export type Radio = z.infer<typeof radio>;
export interface Catalog {
  devices: Device[];
  radios: Radio[];
}

/** Read one catalog file (YAML or JSON), with errors that name the file and the field. */
export function readCatalogFile(path: string): Catalog {
  const fail = (why: string, line?: number) => new ImperaError('CATALOG_INVALID', `device catalog '${path}'${line ? ` (line ${line})` : ''} is ${why}`, 'fix the file');
  const raw = readConfigFile(path, 'device catalog', 'pass a YAML or JSON file like devices/catalog.yaml', fail).value;
  const parsed = catalogFile.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
    const id = entryId(raw, issue.path);
    const message = /received undefined/.test(issue.message) ? 'missing' : issue.message;
    throw new ImperaError('CATALOG_INVALID', `device catalog '${path}': ${where || '(root)'}${id ? ` (${id})` : ''}: ${message}`, 'see devices/catalog.yaml for the format');
  }
  return parsed.data;
}

/** The id of the entry an issue is in, to name it in the error. */
function entryId(raw: unknown, path: readonly PropertyKey[]): string | undefined {
  const [list, index] = path;
  const entry = (raw as Record<string, unknown[]> | undefined)?.[String(list)]?.[Number(index)];
  const id = (entry as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** The built-in catalog with user files merged in order: an entry with an existing id replaces it. */
export function loadCatalog(userFiles: readonly string[] = []): Catalog {
  const merge = <T extends { id: string }>(lists: T[][]): T[] => [...new Map(lists.flat().map((x) => [x.id, x])).values()];
  const files = [readCatalogFile(BUILTIN_CATALOG), ...userFiles.map(readCatalogFile)];
  return { devices: merge(files.map((f) => f.devices)), radios: merge(files.map((f) => f.radios)) };
}

export function findDevice(catalog: Catalog, id: string): Device {
  const d = catalog.devices.find((x) => x.id === id);
  if (!d) throw new ImperaError('UNKNOWN_DEVICE', `unknown device '${id}'; the catalog knows: ${catalog.devices.map((x) => x.id).join(', ')}`, 'run `impera devices` to list them, or add the device with --catalog FILE');
  return d;
}

export function findRadio(catalog: Catalog, id: string): Radio {
  const r = catalog.radios.find((x) => x.id === id);
  if (!r) throw new ImperaError('UNKNOWN_DEVICE', `unknown radio '${id}'; the catalog knows: ${catalog.radios.map((x) => x.id).join(', ')}`, 'add the radio with --catalog FILE');
  return r;
}

/** Peak compute of a device for a dtype, falling back to fp32 when the device lists no figure for it. */
export const peakGflops = (d: Device, dtype: ComputeDtype = 'fp32'): number => d.peakGflops[dtype] ?? d.peakGflops.fp32;
