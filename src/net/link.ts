/**
 * Links: rates up and down (constant or a bandwidth trace), one-way propagation delay and its jitter, MTU,
 * link-layer framing, packet loss per direction, and for Wi-Fi the 802.11 PHY. A link is configured by a spec (a
 * preset name, RATE/DELAY, or a link file: `parseLinkSpec`), or an object naming a preset and overriding fields,
 * or all fields; `resolveLink` validates it.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ImperaError } from '../errors.js';
import { readConfigFile, zodMessage } from '../util/config.js';
import { FRAMINGS, type Framing } from './framing.js';
import { constantRate, loadTrace, traceRate, TRACE_FORMATS, type BandwidthTrace, type Rate } from './rate.js';
import { maxMcs, phyRateMbps, type WifiPhy } from './wifi.js';

export interface Link {
  name: string;
  /** Device -> server rate. */
  up: Rate;
  /** Server -> device rate. */
  down: Rate;
  /** One-way propagation delay (ms); the base RTT is twice this plus serialisation. */
  delayMs: number;
  /** Delay variation: each delivery is delayed by delayMs +- up to jitterMs, uniformly (as netem does). */
  jitterMs: number;
  mtu: number;
  framing: Framing;
  /** Probability that a packet device -> server is lost. */
  loss: number;
  /** Probability that a packet server -> device is lost. */
  downLoss: number;
  /** 802.11 PHY when the link is a Wi-Fi channel (airtime then comes from src/net/wifi.ts). */
  wifi?: WifiPhy;
  /** The bandwidth trace driving `up`, if any. */
  trace?: BandwidthTrace;
}

/** A preset: the link's fixed fields with constant rates. */
interface LinkFields extends Omit<Link, 'name' | 'up' | 'down' | 'trace'> {
  upMbps: number;
  downMbps: number;
  description: string;
}

const base = { jitterMs: 0, mtu: 1500, loss: 0, downLoss: 0 };
const WIFI_AC: WifiPhy = { standard: '802.11ac', mcs: 7, widthMHz: 80, spatialStreams: 1, shortGuard: false, maxAmpduBytes: 65535 };
const WIFI_N: WifiPhy = { standard: '802.11n', mcs: 7, widthMHz: 40, spatialStreams: 1, shortGuard: false, maxAmpduBytes: 65535 };

/**
 * Built-in links. 3g/lte/wifi are Neurosurgeon's measured uplink rates (IP-level throughput, so no framing;
 * the paper gives uplinks only, so downlinks here are set equal, and the one-way delays are typical values we
 * chose). split-et-impera is that paper's link. 5g and ethernet are typical figures, not measurements.
 * wifi-ac / wifi-n are 802.11 channels (one station, or a shared cell with `medium: shared`).
 */
export const LINK_PRESETS: Record<string, LinkFields> = {
  '3g': { ...base, upMbps: 1.1, downMbps: 1.1, delayMs: 50, framing: 'none', description: "3G uplink, 1.1 Mb/s (Neurosurgeon's measurement)" },
  lte: { ...base, upMbps: 5.85, downMbps: 5.85, delayMs: 25, framing: 'none', description: "LTE uplink, 5.85 Mb/s (Neurosurgeon's measurement)" },
  wifi: { ...base, upMbps: 18.88, downMbps: 18.88, delayMs: 2, framing: 'none', description: "Wi-Fi uplink, 18.88 Mb/s (Neurosurgeon's measurement)" },
  'split-et-impera': { ...base, upMbps: 1000, downMbps: 1000, delayMs: 0.1, framing: 'ppp', description: "Split-Et-Impera's link: 1 Gb/s full duplex, 100 us" },
  '5g': { ...base, upMbps: 100, downMbps: 500, delayMs: 5, framing: 'none', description: '5G (sub-6 GHz), typical 100 Mb/s up, 500 Mb/s down, 5 ms' },
  ethernet: { ...base, upMbps: 1000, downMbps: 1000, delayMs: 0.05, framing: 'ethernet', description: 'Gigabit Ethernet, 50 us' },
  'wifi-ac': { ...base, upMbps: phyRateMbps(WIFI_AC), downMbps: phyRateMbps(WIFI_AC), delayMs: 0, framing: 'wifi', wifi: WIFI_AC, description: '802.11ac, 80 MHz, MCS 7, 1 stream (292.5 Mb/s PHY)' },
  'wifi-n': { ...base, upMbps: phyRateMbps(WIFI_N), downMbps: phyRateMbps(WIFI_N), delayMs: 0, framing: 'wifi', wifi: WIFI_N, description: '802.11n, 40 MHz, MCS 7, 1 stream (135 Mb/s PHY)' },
};

