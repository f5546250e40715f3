/**
 * Golden outputs of the simulator and the TCP model: seeded runs whose every per-frame timestamp and every
 * transfer outcome was recorded before the code was restructured (test/sim/golden/*.json). A refactoring that
 * changes any number, an event order or a random draw fails here.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resolveLink } from '../../src/net/link.js';
import { pathOf } from '../../src/net/path.js';
import { tcpConnection, tcpSend, TCP_DEFAULTS, type TransferOutcome } from '../../src/net/tcp.js';
import { resolveTransport } from '../../src/net/transfer.js';
import { simulate } from '../../src/sim/des.js';
import { fixed } from '../../src/sim/distributions.js';
import type { FrameTrace } from '../../src/sim/result.js';
import { seededRandom } from '../../src/util/random.js';
import type { Deployment } from '../../src/sim/deployment.js';
import { deployment, device, server } from '../helpers/deployment.js';

const COLUMNS = ['created', 'headStart', 'headEnd', 'txStart', 'serverArrival', 'serverStart', 'serverEnd', 'delivered'] as const;

/** Every frame's device, status and timestamps, as one digest (the files stay small and any change shows). */
function traceDigest(t: FrameTrace): string {
  const h = createHash('sha256');
  for (let f = 0; f < t.count; f++) h.update(`${t.device[f]},${t.status[f]},${COLUMNS.map((c) => t[c][f]).join(',')}\n`);
  return h.digest('hex');
}

function outcome(dep: Deployment) {
  const r = simulate(dep, { keepTrace: true });
  return { frames: r.trace!.count, trace: traceDigest(r.trace!), events: r.events, packets: r.packets, utilisation: r.utilisation, latencyMs: r.latencyMs };
}

const lossyLink = resolveLink({ preset: 'lte', loss: 0.01, downLoss: 0.005, jitterMs: 2 });
const cell = resolveLink('wifi-ac');

const SCENARIOS: Record<string, () => Deployment> = {
  // two Poisson cameras over lossy TCP links into a batching two-worker server with a bounded queue
  'tcp-batching': () =>
    deployment(
      [device({ name: 'a', fps: 15, arrivals: 'poisson', compute: { kind: 'exponential', mean: 12 }, upBytes: 20_000, downBytes: 400, link: lossyLink, queueLimit: 3, exitProbability: 0.2 }), device({ name: 'b', fps: 30, phaseMs: 7, compute: fixed(4), upBytes: 15_000, downBytes: 100, link: lossyLink })],
      { seed: 11, durationS: 30, server: server({ workers: 2, compute: { kind: 'exponential', mean: 9 }, batchMax: 4, batchTimeoutMs: 6, batchScaling: 0.4, queueLimit: 5 }) },
    ),
  // UDP with losses on a dedicated link: frames lost up and down
  'udp-lossy': () => deployment([device({ fps: 30, upBytes: 100_352, downBytes: 2000, link: resolveLink({ preset: 'split-et-impera', loss: 0.02, downLoss: 0.01 }) })], { seed: 4, durationS: 20, transport: resolveTransport({ protocol: 'udp', payloadBytes: 1010 }) }),
  // four cameras contending for one Wi-Fi cell
  'shared-wifi': () => deployment([0, 1, 2, 3].map((i) => device({ name: `cam-${i}`, fps: 10, arrivals: i % 2 ? 'poisson' : 'periodic', phaseMs: i, upBytes: 100_352, downBytes: 500, link: cell })), { seed: 3, durationS: 10 }, cell),
  // a device that runs everything locally next to one that offloads nothing but the result
  'local-and-empty': () => deployment([device({ name: 'l', fps: 20, compute: fixed(60), offload: false, queueLimit: 1 }), device({ name: 'o', fps: 20, compute: fixed(2) })], { seed: 2, durationS: 5 }),
};

describe('the simulator, against outputs recorded before restructuring', () => {
  for (const [name, dep] of Object.entries(SCENARIOS)) {
    it(`reproduces scenario '${name}' frame for frame`, async () => {
      await expect(`${JSON.stringify(outcome(dep()), null, 2)}\n`).toMatchFileSnapshot(`golden/des-${name}.json`);
    });
  }
});

describe('tcpSend, against outcomes recorded before restructuring', () => {
  it('reproduces a stream of frames over lossy links, draw for draw', async () => {
    const outcomes: Record<string, TransferOutcome[]> = {};
    for (const [name, link, bytes, period] of [
      ['lte lossy 60 kB stream', lossyLink, 60_000, 66],
      ['ethernet 5% loss 1 MB', resolveLink({ preset: 'ethernet', loss: 0.05 }), 1_000_000, undefined],
      ['3g 2% loss 20 kB handshake', resolveLink({ preset: '3g', loss: 0.02 }), 20_000, 100],
    ] as const) {
      const c = tcpConnection(pathOf(link, 'up'), { ...TCP_DEFAULTS, handshake: name.includes('handshake') }, period);
      const rand = seededRandom(7);
      outcomes[name] = Array.from({ length: 40 }, (_, i) => tcpSend(c, bytes, i * (period ?? 500), rand));
    }
    await expect(`${JSON.stringify(outcomes, null, 2)}\n`).toMatchFileSnapshot('golden/tcp-streams.json');
  });
});
