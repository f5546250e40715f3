/**
 * Plans for the report tests. The model figures, the cuts and the saliency candidate layers come from a real
 * analysis of the built-in MobileNetV2; the rest is plausible, not measured: times from a simple model (a
 * Raspberry-Pi-class edge at an effective 6 GFLOP/s, Neurosurgeon's 18.88 Mb/s Wi-Fi uplink, a GPU server), accuracies near the
 * zoo's 92.6 %, a smooth CUI curve. Feasibility, the Pareto front and the recommendation are computed from those
 * figures the way the planner defines them, so the report is exercised with self-consistent data.
 */
import { switchingPlan } from '../../src/plan/switching.js';
import { decide } from '../../src/plan/recommend.js';
import type { PlanConfiguration, PlanQualityFigure, PlanResult } from '../../src/plan/types.js';
import type { QualityMeta } from '../../src/plan/quality.js';
import { findCuts, type Cut } from '../../src/cuts/cuts.js';
import { modelCost } from '../../src/cost/part.js';
import { wilson } from '../../src/util/stats.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { loadModel } from '../../src/onnx/io.js';
import { candidateLayers } from '../../src/saliency/dataset-saliency.js';
import { findPeaks } from '../../src/saliency/cui.js';

const DEMO_MODEL = new URL('../../examples/mobilenet_v2.onnx', import.meta.url).pathname;

export interface DemoAnalysis {
  g: Graph;
  cuts: Cut[];
}

export async function demoAnalysis(): Promise<DemoAnalysis> {
  const g = await analyzeModel(loadModel(DEMO_MODEL));
  return { g, cuts: findCuts(g, { maxWidth: 1 }) };
}

export interface PlanFixtureOptions {
  name: string;
  /** p95 latency limit (ms), minimum accuracy (fraction), edge energy limit (J). */
  latencyMs: number;
  accuracy: number;
  energyJ: number;
  /** Labelled data given: measured accuracy, rate-accuracy and the saliency curve; otherwise estimates only. */
  measured: boolean;
  /**
   * The metric (default top-1 accuracy). A lower-is-better metric reads the same figures as error rates
   * (1 - accuracy), with the QoS a ceiling of 1 - `accuracy`.
   */
  metric?: QualityMeta;
}

