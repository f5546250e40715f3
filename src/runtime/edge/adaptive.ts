/**
 * The adaptive edge: one edge runner per option of a switching plan, every head loaded and warmed at the start and
 * the server checked to hold every tail, frames run one at a time on the current option, and between frames the
 * chooser (adapt.ts) may move to another option from what the frames so far measured: the uplink from bytes and
 * network time per request, the RTT from a probe every few frames, the server's queueing from the time it reports
 * (and 429s), the device's slowdown from its head and encode times against the plan's, and, where frames are
 * handed over with their arrival times, the time between frames (against which a slow option's frames queue). A switch happens between two
 * frames, so no frame is lost or run twice; each one is logged with its reason. Whatever the server does meanwhile,
 * each frame ends as the runner ends it: a result or an explicit error.
 */
import { dirname, resolve } from 'node:path';
import { ImperaError } from '../../errors.js';
import type { Feeds } from '../../ort/session.js';
import type { NetworkPoint, SwitchingOption, SwitchingPlan } from '../../plan/switching.js';
import { choose, currentPoint, ESTIMATOR_DEFAULTS, observeArrival, observeDeviceTime, observeQueue, observeRtt, observeTimeout, observeTransfer, type ChooserState, type Estimate, type EstimatorSettings } from './adapt.js';
import { createClient, type InferenceClient } from './client.js';
import { loadRuntimeConfig, type RuntimeConfig } from './config.js';
import { frameSource } from './frames.js';
import { EdgeRunner, type FrameAnswer, type FrameResult } from './runner.js';

export interface SwitchRecord {
  /** The first frame run on the new option. */
  frame: number;
  from: string;
  to: string;
  reason: string;
}

export interface AdaptiveOptions {
  /** The server every option talks to (default: the one the options' runtime configurations name). */
  url?: string;
  estimator?: EstimatorSettings;
  /** Probe the RTT every this many frames (and before the first). */
  probeEvery?: number;
  /** Called at each switch, before the frame that runs on the new option. */
  onSwitch?: (s: SwitchRecord) => void;
}

const PROBE_TIMEOUT_MS = 2000;

/** The runtime configuration of each option, on one server. */
function optionConfigs(plan: SwitchingPlan, file: string, url: string | undefined): RuntimeConfig[] {
  const configs = plan.options.map((o) => {
    if (!o.runtime) throw new ImperaError('BAD_SWITCHING_PLAN', `switching plan '${file}': option '${o.name}' names no runtime configuration`, 'export the plan with `impera plan --export DIR`: it writes one per option');
    const c = loadRuntimeConfig(resolve(dirname(file), o.runtime));
    return url ? { ...c, server: { ...c.server, url } } : c;
  });
  const urls = new Set(configs.map((c) => c.server.url));
  if (urls.size > 1) throw new ImperaError('BAD_SWITCHING_PLAN', `switching plan '${file}': its options talk to ${urls.size} servers (${[...urls].join(', ')})`, 'all tails are served by one server: give --server-url');
  return configs;
}

export class AdaptiveEdge {
  readonly switches: SwitchRecord[] = [];
  private estimate: Estimate = { throughputs: [] };
  private chooser: ChooserState;

  private constructor(
    readonly plan: SwitchingPlan,
    private readonly runners: ReadonlyMap<string, EdgeRunner>,
    private readonly probe: InferenceClient,
    private readonly o: AdaptiveOptions,
  ) {
    this.chooser = { current: plan.options[0]!.name, streak: 0 };
  }

  /** Open every option, refusing in one line a plan naming a model the server does not serve. */
  static async open(plan: SwitchingPlan, file: string, o: AdaptiveOptions = {}): Promise<AdaptiveEdge> {
    const configs = optionConfigs(plan, file, o.url);
    const { server } = configs[0]!;
    const probe = createClient({ url: server.url, protocol: 'binary', ...(server.token ? { token: server.token } : {}), ...(server.ca ? { ca: server.ca } : {}) });
    const runners = new Map<string, EdgeRunner>();
    try {
      for (const [i, c] of configs.entries()) {
        const served = await probe.serves(c.server.model, PROBE_TIMEOUT_MS);
        if (served === false) throw new ImperaError('BAD_SWITCHING_PLAN', `switching plan '${file}': option '${plan.options[i]!.name}' needs the model '${c.server.model}', which the server at ${server.url} does not serve`, 'serve the repository `impera plan --export` wrote (DIR/server), which holds every option\'s tail');
        const runner = await EdgeRunner.open(c);
        runners.set(plan.options[i]!.name, runner);
        await runner.warm(frameSource('synthetic', runner.inputs).frame(0).feeds);
      }
    } catch (e) {
      probe.close();
      await Promise.all([...runners.values()].map((r) => r.close()));
      throw e;
    }
    const edge = new AdaptiveEdge(plan, runners, probe, o);
    await edge.probeRtt();
    return edge;
  }

