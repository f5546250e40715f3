import { describe, expect, it } from 'vitest';
import { findDevice, loadCatalog } from '../../src/devices/catalog.js';
import { calibrate, nodeWork, opClass, predictNodes, rooflineMs } from '../../src/devices/roofline.js';
import { predictedProfile } from '../../src/devices/predicted.js';
import { findCuts } from '../../src/cuts/cuts.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import { PROFILE_FORMAT, type Profile } from '../../src/profile/profile-file.js';
import { weights } from '../helpers/models.js';

/** Four Conv+Relu blocks (one depthwise), global pooling and a classifier. */
async function net(): Promise<Graph> {
  const b = new ModelBuilder();
  b.input('x', 'float32', [1, 8, 16, 16]);
  let x = 'x';
  for (const [i, group] of [1, 8, 1, 1].entries()) {
    const conv = b.op('Conv', [x, weights(b, `w${i}`, [8, 8 / group, 3, 3], i)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group }, { name: `conv${i}`, output: `c${i}` });
    x = b.op('Relu', [conv], {}, { name: `relu${i}`, output: `r${i}` });
  }
  const flat = b.op('Flatten', [b.op('GlobalAveragePool', [x], {}, { name: 'gap', output: 'gap' })], {}, { name: 'flat', output: 'flat' });
  b.op('Gemm', [flat, weights(b, 'fc', [4, 8], 9)], { transB: 1 }, { name: 'fc', output: 'y' });
  b.output('y', 'float32', [1, 4]);
  return analyzeModel(inMemoryModel(b.build(), 'net'), { batch: 1 });
}

const host = { peakGflops: 100, bandwidthGBs: 10 };
const truth = { conv: { compute: 0.5, memory: 0.8 }, depthwise: { compute: 0.05, memory: 0.3 }, other: { compute: 0.1, memory: 0.4 } };
const TRUE_OVERHEAD_US = 2;

/** A measured profile whose node times follow the roofline with known efficiencies. */
function syntheticProfile(g: Graph): Profile {
  return {
    format: PROFILE_FORMAT,
    createdAt: '2026-11-22T00:00:00Z',
    model: { source: 'net', fingerprint: '0'.repeat(64), inputShapes: { x: [1, 8, 16, 16] } },
    device: { kind: 'measured', name: 'host', description: 'synthetic', machine: { cpu: 'x', logicalCpus: 1, memoryBytes: 1, platform: 'test', ...host } },
    runtime: { engine: 'onnxruntime-node', version: '1.30.0', executionProvider: 'cpu', threads: 1, graphOptimization: 'all' },
    batch: 1,
    nodes: nodeWork(g).map((w) => ({ name: w.name, opType: w.opType, ms: rooflineMs(w, w.cls === 'conv' ? truth.conv : w.cls === 'depthwise' ? truth.depthwise : truth.other, host.peakGflops, host.bandwidthGBs, TRUE_OVERHEAD_US) })),
    parts: [],
  };
}

describe('the roofline device model', () => {
  it('classes nodes by what bounds them: dense and depthwise convolutions apart', async () => {
    const g = await net();
    const classes = Object.fromEntries(nodeWork(g).map((w) => [w.name, w.cls]));
    expect(classes).toMatchObject({ conv0: 'conv', conv1: 'depthwise', relu0: 'elementwise', gap: 'pool', flat: 'data', fc: 'matmul' });
    expect(opClass(g, g.nodes.findIndex((n) => n.name === 'conv2'))).toBe('conv');
  });

  it('recovers the efficiencies and overhead a profile was made with', async () => {
    const g = await net();
    const model = calibrate(g, syntheticProfile(g));
    expect(model.overheadUs).toBe(TRUE_OVERHEAD_US);
    expect(model.classes.conv.compute).toBeGreaterThan(0.5 / 1.15);
    expect(model.classes.conv.compute).toBeLessThan(0.5 * 1.15);
    expect(model.classes.elementwise.memory).toBeGreaterThan(0.4 / 1.15);
    expect(model.classes.elementwise.memory).toBeLessThan(0.4 * 1.15);
    expect(model.classes.conv.nodes).toBe(3);
    expect(model.classes.pool.nodes).toBe(0); // too few nodes of its own: takes the fit over all nodes
    expect(model.fitError).toBeLessThan(0.1);
  });

  it('carries the efficiencies to a device with its own peaks, capped at the published peak, and its launch cost', async () => {
    const g = await net();
    const model = { ...calibrate(g, syntheticProfile(g)), overheadUs: 2 };
    model.classes.conv = { compute: 3, memory: 3, nodes: 3 }; // faster than "peak" on the host: capped on the device
    const catalog = loadCatalog();
    const pi = findDevice(catalog, 'raspberry-pi-4');
    const h100 = findDevice(catalog, 'nvidia-h100');
    const conv0 = nodeWork(g).find((w) => w.name === 'conv0')!;
    expect(predictNodes(g, pi, model).get(conv0.index)).toBeCloseTo(rooflineMs(conv0, { compute: 1, memory: 1 }, 48, 12.8, 2), 12);
    expect(predictNodes(g, h100, model).get(conv0.index)).toBeCloseTo(rooflineMs(conv0, { compute: 1, memory: 1 }, 66900, 3350, 10), 12);
    // fp16 uses the device's fp16 peak
    expect(predictNodes(g, h100, model, 'fp16').get(conv0.index)).toBeCloseTo(rooflineMs(conv0, { compute: 1, memory: 1 }, 989400, 3350, 10), 12);
  });

  it('predicts a profile for a device: parts are the sums of their nodes', async () => {
    const g = await net();
    const model = calibrate(g, syntheticProfile(g));
    const cuts = findCuts(g, { maxWidth: 1 });
    const p = predictedProfile(g, { device: findDevice(loadCatalog(), 'jetson-orin-nano'), model, dtype: 'fp32', calibratedFrom: 'synthetic', cuts: [cuts[2]!], stages: [[cuts[1]!, cuts[3]!]] });
    const full = p.parts.find((x) => x.kind === 'full')!.predictedMs!;
    expect(full).toBeCloseTo(p.nodes.reduce((s, n) => s + n.ms, 0), 12);
    const [head, tail] = p.parts.filter((x) => x.cut === cuts[2]!.id);
    expect(head!.predictedMs! + tail!.predictedMs!).toBeCloseTo(full, 12);
    expect(p.parts.filter((x) => x.kind === 'stage').reduce((s, x) => s + x.predictedMs!, 0)).toBeCloseTo(full, 12);
    expect(p.device).toMatchObject({ kind: 'predicted', name: 'jetson-orin-nano', calibratedFrom: 'synthetic' });
  });

  it('needs a measured profile with the machine peaks', async () => {
    const g = await net();
    const p = syntheticProfile(g);
    expect(() => calibrate(g, { ...p, device: { ...p.device, machine: undefined } })).toThrow(/needs a measured profile with the machine peaks/);
    expect(() => calibrate(g, { ...p, nodes: [] })).toThrow(/no node times at batch 1/);
  });
});
