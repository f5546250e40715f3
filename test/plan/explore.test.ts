/**
 * Design-space exploration checked against hand computation: a tiny chain model with two candidate cuts, one
 * constant-rate UDP link without link-layer framing (so a transfer is exactly its bytes plus 28 header bytes per
 * datagram, at the rate, plus the delay), an edge device and a server with known per-node times (profile files),
 * and a deadline that one split meets and the other misses.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCuts, type Cut } from '../../src/cuts/cuts.js';
import { findDevice, loadCatalog, type Radio } from '../../src/devices/catalog.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { runtimeNodes, type Graph } from '../../src/graph/graph.js';
import { resolveLink } from '../../src/net/link.js';
import { resolveTransport } from '../../src/net/transfer.js';
import type { CodecFigure, ExitAnalysis, QualityAnalysis } from '../../src/plan/analyses.js';
import { analysisCache } from '../../src/util/analysis-cache.js';
import { resolveCompute, type ComputeResource } from '../../src/devices/resolve.js';
import { explore, type ExploreInputs } from '../../src/plan/explore.js';
import { decide } from '../../src/plan/recommend.js';
import { cutRuledOut, outclassedBy } from '../../src/plan/bounds.js';
import type { PlanConfiguration } from '../../src/plan/types.js';
import { modelFingerprint, PROFILE_FORMAT, saveProfile } from '../../src/profile/profile-file.js';
import { chain } from '../helpers/models.js';

// the chain model: x [1,3,8,8] -> c1 Conv -> r1 Relu -> c2 Conv -> r2 Relu -> GlobalAveragePool -> flat Flatten -> y Gemm [1,5]
const EDGE_MS: Record<string, number> = { Conv: 10, Relu: 1, GlobalAveragePool: 2, Flatten: 0.5, Gemm: 3 };
const SERVER_SPEEDUP = 10;
/** A radio whose power model is easy to evaluate: P = 0.5 W per Mb/s + 0.1 W. */
const RADIO: Radio = { id: 'wifi', name: 'test radio', alphaWPerMbps: 0.5, betaW: 0.1, uplinkMbps: 8, sources: { power: 'test', uplink: 'test' } };

const dir = mkdtempSync(join(tmpdir(), 'impera-explore-'));
let g: Graph;
let cuts: { r1: Cut; flat: Cut };
let edge: ComputeResource;
let server: ComputeResource;
const catalog = loadCatalog();
const pi = findDevice(catalog, 'raspberry-pi-4');

/** A profile "measured on a device": each node's time from its op type. */
function profileFile(name: string, msOf: (op: string) => number): string {
  const file = join(dir, `${name}.json`);
  saveProfile(
    {
      format: PROFILE_FORMAT,
      createdAt: '2026-12-07T00:00:00Z',
      model: { source: 'chain', fingerprint: modelFingerprint(g.model), inputShapes: { x: [1, 3, 8, 8] } },
      device: { kind: 'measured', name, description: 'test' },
      runtime: null,
      batch: 1,
      nodes: runtimeNodes(g).map((i) => ({ name: g.nodes[i]!.name, opType: g.nodes[i]!.opType, ms: msOf(g.nodes[i]!.opType) })),
      parts: [],
    },
    file,
  );
  return file;
}

const labels = [0, 1, 2, 3];
const accuracyOf = (value: number, ci: [number, number]) => ({ metric: 'accuracy' as const, label: 'top-1 accuracy', better: 'higher' as const, value, ci, samples: labels.length });
const codecFigure = (cut: Cut, bytesMean: number, accuracy: number, agreement: number): CodecFigure => ({ cut: cut.id, codec: 'fp32', lossy: false, bytesMean, bytesP95: bytesMean, quality: accuracyOf(accuracy, [0, 1]), agreement, encoderBytes: 0, predictions: [0, 1, 2, 0], scores: [], byteSizes: [], stopped: null });