  /** The head's inputs (every option runs the same model). */
  get inputs(): EdgeRunner['inputs'] {
    return this.runners.get(this.current)!.inputs;
  }

  get current(): string {
    return this.chooser.current;
  }

  /** The conditions as estimated now (what the next choice reads); undefined before the first transfer. */
  get conditions(): NetworkPoint | undefined {
    return currentPoint(this.estimate);
  }

  private option(name: string): SwitchingOption {
    return this.plan.options.find((x) => x.name === name)!;
  }

  private probing: Promise<void> | undefined;

  /** Time one health probe into the RTT estimate; at most one at a time. */
  private probeRtt(): Promise<void> {
    const t = performance.now();
    this.probing ??= this.probe.ready(PROBE_TIMEOUT_MS).then((ok) => {
      if (ok) this.estimate = observeRtt(this.estimate, performance.now() - t, this.o.estimator);
      this.probing = undefined;
    });
    return this.probing;
  }

  /** Learn from a frame: the device's speed, and from its call the transfer, the server's queueing, a refusal or a timeout. */
  private observe(r: FrameResult, option: SwitchingOption): void {
    const s = this.o.estimator ?? ESTIMATOR_DEFAULTS;
    const t = r.timings;
    // a frame that was encoded did all the device work the plan priced (an exit's or a waiting frame's did less)
    if (t.encodeMs !== undefined) this.estimate = observeDeviceTime(this.estimate, t.headMs + t.encodeMs, option.deviceMs, s);
    if (r.outcome === 'server' && r.sentBytes !== undefined && t.requestMs !== undefined) {
      const networkMs = t.requestMs - (t.serverQueueMs ?? 0) - (t.serverComputeMs ?? 0);
      const arrival = t.serverReceiveMs !== undefined && t.serverReceiveBytes !== undefined ? { ms: t.serverReceiveMs, bytes: t.serverReceiveBytes } : undefined;
      this.estimate = observeQueue(observeTransfer(this.estimate, r.sentBytes, networkMs, s, arrival), t.serverQueueMs ?? 0, s);
    } else if (r.failure === 'timeout' && t.requestMs !== undefined) {
      this.estimate = observeTimeout(this.estimate, option.share > 0 ? option.bytes / option.share : option.bytes, t.requestMs, s);
    } else if (r.failure === 'overloaded') {
      this.estimate = observeQueue(this.estimate, this.plan.latencyLimitMs, s);
    }
  }

  /** Between frames: switch when the chooser says so. */
  private maybeSwitch(frame: number): void {
    const point = currentPoint(this.estimate);
    if (!point) return;
    const { state, decision } = choose(this.plan, this.chooser, point);
    this.chooser = state;
    if (!decision) return;
    const record = { frame, ...decision };
    this.switches.push(record);
    this.o.onSwitch?.(record);
  }

  private lastArrivalMs: number | undefined;

  /**
   * Process one frame on the current option; never throws for a frame's own failure. `arrivedAtMs` (performance.now()
   * time): when the frame came (a camera's frame time), so that the chooser counts the wait behind earlier frames;
   * without it, frames are taken as fast as they are served and none waits.
   */
  async processWithOutputs(frame: number, feeds: Feeds, label?: number, arrivedAtMs?: number): Promise<FrameAnswer> {
    if (arrivedAtMs !== undefined) {
      if (this.lastArrivalMs !== undefined) this.estimate = observeArrival(this.estimate, arrivedAtMs - this.lastArrivalMs, this.o.estimator);
      this.lastArrivalMs = arrivedAtMs;
    }
    // beside the frame, not before it: the probe must not delay the frame it measures for
    if (frame % (this.o.probeEvery ?? 10) === 0 && frame > 0) void this.probeRtt();
    this.maybeSwitch(frame);
    const option = this.current;
    const answer = await this.runners.get(option)!.processWithOutputs(frame, feeds, label);
    this.observe(answer.result, this.option(option));
    return { ...answer, result: { ...answer.result, option } };
  }

  async close(): Promise<void> {
    await this.probing;
    this.probe.close();
    await Promise.all([...this.runners.values()].map((r) => r.close()));
  }
}