const mbps = (what: string) => z.number({ error: `${what} must be a number of Mb/s` }).positive(`${what} must be a positive number of Mb/s (> 0)`);
const probability = (what: string) => z.number({ error: `${what} must be a number` }).min(0, `${what} must be in [0, 1)`).lt(1, `${what} must be in [0, 1) (1 would lose every packet)`);

export const wifiConfigSchema = z
  .object({
    standard: z.enum(['802.11n', '802.11ac']),
    mcs: z.number().int().min(0).max(9),
    widthMHz: z.union([z.literal(20), z.literal(40), z.literal(80), z.literal(160)]),
    spatialStreams: z.number().int().min(1).max(8),
    shortGuard: z.boolean(),
    maxAmpduBytes: z.number().int().min(1600).max(1048575),
  })
  .partial()
  .strict();

/** A link's fields (in a scenario, or a link file). */
const linkFieldsSchema = z
  .object({
    preset: z.string().optional(),
    upMbps: mbps('upMbps').optional(),
    downMbps: mbps('downMbps').optional(),
    delayMs: z.number().nonnegative('delayMs must be >= 0').optional(),
    jitterMs: z.number().nonnegative('jitterMs must be >= 0').optional(),
    mtu: z.number().int().min(576, 'mtu must be at least 576 bytes (the IPv4 minimum)').max(65535).optional(),
    framing: z.enum(FRAMINGS).optional(),
    loss: probability('loss').optional(),
    downLoss: probability('downLoss').optional(),
    /** A bandwidth trace file for the uplink (CSV time_s, Mb/s, or Mahimahi's delivery times); relative to the scenario file. */
    trace: z.string().optional(),
    /** The trace's format when neither its extension nor its content tells (src/net/rate.ts). */
    traceFormat: z.enum(TRACE_FORMATS).optional(),
    wifi: wifiConfigSchema.optional(),
  })
  .strict();

/** A link spec (see parseLinkSpec) or the link's fields. */
export const linkConfigSchema = z.union([z.string(), linkFieldsSchema]);

export type LinkConfig = z.infer<typeof linkConfigSchema>;

/** Where a configuration came from, for error messages, and the folder relative paths start from. */
export interface ConfigContext {
  where: string;
  baseDir: string;
}

const DEFAULT_CONTEXT: ConfigContext = { where: 'link', baseDir: '.' };

function preset(name: string, where: string): LinkFields {
  const p = LINK_PRESETS[name.toLowerCase()];
  if (!p) throw new ImperaError('UNKNOWN_PRESET', `${where}: unknown link preset '${name}'`, `use one of: ${Object.keys(LINK_PRESETS).join(', ')}; or give upMbps, delayMs, ... yourself`);
  return p;
}

/** A link as one string names it: a preset, a rate and a delay, or a link file. */
export type LinkSpec = { kind: 'preset'; name: string } | { kind: 'rate'; mbps: number; delayMs: number } | { kind: 'file'; path: string } | { kind: 'trace'; path: string; delayMs: number };

/**
 * The one reading of a link spec, on a command line or in a scenario: `lte` (a preset), `10/5` or `10mbit/5ms`
 * (Mb/s both ways / one-way delay in ms, Ethernet framing), `trace:FILE` or `trace:FILE/DELAY` (the uplink follows a
 * bandwidth trace, CSV or Mahimahi, the downlink runs at its mean rate; one-way delay in ms, default 0; Ethernet
 * framing), or `uplink.yaml` (a link file, YAML or JSON).
 */
export function parseLinkSpec(spec: string): LinkSpec {
  const s = spec.trim();
  const trace = /^trace:(.+?)(?:\/(\d+(?:\.\d+)?)\s*(?:ms)?)?$/i.exec(s);
  if (trace) return { kind: 'trace', path: trace[1]!.trim(), delayMs: Number(trace[2] ?? 0) };
  const rate = /^(\d+(?:\.\d+)?)\s*(?:mbit|mbps)?\s*\/\s*(\d+(?:\.\d+)?)\s*(?:ms)?$/i.exec(s);
  if (rate) return { kind: 'rate', mbps: Number(rate[1]), delayMs: Number(rate[2]) };
  if (/\.(ya?ml|json)$/i.test(s)) return { kind: 'file', path: s };
  return { kind: 'preset', name: s };
}

type LinkFieldsConfig = z.infer<typeof linkFieldsSchema>;