function inputs(over: Partial<ExploreInputs> = {}): ExploreInputs {
  const quality: QualityAnalysis = {
    dataset: 'test',
    samples: labels.length,
    task: { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', kind: 'rate', reason: 'test' },
    labels,
    full: { quality: accuracyOf(0.75, [0.3, 0.95]), predictions: [0, 1, 2, 0] },
    // raw float32 cut tensors: r1 is [1,4,8,8] = 256 floats, flat is [1,4] = 4 floats
    codecs: [codecFigure(cuts.r1, 1024, 0.75, 1), codecFigure(cuts.flat, 16, 0.5, 0.5)],
    inputs: [{ name: 'float32 tensor', bytesMean: 768, bytesP95: 768, quality: accuracyOf(0.75, [0.3, 0.95]) }],
  };
  return {
    g,
    cuts: [cuts.r1, cuts.flat],
    edges: [edge],
    server,
    // 8 Mb/s = 8000 bits per ms both ways, 5 ms one way, MTU 576: 548 payload bytes per datagram (576 - 20 IP - 8 UDP)
    links: [{ name: 'wifi', link: resolveLink({ upMbps: 8, downMbps: 8, delayMs: 5, mtu: 576, framing: 'none' }) }],
    transport: resolveTransport({ protocol: 'udp' }),
    workload: { fps: 10, devices: 1 },
    workers: 1,
    codecs: ['fp32'],
    placements: ['local', 'remote', 'split'],
    quality,
    qualityMode: { kind: 'measured' },
    exits: null,
    radios: [RADIO],
    downlinkBytes: 20, // y: 5 floats
    ...over,
  };
}

beforeAll(async () => {
  g = await analyzeModel(chain(1));
  const all = findCuts(g, { maxWidth: 1 });
  const byTensor = (t: string) => all.find((c) => c.tensors[0] === t)!;
  cuts = { r1: byTensor('r1'), flat: byTensor('flat') };
  const ctx = { catalog, baseDir: dir, cache: analysisCache(false) };
  edge = await resolveCompute(g, { profile: profileFile('edge', (op) => EDGE_MS[op]!), like: 'raspberry-pi-4' }, 'devices.edge', ctx);
  server = await resolveCompute(g, { profile: profileFile('server', (op) => EDGE_MS[op]! / SERVER_SPEEDUP) }, 'devices.server', ctx);
});

const byId = (configs: PlanConfiguration[], id: string) => {
  const c = configs.find((x) => x.id === id);
  if (!c) throw new Error(`no configuration '${id}' among ${configs.map((x) => x.id).join(', ')}`);
  return c;
};

describe('explore: figures of each configuration by hand', () => {
  // UDP over the link: n = ceil(B / 548) datagrams of 28 header bytes each, serialised at 8000 bits/ms, + 5 ms delay
  const downMs = ((20 + 28) * 8) / 8000 + 5; // the 20-byte result: one datagram = 5.048 ms

  it('the two splits: head on the edge + transfer up + tail on the server + result down, and their energy, bytes, memory and fps', () => {
    const configs = explore(inputs());
    expect(configs.map((c) => c.id)).toEqual(['local', 'remote float32 tensor', 'split #' + cuts.r1.index + ' fp32', 'split #' + cuts.flat.index + ' fp32']);

    // split at r1: head c1 + r1 = 10 + 1 ms; 1024 bytes = 2 datagrams (548 + 476) -> (1024 + 2 x 28) x 8 bits = 8640 bits
    const r1 = byId(configs, `split #${cuts.r1.index} fp32`);
    const r1Up = 8640 / 8000 + 5; // 6.08 ms
    const r1Tail = (10 + 1 + 2 + 0.5 + 3) / SERVER_SPEEDUP; // c2, r2, gap, flat, y on the server: 1.65 ms
    expect(r1.latency.meanMs).toBeCloseTo(11 + r1Up + r1Tail + downMs, 9); // 23.778 ms
    expect(r1.latency.meanMs).toBeCloseTo(23.778, 9);
    // no loss, no jitter: every draw is the same, so the percentiles are the mean
    expect(r1.latency.p95Ms).toBeCloseTo(r1.latency.meanMs, 9);
    expect(r1.latency.breakdown).toMatchObject({ deviceMs: 11, queueMs: 0 });
    expect(r1.latency.breakdown.transferMs).toBeCloseTo(r1Up + downMs, 9);
    expect(r1.latency.breakdown.serverMs).toBeCloseTo(r1Tail, 9);
    expect(r1.bytes).toBe(1024);
    // energy: 11 ms at the Pi's active power, plus the radio at 8 Mb/s: (0.5 x 8 + 0.1) W for 1024 x 8 / 8e6 s
    const r1Energy = (pi.power!.activeW * 11) / 1000 + (0.5 * 8 + 0.1) * ((1024 * 8) / 8e6);
    expect(r1.energyJ).toBeCloseTo(r1Energy, 12);
    // memory: c1's weights (4x3x3x3 + 4 floats) + the head's peak activations
    expect(r1.edgeMemoryBytes).toBe((4 * 3 * 3 * 3 + 4) * 4 + cuts.r1.headCost.peakActivationBytes);
    // fps: the slowest stage is the device's 11 ms (the uplink is busy 1.08 ms, the server 1.65 ms)
    expect(r1.throughputFps).toBeCloseTo(1000 / 11, 9);
    expect(r1.quality).toEqual({ metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', value: 0.75, source: 'measured', ci: [0, 1], samples: 4 });
    expect(r1.downlinkBytes).toBe(20);

    // split at flat: head = everything but the Gemm = 10 + 1 + 10 + 1 + 2 + 0.5 = 24.5 ms; 16 bytes = 1 datagram
    const flat = byId(configs, `split #${cuts.flat.index} fp32`);
    const flatUp = ((16 + 28) * 8) / 8000 + 5; // 5.044 ms
    expect(flat.latency.meanMs).toBeCloseTo(24.5 + flatUp + 3 / SERVER_SPEEDUP + downMs, 9); // 34.892 ms
    expect(flat.latency.meanMs).toBeCloseTo(34.892, 9);
    expect(flat.bytes).toBe(16);
    expect(flat.energyJ).toBeCloseTo((pi.power!.activeW * 24.5) / 1000 + (0.5 * 8 + 0.1) * ((16 * 8) / 8e6), 12);
    expect(flat.throughputFps).toBeCloseTo(1000 / 24.5, 9);
  });

  it('local runs the whole model on the edge; remote sends the input and runs it all on the server', () => {
    const configs = explore(inputs());
    const local = byId(configs, 'local');
    expect(local.latency.meanMs).toBeCloseTo(27.5, 9); // 2 x 10 + 2 x 1 + 2 + 0.5 + 3
    expect(local).toMatchObject({ bytes: 0, link: null, cuts: [], codec: '-' });
    expect(local.energyJ).toBeCloseTo((pi.power!.activeW * 27.5) / 1000, 12); // no radio
    expect(local.quality.value).toBe(0.75);
    expect(local.downlinkBytes).toBe(0);

    // 768 input bytes = 2 datagrams: (768 + 2 x 28) x 8 = 6592 bits; the whole model on the server: 27.5 / 10 ms
    const remote = byId(configs, 'remote float32 tensor');
    expect(remote.latency.meanMs).toBeCloseTo(0 + 6592 / 8000 + 5 + 2.75 + downMs, 9); // 13.622 ms
    expect(remote.energyJ).toBeCloseTo((0.5 * 8 + 0.1) * ((768 * 8) / 8e6), 12); // radio only
    expect(remote.edgeMemoryBytes).toBe(0);
  });

  it('feasibility: a 25 ms mean deadline is met by the split at r1 (23.8 ms) and missed by the split at flat (34.9 ms)', () => {
    const configs = explore(inputs());
    const d = decide(configs, { latency: { ms: 25, at: 'mean' } }, 'min-latency', 10);
    const [r1, flat] = [byId(configs, `split #${cuts.r1.index} fp32`), byId(configs, `split #${cuts.flat.index} fp32`)];
    expect(r1.feasible).toBe(true);
    expect(flat.feasible).toBe(false);
    expect(flat.checks.find((c) => c.constraint === 'latency')!.margin).toBeCloseTo((25 - 34.892) / 25, 9);
    expect(byId(configs, 'local').feasible).toBe(false); // 27.5 ms
    expect(d.feasible.map((c) => c.id).sort()).toEqual(['remote float32 tensor', `split #${cuts.r1.index} fp32`].sort());
    expect(d.recommendation!.id).toBe('remote float32 tensor'); // min-latency: 13.6 ms
  });

  it('without labelled data accuracy is the stated accuracy x agreement with the full model', () => {
    const configs = explore(inputs({ qualityMode: { kind: 'estimate', scale: 0.9 }, placements: ['split'] }));
    expect(byId(configs, `split #${cuts.flat.index} fp32`).quality).toEqual({ metric: 'accuracy', label: 'top-1 accuracy', better: 'higher', value: 0.9 * 0.5, source: 'estimate', samples: 4 });
    expect(byId(configs, `split #${cuts.r1.index} fp32`).quality.value).toBeCloseTo(0.9, 12);
  });

  it("a 640x640 float map sent back: the downlink's transfer adds to latency and bounds the frame rate", () => {
    const map = 640 * 640 * 4; // 1,638,400 bytes per frame back
    const configs = explore(inputs({ downlinkBytes: map, placements: ['local', 'split'], cuts: [cuts.r1] }));
    const r1 = byId(configs, `split #${cuts.r1.index} fp32`);
    // UDP: ceil(1638400 / 548) = 2990 datagrams of 28 header bytes, serialised at 8000 bits/ms, + 5 ms delay
    const downSerialMs = ((map + 2990 * 28) * 8) / 8000; // 1722.12 ms
    const r1Up = 8640 / 8000 + 5;
    const r1Tail = (10 + 1 + 2 + 0.5 + 3) / SERVER_SPEEDUP;
    expect(r1.downlinkBytes).toBe(map);
    expect(r1.latency.meanMs).toBeCloseTo(11 + r1Up + r1Tail + downSerialMs + 5, 6);
    expect(r1.latency.breakdown.transferMs).toBeCloseTo(r1Up + downSerialMs + 5, 6);
    // the downlink is busy 1722 ms per frame: the slowest stage of the stream
    expect(r1.throughputFps).toBeCloseTo(1000 / downSerialMs, 6);
    // answered on the device, nothing comes back
    expect(byId(configs, 'local')).toMatchObject({ downlinkBytes: 0 });
    expect(byId(configs, 'local').throughputFps).toBeCloseTo(1000 / 27.5, 9);
  });

  it('an exit at r1 on the device: half the frames answered after 12 ms, the rest go on; figures mixed over the two paths', () => {
    const headFlops = cuts.flat.headCost.flops;
    // the exit answers samples 0 (right) and 1 (wrong) at tau 0.9; its branch costs 1 ms at the flat head's ms per FLOP
    const analysis: ExitAnalysis = {
      exits: [{ cut: cuts.r1.id, spec: { kind: 'linear', hidden: 0 }, seed: 1, norm: { mean: [], std: [] }, values: {}, temperature: 1, flops: headFlops / 24.5, paramBytes: 100 }],
      samples: 4,
      taus: [{ tau: 0.9, passes: [[1, 1, 0, 0]], preds: [[0, 3, 0, 0]] }],
      testAccuracy: [0.5],
      ece: [{ before: 0, after: 0 }],
    };
    const configs = explore(inputs({ placements: ['split'], exits: { analysis, cuts: [cuts.r1] } }));
    const c = byId(configs, `split #${cuts.flat.index} fp32, exits tau 0.9`);
    // exit path: c1 + r1 (11 ms) + branch (1 ms) = 12 ms, share 1/2; on: head 24.5 + branch 1 + up 5.044 + tail 0.3 + down 5.048 = 35.892 ms
    expect(c.exits).toEqual({ policy: 'softmax', threshold: 0.9, cuts: [cuts.r1.id], rates: [0.5] });
    expect(c.latency.meanMs).toBeCloseTo(0.5 * 12 + 0.5 * 35.892, 9);
    expect(c.latency.p50Ms).toBeCloseTo((12 + 35.892) / 2, 9); // half the samples each side
    expect(c.latency.p95Ms).toBeCloseTo(35.892, 9);
    expect(c.bytes).toBe(0.5 * 16);
    // sample 0 right at the exit, 1 wrong at the exit, 2 right and 3 wrong at the end (predictions 0 1 2 0)
    expect(c.quality.value).toBe(0.5);
    expect(c.downlinkBytes).toBe(0.5 * 20); // only the frames that go on get the outputs back
    const deviceMs = 0.5 * 12 + 0.5 * 25.5;
    expect(c.energyJ).toBeCloseTo((pi.power!.activeW * deviceMs) / 1000 + (0.5 * 8 + 0.1) * ((8 * 8) / 8e6), 12);
    expect(c.edgeMemoryBytes).toBe(cuts.flat.headCost.paramBytes + cuts.flat.headCost.peakActivationBytes + 100);
    expect(c.throughputFps).toBeCloseTo(1000 / deviceMs, 9);
    // without exits the same split is explored too, and local gets the exit as well
    expect(configs.map((x) => x.id)).toContain(`split #${cuts.flat.index} fp32`);
    expect(explore(inputs({ placements: ['local'], exits: { analysis, cuts: [cuts.r1] } })).map((x) => x.id)).toEqual(['local', 'local, exits tau 0.9']);
  });

  it('several edge devices and links: every placement per device and link, named by them; a slower link only adds transfer time', () => {
    const slow = { name: 'lte', link: resolveLink({ upMbps: 4, downMbps: 4, delayMs: 5, mtu: 576, framing: 'none' }) };
    const twin = { ...edge, name: 'twin' };
    const configs = explore(inputs({ edges: [edge, twin], links: [inputs().links[0]!, slow], placements: ['local', 'split'], cuts: [cuts.r1] }));
    const split = `split #${cuts.r1.index} fp32`;
    expect(configs.map((c) => c.id)).toEqual([`local on ${edge.name}`, `${split} on ${edge.name} via wifi`, `${split} on ${edge.name} via lte`, 'local on twin', `${split} on twin via wifi`, `${split} on twin via lte`]);
    // at 4 Mb/s every serialisation takes twice as long: (8640 + 384) bits / 4000 instead of / 8000
    const [fast, slower] = [byId(configs, `${split} on twin via wifi`), byId(configs, `${split} on twin via lte`)];
    expect(slower.latency.meanMs - fast.latency.meanMs).toBeCloseTo((8640 + 384) / 4000 - (8640 + 384) / 8000, 9);
  });

  it('an edge device without power figures has no energy; without a server only local is explored', () => {
    const noPower = { ...edge, device: null };
    expect(explore(inputs({ edges: [noPower] })).every((c) => c.energyJ === null)).toBe(true);
    expect(explore(inputs({ server: null })).map((c) => c.id)).toEqual(['local']);
  });
});

describe('cheap bounds (plan/bounds.ts) against the explored figures', () => {
  // head and tail alone: r1 11 ms on the edge + 16.5 / 10 ms on the server = 12.65 ms; flat 24.5 + 0.3 = 24.8 ms
  const boundsFor = (qos: Parameters<typeof cutRuledOut>[1]['qos'], fps = 10) => ({ edges: [edge], server, nodes: new Set(runtimeNodes(g)), qos, fps });

  it('rule a cut out exactly when head and tail alone miss the latency limit, or the head a frame period', () => {
    expect(cutRuledOut(cuts.r1, boundsFor({ latency: { ms: 12.6, at: 'p95' } }))).toMatch(/take 12\.\d ms on .* \(latency limit 12\.6 ms\)/);
    expect(cutRuledOut(cuts.r1, boundsFor({ latency: { ms: 12.7, at: 'p95' } }))).toBeNull();
    expect(cutRuledOut(cuts.flat, boundsFor({ latency: { ms: 24.7, at: 'p95' } }))).not.toBeNull();
    expect(cutRuledOut(cuts.flat, boundsFor({ latency: { ms: 24.9, at: 'p95' } }))).toBeNull();
    // 50 fps leaves 20 ms a frame: flat's head (24.5 ms) cannot keep up, r1's (11 ms) can
    expect(cutRuledOut(cuts.flat, boundsFor({}, 50))).toMatch(/24\.5 ms .* 20\.0 ms at 50 fps/);
    expect(cutRuledOut(cuts.r1, boundsFor({}, 50))).toBeNull();
    expect(cutRuledOut(cuts.r1, boundsFor({ edgeMemoryMB: 1e-6 }))).toMatch(/MB on the device/);
  });

  it('a ruled-out cut has no feasible configuration in the exploration (brute force over latency limits and frame rates)', () => {
    for (const ms of [5, 12, 13, 20, 24.7, 25, 30, 60])
      for (const fps of [10, 45, 50, 100]) {
        const qos = { latency: { ms, at: 'p95' as const } };
        const configs = explore(inputs({ workload: { fps, devices: 1 } }));
        decide(configs, qos, 'min-latency', fps);
        for (const cut of [cuts.r1, cuts.flat]) {
          if (cutRuledOut(cut, boundsFor(qos, fps)) === null) continue;
          expect(configs.filter((c) => c.placement === 'split' && c.cuts[0]!.id === cut.id && c.feasible)).toEqual([]);
        }
      }
  });
});

describe('outclassed splits (plan/bounds.ts outclassedBy) against the planner\'s own decision', () => {
  // every split at the full model's quality (a tie: the strictest case) beside the input sent losslessly at `reference` bytes
  const tied = (reference: number, bytes: number, link: Record<string, unknown>, fps: number) => {
    const x = inputs({ workload: { fps, devices: 1 }, links: [{ name: 'wifi', link: resolveLink({ upMbps: 8, downMbps: 8, delayMs: 5, mtu: 576, framing: 'none', ...link }) }] });
    const full = x.quality.full.quality;
    const quality: QualityAnalysis = { ...x.quality, codecs: [codecFigure(cuts.r1, bytes, full.value, 1), codecFigure(cuts.flat, bytes, full.value, 1)], inputs: [{ name: 'raw', bytesMean: reference, bytesP95: reference, quality: full }] };
    return { ...x, quality };
  };

  it('a split it calls outclassed is neither on the Pareto front nor recommended, brute force over bytes, links, frame rates and objectives', () => {
    let outclassed = 0;
    let kept = 0;
    for (const reference of [100, 784, 3000])
      for (const bytes of [50, 784, 1024, 4000, 20000])
        for (const link of [{}, { upMbps: 0.5 }, { loss: 0.05 }])
          for (const fps of [10, 100]) {
            const x = tied(reference, bytes, link, fps);
            const qos = { latency: { ms: 200, at: 'p95' as const } };
            const isOutclassed = outclassedBy([cuts.r1, cuts.flat], { edges: [edge], server, nodes: new Set(runtimeNodes(g)), qos, fps, links: x.links, transport: x.transport, workers: 1, devices: 1, downlinkBytes: x.downlinkBytes, referenceBytes: reference });
            for (const objective of ['max-quality', 'min-latency', 'min-energy'] as const) {
              const configs = explore(x);
              const d = decide(configs, qos, objective, fps);
              for (const cut of [cuts.r1, cuts.flat]) {
                const id = `split #${cut.index} fp32`;
                if (!isOutclassed(cut.id, bytes)) {
                  kept++;
                  continue;
                }
                outclassed++;
                expect(d.pareto.map((c) => c.id)).not.toContain(id);
                expect(d.recommendation?.id).not.toBe(id);
              }
            }
          }
    // both answers occur: the check can fail
    expect(outclassed).toBeGreaterThan(20);
    expect(kept).toBeGreaterThan(20);
  });

  it('never when the split sends fewer bytes than the input, or the input cannot keep up with the frame rate', () => {
    const x = tied(784, 500, {}, 10);
    const args = { edges: [edge], server, nodes: new Set(runtimeNodes(g)), qos: {}, fps: 10, links: x.links, transport: x.transport, workers: 1, devices: 1, downlinkBytes: 20 };
    expect(outclassedBy([cuts.r1], { ...args, referenceBytes: 784 })(cuts.r1.id, 500)).toBe(false);
    expect(outclassedBy([cuts.r1], { ...args, referenceBytes: 784 })(cuts.r1.id, 1000)).toBe(true);
    // at 10,000 fps a frame leaves 0.1 ms: the 784-byte input alone holds the 8 Mb/s uplink for 0.8 ms
    expect(outclassedBy([cuts.r1], { ...args, fps: 10_000, referenceBytes: 784 })(cuts.r1.id, 1000)).toBe(false);
  });
});
