/** Small deployments built in code for the simulator tests. */
import { resolveLink, type Link } from '../../src/net/link.js';
import { resolveTransport } from '../../src/net/transfer.js';
import type { Deployment, DeviceSpec, ServerSpec } from '../../src/sim/deployment.js';
import { fixed } from '../../src/sim/distributions.js';

export function device(over: Partial<DeviceSpec> = {}): DeviceSpec {
  return {
    name: 'cam',
    group: 'cam',
    fps: 10,
    arrivals: 'periodic',
    phaseMs: 0,
    compute: fixed(0),
    exitProbability: 0,
    offload: true,
    upBytes: 0,
    downBytes: 0,
    link: resolveLink('ethernet'),
    queueLimit: Infinity,
    ...over,
  };
}

export function server(over: Partial<ServerSpec> = {}): ServerSpec {
  return { workers: 1, compute: fixed(0), batchMax: 1, batchTimeoutMs: 0, batchScaling: 1, queueLimit: Infinity, ...over };
}

/** One or more devices on dedicated links (or a shared medium), TCP unless said otherwise. */
export function deployment(devices: DeviceSpec[], over: Partial<Deployment> = {}, shared?: Link): Deployment {
  return {
    setup: 'split',
    devices,
    network: shared ? 'shared' : 'dedicated',
    ...(shared ? { shared } : {}),
    transport: resolveTransport({ protocol: shared ? 'udp' : 'tcp' }),
    server: server(),
    durationS: 10,
    warmupS: 0,
    seed: 1,
    ...over,
  };
}