/** The fields a spec stands for, the folder its trace is relative to, and the link's name if the spec gives one. */
function specFields(spec: string, ctx: ConfigContext): { fields: LinkFieldsConfig; baseDir: string; name?: string } {
  const s = parseLinkSpec(spec);
  if (s.kind === 'preset') return { fields: { preset: s.name }, baseDir: ctx.baseDir };
  if (s.kind === 'rate') return { fields: { upMbps: s.mbps, downMbps: s.mbps, delayMs: s.delayMs, framing: 'ethernet' }, baseDir: ctx.baseDir, name: `${s.mbps} Mb/s, ${s.delayMs} ms` };
  if (s.kind === 'trace') return { fields: { trace: s.path, delayMs: s.delayMs, framing: 'ethernet' }, baseDir: ctx.baseDir, name: `trace ${s.path}, ${s.delayMs} ms` };
  // a trace named in a link file is relative to that file, as in scenario files
  const file = resolve(ctx.baseDir, s.path);
  const fields = readConfigFile(file, linkFieldsSchema, { what: `${ctx.where}: link file`, code: 'BAD_LINK', missingHint: `give a link file (YAML or JSON), a preset (${Object.keys(LINK_PRESETS).join(', ')}) or RATE/DELAY such as 10/5`, invalidHint: LINK_HINT });
  return { fields, baseDir: dirname(file) };
}

const LINK_HINT = 'see `impera simulate --help` for the link fields and presets';

/** Validate a link configuration (a spec, see parseLinkSpec, or the fields) and build the link, loading its bandwidth trace if any. */
export function resolveLink(config: unknown, context: Partial<ConfigContext> = {}): Link {
  const given = { ...DEFAULT_CONTEXT, ...context };
  const parsed = linkConfigSchema.safeParse(config);
  if (!parsed.success) throw new ImperaError('BAD_LINK', zodMessage(given.where, parsed.error), LINK_HINT);
  const { fields: c, baseDir, name } = typeof parsed.data === 'string' ? specFields(parsed.data, given) : { fields: parsed.data, baseDir: given.baseDir };
  const ctx = { ...given, baseDir };
  const fromPreset = c.preset ? preset(c.preset, ctx.where) : undefined;
  if (!fromPreset && c.upMbps === undefined && !c.trace && !c.wifi) {
    throw new ImperaError('BAD_LINK', `${ctx.where}: give a preset or an upload rate (upMbps or trace)`, `presets: ${Object.keys(LINK_PRESETS).join(', ')}`);
  }
  const wifi = c.wifi || fromPreset?.wifi ? ({ ...WIFI_AC, ...fromPreset?.wifi, ...c.wifi } as WifiPhy) : undefined;
  if (wifi && wifi.mcs > maxMcs(wifi.standard)) throw new ImperaError('BAD_LINK', `${ctx.where}.wifi.mcs: ${wifi.standard} has MCS 0-${maxMcs(wifi.standard)}, got ${wifi.mcs}`);
  const phyMbps = wifi ? phyRateMbps(wifi) : undefined;
  const upMbps = c.upMbps ?? (c.wifi ? phyMbps : fromPreset?.upMbps) ?? phyMbps;
  const downMbps = c.downMbps ?? (c.wifi ? phyMbps : fromPreset?.downMbps) ?? upMbps;
  const trace = c.trace ? loadTrace(resolve(ctx.baseDir, c.trace), c.traceFormat ? { format: c.traceFormat } : {}) : undefined;
  if (upMbps === undefined && !trace) throw new ImperaError('BAD_LINK', `${ctx.where}: no upload rate`, 'give upMbps');
  const up = trace ? traceRate(trace) : constantRate(upMbps!);
  return {
    name: name ?? c.preset ?? (trace ? `trace ${trace.source}` : `${upMbps} Mb/s`),
    up,
    down: constantRate(downMbps ?? up.meanMbps),
    delayMs: c.delayMs ?? fromPreset?.delayMs ?? 0,
    jitterMs: c.jitterMs ?? fromPreset?.jitterMs ?? 0,
    mtu: c.mtu ?? fromPreset?.mtu ?? 1500,
    framing: c.framing ?? fromPreset?.framing ?? (wifi ? 'wifi' : 'ethernet'),
    loss: c.loss ?? fromPreset?.loss ?? 0,
    downLoss: c.downLoss ?? fromPreset?.downLoss ?? 0,
    ...(wifi ? { wifi } : {}),
    ...(trace ? { trace } : {}),
  };
}
