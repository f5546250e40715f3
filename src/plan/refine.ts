/**
 * Finalists refined by the discrete-event simulation (sim/des.ts): the configuration as a deployment of the
 * scenario's workload — every device streaming frames at its rate, links drawn from the link models, one server
 * with its workers — so queueing at the devices and the server shows in the percentiles the analytic figures
 * leave out. Exits enter as one exit after the device's part (its share of frames answered there), which makes
 * early-answered frames slightly pessimistic.
 */
import type { Link } from '../net/link.js';
import type { Transport } from '../net/transfer.js';
import type { Deployment } from '../sim/deployment.js';
import { simulate } from '../sim/des.js';
import { fixed } from '../sim/distributions.js';
import { seededRandom } from '../util/random.js';
import type { LatencyFigures, PlanConfiguration } from './types.js';

export interface RefineInputs {
  link: Link | null;
  transport: Transport;
  workload: { fps: number; devices: number };
  workers: number;
  /** Bytes of the model's outputs sent back per offloaded inference. */
  downlinkBytes: number;
  deadlineMs?: number;
  durationS?: number;
  seed?: number;
}

/** Share of frames an exit answers on the device. */
const exitShareOf = (c: PlanConfiguration): number => (c.exits ? c.exits.rates.reduce((a, b) => a + b, 0) : 0);

/** The deployment a configuration stands for; device and server times are the analytic means of its paths. */
function configDeployment(c: PlanConfiguration, x: RefineInputs): Deployment {
  const exitShare = exitShareOf(c);
  const offload = c.placement !== 'local';
  const rand = seededRandom(x.seed ?? 1);
  const served = Math.max(1e-9, 1 - exitShare);
  // the analytic breakdown holds expected values over all frames; per offloaded frame:
  const serverMs = offload ? c.latency.breakdown.serverMs / served : 0;
  const upBytes = offload ? c.bytes / served : 0;
  const link = x.link ?? { name: 'none', up: { finish: (s: number) => s, meanMbps: Infinity, constant: true }, down: { finish: (s: number) => s, meanMbps: Infinity, constant: true }, delayMs: 0, jitterMs: 0, mtu: 1500, framing: 'none' as const, loss: 0, downLoss: 0 };
  return {
    setup: c.placement,
    devices: Array.from({ length: x.workload.devices }, (_, k) => ({
      name: `device-${k}`,
      group: 'devices',
      fps: x.workload.fps,
      arrivals: 'periodic' as const,
      phaseMs: x.workload.devices > 1 ? rand() * (1000 / x.workload.fps) : 0,
      compute: fixed(c.latency.breakdown.deviceMs),
      exitProbability: offload ? exitShare : 0,
      offload,
      upBytes,
      downBytes: x.downlinkBytes,
      link,
      queueLimit: Infinity,
    })),
    network: 'dedicated',
    transport: x.transport,
    server: { workers: x.workers, compute: fixed(serverMs), batchMax: 1, batchTimeoutMs: 0, batchScaling: 1, queueLimit: Infinity },
    ...(x.deadlineMs !== undefined ? { deadlineMs: x.deadlineMs } : {}),
    durationS: x.durationS ?? 60,
    warmupS: 2,
    seed: x.seed ?? 1,
  };
}

/** The configuration's latency as the simulation sees it under the workload. */
export function refineLatency(c: PlanConfiguration, x: RefineInputs): LatencyFigures {
  const r = simulate(configDeployment(c, x));
  const s = r.stagesMs;
  const finite = (v: number) => (Number.isFinite(v) ? v : 0);
  const offloaded = c.placement === 'local' ? 0 : 1 - exitShareOf(c);
  return {
    meanMs: r.latencyMs.mean,
    p50Ms: r.latencyMs.p50,
    p95Ms: r.latencyMs.p95,
    p99Ms: r.latencyMs.p99,
    source: 'des',
    breakdown: {
      deviceMs: c.latency.breakdown.deviceMs,
      transferMs: offloaded * (finite(s.uplink) + finite(s.downlink)),
      serverMs: offloaded * finite(s.server),
      queueMs: offloaded * (finite(s.deviceWait) + finite(s.serverWait)),
    },
  };
}
