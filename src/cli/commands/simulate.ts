/** `impera simulate`: run a deployment scenario's set-ups (local, remote, split, early exit) on one backend. */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ImperaError } from '../../errors.js';
import { LINK_PRESETS, type Link } from '../../net/link.js';
import type { Transport } from '../../net/transfer.js';
import { analyze } from '../../sim/analytic.js';
import { simulate } from '../../sim/des.js';
import { simulateNs3 } from '../../sim/ns3.js';
import { FRAME_STATUS, type Backend, type FrameTrace, type SimResult } from '../../sim/result.js';
import { loadScenario, SETUPS, type Scenario, type SetupName } from '../../sim/scenario.js';
import { chooseSetups, deployment } from '../../sim/setups.js';
import { positiveInt, positiveNumber, printJson } from '../common.js';
import { fmtBytes, fmtInt, table } from '../table.js';
import { fmtFractionFine as pct, fmtMsWide as ms } from '../../util/format.js';
import { progressBar } from '../progress.js';

interface SimulateOptions {
  backend: Backend;
  setup?: SetupName[];
  duration?: number;
  seed?: number;
  devices?: boolean;
  frames?: string;
  json?: boolean;
}

const HELP = `
Scenario file (YAML), paths relative to it; see examples/scenarios/:
  devices:   [{ name, count, fps, arrivals: periodic|poisson, phase: random|aligned|[ms..], link?, queueLimit? }]
  model:     { path, cut, wire?: float32|float16|int8 }   or   payload: { inputBytes, cutBytes, resultBytes, cut? }
  compute:   { device: { profile?, head?, full?, exit? }, server: { profile?, tail?, full? } }
             times in ms or { dist: normal|lognormal|exponential|uniform, ... }; profiles are impera-profile/1 files
  network:   { uplink: dedicated|shared, link: PRESET | RATE/DELAY (10/5: Mb/s, ms) | LINK_FILE.yaml | { preset?, upMbps,
             downMbps, delayMs, jitterMs, mtu, framing: ethernet|ppp|wifi|none, loss, downLoss, trace: FILE (time_s, Mb/s),
             wifi: {...} } }
  transport: { protocol: tcp, handshake, initialWindow, minRtoMs, ... } | { protocol: udp, payloadBytes, fec, retransmit }
  server:    { workers, batch: { max, timeoutMs, scaling }, queueLimit }
  earlyExit: { probability }    deadlineMs, durationS, warmupS, seed, setups: [local, remote, split, early-exit]
Link presets: ${Object.keys(LINK_PRESETS).join(', ')}
Backends: analytic (each frame alone, link models), des (discrete events: queues, contention), ns3 (packet-level
uplink in ns-3; needs libns3-dev and g++)`;

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('simulate a deployment scenario: latency, losses, throughput and utilisation per set-up')
    .argument('<scenario>', 'scenario file (YAML)')
    .addOption(new Option('--backend <name>', 'analytic, des or ns3').choices(['analytic', 'des', 'ns3']).default('des'))
    .addOption(new Option('--setup <name...>', 'set-ups to run (default: all the scenario has times and sizes for)').choices([...SETUPS]))
    .option('--duration <s>', 'simulated seconds (overrides durationS)', positiveNumber('--duration'))
    .option('--seed <n>', 'random seed (overrides seed)', positiveInt('--seed'))
    .option('--devices', 'also print per-device results')
    .option('--frames <file>', 'des: write every frame\'s timestamps to a CSV file')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', HELP)
    .action(async (file: string, options: SimulateOptions) => {
      if (options.frames && options.backend !== 'des') throw new ImperaError('BAD_ARGUMENT', '--frames needs --backend des', 'per-frame timestamps come from the discrete-event simulator');
      const scenario = await loadScenario(file);
      const s: Scenario = { ...scenario, ...(options.duration ? { durationS: options.duration } : {}), ...(options.seed ? { seed: options.seed } : {}), ...(options.setup ? { setups: options.setup } : {}) };
      const results: SimResult[] = [];
      for (const setup of chooseSetups(s)) results.push(await runSetup(s, setup, options));
      if (options.frames) writeFrames(options.frames, results);
      const clean = results.map(({ trace: _, ...r }) => r);
      if (options.json) return printJson({ scenario: describe(s), backend: options.backend, results: clean });
      const sections = [header(s, options.backend), summaryTable(clean), ...(options.devices ? clean.map(deviceTable) : []), notes(clean)].filter(Boolean);
      process.stdout.write(`${sections.join('\n\n')}\n`);
    });
}

async function runSetup(s: Scenario, setup: SetupName, options: SimulateOptions): Promise<SimResult> {
  const dep = deployment(s, setup);
  const bar = progressBar(`${setup} (${options.backend})`, !options.json && process.stderr.isTTY === true);
  try {
    if (options.backend === 'analytic') return analyze(dep);
    if (options.backend === 'ns3') return await simulateNs3(dep, { onProgress: (done, total) => bar.update(done, total, 'ns-3 runs') });
    return simulate(dep, { keepTrace: !!options.frames, onProgress: (f) => bar.update(Math.round(100 * f), 100, '% of simulated time') });
  } finally {
    bar.stop();
  }
}