const ACCURACY: QualityMeta = { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher' };
/** A fidelity metric where lower is better: a detector's plan. */
export const ERROR_RATE: QualityMeta = { metric: 'token-error-rate', label: 'token error rate', better: 'lower' };

/** The built-in example's QoS (100 ms p95, 90 %): several splits meet it, local and raw remote do not. */
export const FEASIBLE: PlanFixtureOptions = { name: 'Pi camera on Wi-Fi to a GPU server', latencyMs: 100, accuracy: 0.9, energyJ: 0.5, measured: true };
/** Limits no configuration meets: the report shows the nearest miss. */
export const NOTHING_FEASIBLE: PlanFixtureOptions = { ...FEASIBLE, name: 'Pi camera, 30 ms at p95 and 93 %', latencyMs: 30, accuracy: 0.93 };
/** No labelled data and no saliency pass: every accuracy is an estimate. */
export const ESTIMATED: PlanFixtureOptions = { ...FEASIBLE, name: 'Pi camera, no labelled data', measured: false };
/** The feasible plan under a lower-is-better metric. */
export const LOWER_IS_BETTER: PlanFixtureOptions = { ...FEASIBLE, name: 'OCR on Wi-Fi to a GPU server', metric: ERROR_RATE };

/** The fixture's figures (accuracies) in the metric's terms. */
const metricOf = (o: PlanFixtureOptions): QualityMeta => o.metric ?? ACCURACY;
const inMetric = (o: PlanFixtureOptions, accuracy: number): number => (metricOf(o).better === 'higher' ? accuracy : 1 - accuracy);

const EDGE_FLOPS_PER_MS = 6e6;
const EDGE_MS_PER_NODE = 0.05;
const EDGE_ACTIVE_W = 6.4;
const RADIO_W = 1.1;
const UPLINK_BYTES_PER_MS = 18.88e6 / 8 / 1000;
const LINK_DELAY_MS = 2;
const SERVER_FLOPS_PER_MS = 2e9;
const SERVER_LAUNCH_MS = 0.6;
const FULL_ACCURACY = 0.926;
const TEST_SAMPLES = 10_000;

interface Codec {
  name: string;
  /** Bytes on the wire per float32 byte, and the accuracy lost (a function of the cut's relative depth). */
  ratio: number;
  loss: (depth: number) => number;
  encodeMsPerMB: number;
}

const SPLIT_CODECS: Codec[] = [
  { name: 'fp32', ratio: 1, loss: () => 0, encodeMsPerMB: 0 },
  { name: 'fp16', ratio: 0.5, loss: () => 0.0002, encodeMsPerMB: 0.8 },
  { name: 'int8+deflate', ratio: 0.155, loss: () => 0.003, encodeMsPerMB: 6 },
  { name: 'pca:c/4+int8', ratio: 1 / 16, loss: (d) => 0.004 + 0.02 * (1 - d), encodeMsPerMB: 9 },
];
const REMOTE_CODECS: Codec[] = [
  { name: 'fp32', ratio: 1, loss: () => 0, encodeMsPerMB: 0 },
  { name: 'uint8', ratio: 0.25, loss: () => 0, encodeMsPerMB: 0.5 },
  { name: 'png', ratio: 0.09, loss: () => 0, encodeMsPerMB: 60 },
];
/** One early-exit policy: an exit after 40 % of the depth answering 45 % of the samples, 0.8 points less accurate. */
const EXIT = { depth: 0.4, rate: 0.45, loss: 0.008, ms: 0.3, paramBytes: 52_000 };

interface Figures {
  deviceMs: number;
  transferMs: number;
  serverMs: number;
  queueMs: number;
  /** Share of the samples that go past the edge. */
  sent: number;
  accuracy: number;
  bytes: number;
  edgeMemoryBytes: number;
}

function latency(f: Figures): PlanConfiguration['latency'] {
  const expected = { deviceMs: f.deviceMs, transferMs: f.sent * f.transferMs, serverMs: f.sent * f.serverMs, queueMs: f.sent * f.queueMs };
  const meanMs = expected.deviceMs + expected.transferMs + expected.serverMs + expected.queueMs;
  // the tail of the distribution is the samples that go all the way, with Wi-Fi jitter
  const slowest = f.sent > 0.05 ? f.deviceMs + f.transferMs + f.serverMs + f.queueMs : f.deviceMs;
  return {
    meanMs,
    p50Ms: meanMs - 0.03 * expected.transferMs,
    p95Ms: slowest + 0.35 * f.transferMs + 0.08 * f.deviceMs,
    p99Ms: slowest + 0.7 * f.transferMs + 0.15 * f.deviceMs,
    source: 'analytic',
    breakdown: expected,
  };
}

function qualityFigure(accuracy: number, o: PlanFixtureOptions): PlanQualityFigure {
  const meta = metricOf(o);
  if (!o.measured) return { ...meta, value: inMetric(o, accuracy), source: 'estimate' };
  const [lo, hi] = wilson(Math.round(accuracy * TEST_SAMPLES), TEST_SAMPLES);
  const ci: [number, number] = meta.better === 'higher' ? [lo, hi] : [1 - hi, 1 - lo];
  return { ...meta, value: inMetric(o, accuracy), source: 'measured', ci, samples: TEST_SAMPLES };
}

function configuration(id: string, placement: PlanConfiguration['placement'], cut: Cut | null, codec: string, exits: PlanConfiguration['exits'], f: Figures, o: PlanFixtureOptions): PlanConfiguration {
  const lat = latency(f);
  const energyJ = (EDGE_ACTIVE_W * f.deviceMs + RADIO_W * f.sent * f.transferMs) / 1000;
  return {
    id,
    placement,
    link: placement === 'local' ? null : 'wifi',
    cuts: cut ? [{ index: cut.index, id: cut.id }] : [],
    devices: placement === 'local' ? ['raspberry-pi-4'] : placement === 'remote' ? ['h100'] : ['raspberry-pi-4', 'h100'],
    codec,
    exits,
    latency: lat,
    quality: qualityFigure(f.accuracy, o),
    bytes: f.sent * f.bytes,
    downlinkBytes: placement === 'local' ? 0 : f.sent * 40,
    energyJ,
    edgeMemoryBytes: f.edgeMemoryBytes,
    throughputFps: 1000 / Math.max(f.deviceMs, f.sent * f.transferMs, f.sent * (f.serverMs + f.queueMs)),
    checks: [],
    feasible: true,
  };
}

const edgeMs = (flops: number, nodes: number) => flops / EDGE_FLOPS_PER_MS + EDGE_MS_PER_NODE * nodes;
const serverMs = (flops: number) => (flops > 0 ? SERVER_LAUNCH_MS + flops / SERVER_FLOPS_PER_MS : 0);
const transferMs = (bytes: number) => LINK_DELAY_MS + bytes / UPLINK_BYTES_PER_MS;

function configurations({ g, cuts }: DemoAnalysis, o: PlanFixtureOptions): PlanConfiguration[] {
  const full = modelCost(g);
  const local = configuration('local', 'local', null, 'fp32', null, { deviceMs: edgeMs(full.flops, full.nodes), transferMs: 0, serverMs: 0, queueMs: 0, sent: 0, accuracy: FULL_ACCURACY, bytes: 0, edgeMemoryBytes: full.paramBytes + full.peakActivationBytes }, o);
  const remote = REMOTE_CODECS.map((c) => {
    const bytes = Math.round(full.inputBytes * c.ratio);
    return configuration(`remote ${c.name}`, 'remote', null, c.name, null, { deviceMs: (c.encodeMsPerMB * full.inputBytes) / 1e6, transferMs: transferMs(bytes), serverMs: serverMs(full.flops), queueMs: 0.4, sent: 1, accuracy: FULL_ACCURACY, bytes, edgeMemoryBytes: 2 * full.inputBytes }, o);
  });
  const exitAfter = Math.round(EXIT.depth * cuts.length);
  const splits = cuts
    .filter((cut) => cut.headCost.macs > 0 && cut.tailCost.macs > 0)
    .flatMap((cut) =>
      SPLIT_CODECS.flatMap((c) => {
        const bytes = Math.round(cut.wireBytes.float32 * c.ratio);
        const base: Figures = {
          deviceMs: edgeMs(cut.headCost.flops, cut.headCost.nodes) + (c.encodeMsPerMB * cut.bytes) / 1e6,
          transferMs: transferMs(bytes),
          serverMs: serverMs(cut.tailCost.flops),
          queueMs: 0.2 + 0.05 * serverMs(cut.tailCost.flops),
          sent: 1,
          accuracy: FULL_ACCURACY - c.loss(cut.index / cuts.length),
          bytes,
          edgeMemoryBytes: cut.headCost.paramBytes + cut.headCost.peakActivationBytes,
        };
        const plain = configuration(`split #${cut.index} ${c.name}`, 'split', cut, c.name, null, base, o);
        if (cut.index <= exitAfter) return [plain];
        const exits = { policy: 'softmax' as const, threshold: 0.9, cuts: [cuts[exitAfter]!.id], rates: [EXIT.rate] };
        const early = { ...base, deviceMs: base.deviceMs + EXIT.ms, sent: 1 - EXIT.rate, accuracy: base.accuracy - EXIT.loss, edgeMemoryBytes: base.edgeMemoryBytes + EXIT.paramBytes };
        return [plain, configuration(`split #${cut.index} ${c.name}, exit tau 0.9`, 'split', cut, c.name, exits, early, o)];
      }),
    );
  return [local, ...remote, ...splits];
}

const qosQuality = (o: PlanFixtureOptions) => ({ limit: inMetric(o, o.accuracy), bound: metricOf(o).better === 'higher' ? ('min' as const) : ('max' as const) });

/** The planner's own QoS matching (min-latency) over the fixture's configurations. */
function decision(configs: PlanConfiguration[], o: PlanFixtureOptions): Pick<PlanResult, 'feasible' | 'pareto' | 'recommendation' | 'nearestMiss'> {
  const d = decide(configs, { latency: { ms: o.latencyMs, at: 'p95' }, quality: qosQuality(o), energyJ: o.energyJ }, 'min-latency', 1);
  return { feasible: d.feasible.map((c) => c.id), pareto: d.pareto.map((c) => c.id), recommendation: d.recommendation, nearestMiss: d.nearestMiss };
}

function saliency(g: Graph): PlanResult['saliency'] {
  const layers = candidateLayers(g);
  const cuts = new Map(findCuts(g, { maxWidth: 1 }).map((c) => [c.tensors[0]!, c.index]));
  const cutOf = (layer: string) => cuts.get(layer) ?? null;
  // a smooth curve with several local maxima, rising with depth, as CUI curves of trained CNNs look
  const log10 = layers.map((_, l) => -2.2 + (1.4 * l) / layers.length + 0.35 * Math.sin((l * 2 * Math.PI) / 7));
  const { peaks, best } = findPeaks(log10);
  return { curve: layers.map((layer, l) => ({ index: l, layer, log10: log10[l]!, peak: peaks.includes(l), best: l === best, cut: cutOf(layer) })), samples: 512, source: 'measured' };
}

/** A complete plan for the demo model under the given QoS, with figures as described in the file header. */
export function planFixture(analysis: DemoAnalysis, o: PlanFixtureOptions): PlanResult {
  const { g, cuts } = analysis;
  const full = modelCost(g);
  const analytic = configurations(analysis, o);
  // as the planner: the discrete-event simulation refines the five best feasible configurations (min-latency: the
  // fastest), or the five fastest when none is feasible
  const { feasible } = decision(analytic, o);
  const finalists = new Set((feasible.length ? feasible : [...analytic].sort((a, b) => a.latency.p95Ms - b.latency.p95Ms).map((c) => c.id)).slice(0, 5));
  const configs = analytic.map((c) => (finalists.has(c.id) ? { ...c, latency: { ...c.latency, source: 'des' as const } } : c));
  const input = [...g.inputShapes.values()][0]!;
  const result: PlanResult = {
    format: 'impera-plan/1',
    createdAt: '2026-11-22T12:00:00.000Z',
    scenario: { name: o.name, file: 'examples/impera.yaml', qos: { latency: { limit: o.latencyMs, at: 'p95' }, quality: qosQuality(o), energy: { limit: o.energyJ } }, objective: 'min-latency' },
    model: { source: g.model.source, nodes: full.nodes, macs: full.macs, flops: full.flops, params: full.params, paramBytes: full.paramBytes, inputShape: [...input.shape], outputs: ['logits'] },
    setup: { edge: 'raspberry-pi-4 (catalog, predicted profile)', server: 'h100 (measured profile)', chain: [], links: ["wifi: Wi-Fi uplink, 18.88 Mb/s (Neurosurgeon's measurement), 2 ms"], workload: { fps: 10, devices: 1 } },
    cuts: cuts.map((c) => ({ index: c.index, id: c.id, bytes: c.wireBytes.float32, shapes: c.detail.map((t) => t.shape), headMacs: c.headCost.macs, tailMacs: c.tailCost.macs, headParamBytes: c.headCost.paramBytes, headPeakActivationBytes: c.headCost.peakActivationBytes })),
    saliency: o.measured ? saliency(g) : null,
    quality: { ...metricOf(o), reason: 'chosen: test fixture', data: o.measured ? 'fashion-mnist (test split)' : 'the built-in sample', samples: TEST_SAMPLES, source: o.measured ? 'measured' : 'estimate', evaluation: { mode: 'exhaustive', measured: 0, full: 0, stopped: {}, ruledOut: [] }, full: qualityFigure(FULL_ACCURACY, o) },
    rateQuality: o.measured ? configs.filter((c) => c.placement === 'split' && !c.exits).map((c) => ({ cut: c.cuts[0]!.id, codec: c.codec, bytes: c.bytes, quality: c.quality.value, samples: TEST_SAMPLES, stopped: null })) : [],
    configurations: configs,
    ...decision(configs, o),
    timings: { totalS: 41.7, steps: [{ step: 'analyse model', seconds: 0.4, cached: false }, { step: 'profile edge', seconds: 23.1, cached: false }, { step: 'evaluate codecs', seconds: 17.2, cached: false }, { step: 'simulate finalists', seconds: 1.0, cached: false }] },
    warnings: o.measured ? [] : ['no labelled data: accuracy figures are estimates (give `data:` in the scenario to measure them)'],
  };
  // as the planner: the switching plan over the configurations as decided
  const switching = switchingPlan(result);
  return switching ? { ...result, switching } : result;
}
