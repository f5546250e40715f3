/**
 * Split-Et-Impera's four set-ups of one scenario: local computing (the whole model on the device), remote
 * computing (the input sent, the whole model on the server), split computing (the head on the device, the cut
 * tensor sent, the tail on the server) and early exit (split, but a frame leaves at the device's exit with the
 * given probability). Each becomes a Deployment the simulators run.
 */
import { ImperaError } from '../errors.js';
import { seededRandom } from '../util/random.js';
import type { Deployment, DeviceSpec } from './deployment.js';
import { fixed, type Dist } from './distributions.js';
import { SETUPS, type Scenario, type SetupName } from './scenario.js';

/** What a set-up needs that the scenario does not give (empty when it can run). */
export function missingFor(s: Scenario, setup: SetupName): string[] {
  const { device, server } = s.compute;
  const need: [boolean, string][] =
    setup === 'local' ? [[!!device.full, 'compute.device.full']]
    : setup === 'remote' ? [[s.payload.inputBytes !== undefined, 'payload.inputBytes (or model)'], [!!server.full, 'compute.server.full']]
    : [
        [s.payload.cutBytes !== undefined, 'payload.cutBytes (or model)'],
        [!!device.head, 'compute.device.head'],
        [!!server.tail, 'compute.server.tail'],
        ...(setup === 'early-exit' ? ([[s.exitProbability !== undefined, 'earlyExit.probability']] as [boolean, string][]) : []),
      ];
  return need.filter(([ok]) => !ok).map(([, what]) => what);
}

function checkSetup(s: Scenario, setup: SetupName): void {
  const missing = missingFor(s, setup);
  if (missing.length) throw new ImperaError('BAD_SCENARIO', `scenario '${s.source}': set-up '${setup}' needs ${missing.join(', ')}`, 'add them, or remove the set-up from `setups`');
}

/** The set-ups to run: those the scenario asks for (each must be complete), or every complete one. */
export function chooseSetups(s: Scenario): SetupName[] {
  if (s.setups) {
    for (const setup of s.setups) checkSetup(s, setup);
    return s.setups;
  }
  const runnable = SETUPS.filter((setup) => missingFor(s, setup).length === 0);
  if (runnable.length === 0) throw new ImperaError('BAD_SCENARIO', `scenario '${s.source}': no set-up can run: split needs ${missingFor(s, 'split').join(', ')}`, 'give compute times (or profiles) and sizes (or a model and cut)');
  return runnable;
}

function phases(s: Scenario): number[][] {
  const rand = seededRandom(s.seed ^ 0x5eed);
  return s.groups.map((g) => Array.from({ length: g.count }, (_, k) => (Array.isArray(g.phase) ? g.phase[k]! : g.phase === 'aligned' ? 0 : rand() * (1000 / g.fps))));
}

export function deployment(s: Scenario, setup: SetupName): Deployment {
  checkSetup(s, setup);
  const { device, server } = s.compute;
  const none = fixed(0);
  const plan: { compute: Dist; exit?: Dist; offload: boolean; upBytes: number; serverCompute: Dist; exitProbability: number } =
    setup === 'local' ? { compute: device.full!, offload: false, upBytes: 0, serverCompute: none, exitProbability: 0 }
    : setup === 'remote' ? { compute: none, offload: true, upBytes: s.payload.inputBytes!, serverCompute: server.full!, exitProbability: 0 }
    : {
        compute: device.head!,
        ...(setup === 'early-exit' && device.exit ? { exit: device.exit } : {}),
        offload: true,
        upBytes: s.payload.cutBytes!,
        serverCompute: server.tail!,
        exitProbability: setup === 'early-exit' ? s.exitProbability! : 0,
      };
  const offsets = phases(s);
  const devices: DeviceSpec[] = s.groups.flatMap((g, gi) =>
    Array.from({ length: g.count }, (_, k) => ({
      name: g.count > 1 ? `${g.name}-${k}` : g.name,
      group: g.name,
      fps: g.fps,
      arrivals: g.arrivals,
      phaseMs: offsets[gi]![k]!,
      compute: plan.compute,
      ...(plan.exit ? { exit: plan.exit } : {}),
      exitProbability: plan.exitProbability,
      offload: plan.offload,
      upBytes: plan.upBytes,
      downBytes: s.payload.resultBytes,
      link: g.link,
      queueLimit: g.queueLimit,
    })),
  );
  return {
    setup,
    devices,
    network: s.network,
    ...(s.network === 'shared' ? { shared: s.link } : {}),
    transport: s.transport,
    server: { ...s.server, compute: plan.serverCompute },
    ...(s.deadlineMs !== undefined ? { deadlineMs: s.deadlineMs } : {}),
    durationS: s.durationS,
    warmupS: s.warmupS,
    seed: s.seed,
  };
}