const linkText = (l: Link) => `${l.name}: ${l.up.meanMbps.toFixed(l.up.meanMbps < 10 ? 2 : 1)}/${l.down.meanMbps.toFixed(l.down.meanMbps < 10 ? 2 : 1)} Mb/s, ${l.delayMs} ms${l.loss ? `, loss ${(100 * l.loss).toFixed(2)}%` : ''}${l.jitterMs ? `, jitter ${l.jitterMs} ms` : ''}${l.wifi ? ` (${l.wifi.standard} MCS ${l.wifi.mcs}, ${l.wifi.widthMHz} MHz)` : ''}`;
const transportText = (t: Transport) => (t.protocol === 'tcp' ? `TCP (${t.tcp.handshake ? 'new connection per frame' : 'one connection'}, IW ${t.tcp.initialWindow}, min RTO ${t.tcp.minRtoMs} ms)` : `UDP${t.udp.fec ? ` + FEC ${t.udp.fec.data}+${t.udp.fec.parity}` : ''}${t.udp.retransmit ? ` + ${t.udp.retransmit.rounds} retransmission round(s)` : ''}`);

function describe(s: Scenario) {
  return { name: s.name, durationS: s.durationS, seed: s.seed, payload: s.payload, devices: s.groups.map((g) => ({ name: g.name, count: g.count, fps: g.fps, arrivals: g.arrivals, link: g.link.name })), network: s.network, transport: s.transport.protocol };
}

function header(s: Scenario, backend: Backend): string {
  const p = s.payload;
  const devices = s.groups.map((g) => `${g.count} x ${g.name} at ${g.fps} fps (${g.arrivals})`).join(', ');
  const links = s.network === 'shared' ? `shared ${linkText(s.link)}` : [...new Set(s.groups.map((g) => linkText(g.link)))].join('; ');
  const rows: [string, string][] = [
    ['scenario', `${s.name} · ${s.durationS} s simulated · seed ${s.seed} · backend ${backend}`],
    ['payload', [p.cutBytes !== undefined && `cut ${fmtBytes(p.cutBytes)}${p.cut ? ` (${p.cut})` : ''}`, p.inputBytes !== undefined && `input ${fmtBytes(p.inputBytes)}`, `result ${fmtBytes(p.resultBytes)}`].filter(Boolean).join(' · ')],
    ['devices', devices],
    ['network', `${links} · ${transportText(s.transport)}`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n');
}

function summaryTable(results: Omit<SimResult, 'trace'>[]): string {
  const rows: [string, (r: Omit<SimResult, 'trace'>) => string][] = [
    ['latency mean ms', (r) => ms(r.latencyMs.mean)],
    ['latency p50 ms', (r) => ms(r.latencyMs.p50)],
    ['latency p95 ms', (r) => ms(r.latencyMs.p95)],
    ['latency p99 ms', (r) => ms(r.latencyMs.p99)],
    ['latency max ms', (r) => ms(r.latencyMs.max)],
    ['deadline missed', (r) => pct(r.deadlineMissRate)],
    ['frames', (r) => fmtInt(r.frames.generated)],
    ['  exited early', (r) => fmtInt(r.frames.exited)],
    ['  lost (network)', (r) => fmtInt(r.frames.lost)],
    ['  dropped (queues)', (r) => fmtInt(r.frames.droppedDevice + r.frames.droppedServer)],
    ['packets sent', (r) => fmtInt(r.packets.sent)],
    ['packets lost', (r) => fmtInt(r.packets.lost)],
    ['throughput fps', (r) => r.throughputFps.toFixed(1)],
    ['busy: device', (r) => pct(r.utilisation.device)],
    ['busy: uplink', (r) => pct(r.utilisation.uplink)],
    ['busy: server', (r) => pct(r.utilisation.server)],
    ['stage: device ms', (r) => ms(r.stagesMs.deviceWait + r.stagesMs.device)],
    ['stage: uplink ms', (r) => ms(r.stagesMs.uplink)],
    ['stage: server ms', (r) => ms(r.stagesMs.serverWait + r.stagesMs.server)],
    ['stage: downlink ms', (r) => ms(r.stagesMs.downlink)],
  ];
  return table(['', ...results.map((r) => r.setup)], rows.map(([label, f]) => [label, ...results.map(f)]), ['left', ...results.map(() => 'right' as const)]);
}

function deviceTable(r: Omit<SimResult, 'trace'>): string {
  const rows = r.perDevice.map((d) => [d.name, fmtInt(d.frames), fmtInt(d.completed), fmtInt(d.lost), ms(d.latencyMs.mean), ms(d.latencyMs.p50), ms(d.latencyMs.p95), ms(d.latencyMs.p99)]);
  return `${r.setup}: per device\n${table(['device', 'frames', 'done', 'lost', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms'], rows, ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'])}`;
}

function notes(results: Omit<SimResult, 'trace'>[]): string {
  const all = [...new Set(results.flatMap((r) => r.notes))];
  return all.map((n) => `note: ${n}`).join('\n');
}

function writeFrames(path: string, results: SimResult[]): void {
  const columns = ['created', 'headStart', 'headEnd', 'txStart', 'serverArrival', 'serverStart', 'serverEnd', 'delivered'] as const;
  const lines = [['setup', 'frame', 'device', 'status', ...columns.map((c) => `${c}_ms`)].join(',')];
  for (const r of results) {
    const t = r.trace as FrameTrace;
    for (let f = 0; f < t.count; f++) lines.push([r.setup, f, r.perDevice[t.device[f]!]!.name, FRAME_STATUS[t.status[f]!], ...columns.map((c) => (Number.isNaN(t[c][f]!) ? '' : t[c][f]!.toFixed(4)))].join(','));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}
