/**
 * A per-node latency model for devices impera cannot run on: a roofline with per-op-class efficiencies and a
 * fixed cost per node,
 *
 *     t(node) = max( FLOPs / (e_c * peak FLOP/s),  bytes / (m_c * peak bandwidth) ) + overhead,
 *
 * where c is the node's op class, e_c and m_c are the fractions of peak compute and bandwidth that class reaches.
 * The efficiencies and the overhead are fitted to a measured profile of this machine (per-node times from ONNX
 * Runtime's trace, peaks measured by a large GEMM and a streaming Add), then carried over to a catalog device
 * with that device's published peaks, capped at 1 (no kernel beats the published peak). Accelerators pay their
 * catalog launch cost per node instead of the fitted CPU overhead.
 */
import { attrInt } from '../onnx/attributes.js';
import type { Graph } from '../graph/graph.js';
import { nodeCosts } from '../cost/part.js';
import { ImperaError } from '../errors.js';
import type { Profile } from '../profile/profile-file.js';
import { peakGflops, type ComputeDtype, type Device } from './catalog.js';

export const OP_CLASSES = ['conv', 'depthwise', 'matmul', 'pool', 'normalization', 'elementwise', 'data'] as const;
export type OpClass = (typeof OP_CLASSES)[number];

const MATMUL = new Set(['Gemm', 'MatMul', 'Einsum', 'FusedMatMul', 'MatMulInteger', 'QLinearMatMul']);
const POOL = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2']);
const NORMALIZATION = new Set(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'Softmax', 'LogSoftmax', 'LRN']);
const DATA = new Set(['Reshape', 'Flatten', 'Transpose', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'Squeeze', 'Unsqueeze', 'Expand', 'Pad', 'Identity', 'Tile', 'Resize', 'DepthToSpace', 'SpaceToDepth', 'Shape', 'Cast']);

export function opClass(g: Graph, index: number): OpClass {
  const n = g.nodes[index]!;
  if (n.opType === 'Conv' || n.opType === 'ConvTranspose') return attrInt(n.proto, 'group', 1) > 1 ? 'depthwise' : 'conv';
  if (MATMUL.has(n.opType)) return 'matmul';
  if (POOL.has(n.opType)) return 'pool';
  if (NORMALIZATION.has(n.opType)) return 'normalization';
  if (DATA.has(n.opType)) return 'data';
  return 'elementwise';
}

/** Fraction of peak compute and of peak bandwidth an op class reaches. */
export interface Efficiency {
  compute: number;
  memory: number;
  /** Nodes of the class the fit saw (0: the class took the all-node fit). */
  nodes: number;
}

export interface DeviceModel {
  /** Fixed cost per node fitted on the measuring machine, microseconds. */
  overheadUs: number;
  classes: Record<OpClass, Efficiency>;
  /** The measuring machine's peaks the efficiencies are relative to. */
  host: { peakGflops: number; bandwidthGBs: number };
  /** Time-weighted median |error| of the fit on the nodes it was fitted to. */
  fitError: number;
}

/** What the roofline needs of a node: work, bytes moved, class. */
export interface NodeWork {
  index: number;
  name: string;
  opType: string;
  cls: OpClass;
  flops: number;
  bytes: number;
}

export function nodeWork(g: Graph): NodeWork[] {
  return nodeCosts(g).map((c) => ({ index: c.index, name: c.name, opType: c.opType, cls: opClass(g, c.index), flops: c.flops, bytes: c.inputBytes + c.outputBytes + c.paramBytes }));
}

/** Roofline time of one node, ms. */
export function rooflineMs(w: Pick<NodeWork, 'flops' | 'bytes'>, e: Pick<Efficiency, 'compute' | 'memory'>, peakGflopsValue: number, bandwidthGBs: number, overheadUs: number): number {
  return Math.max(w.flops / (e.compute * peakGflopsValue * 1e6), w.bytes / (e.memory * bandwidthGBs * 1e6)) + overheadUs / 1000;
}

const logGrid = (lo: number, hi: number, n: number) => Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));
const COMPUTE_GRID = logGrid(1e-3, 2, 56);
const MEMORY_GRID = logGrid(1e-3, 8, 64);
const OVERHEAD_GRID_US = [0, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32];

interface Sample {
  w: NodeWork;
  ms: number;
}

/** Time-weighted sum of |log(predicted / measured)|: large nodes count more, as they do in a part's sum. */
function loss(samples: readonly Sample[], e: Pick<Efficiency, 'compute' | 'memory'>, host: DeviceModel['host'], overheadUs: number): number {
  return samples.reduce((s, x) => s + x.ms * Math.abs(Math.log(rooflineMs(x.w, e, host.peakGflops, host.bandwidthGBs, overheadUs) / x.ms)), 0);
}

function fitClass(samples: readonly Sample[], host: DeviceModel['host'], overheadUs: number): Efficiency {
  let best = { e: { compute: 1, memory: 1, nodes: samples.length }, loss: Infinity };
  for (const compute of COMPUTE_GRID) {
    for (const memory of MEMORY_GRID) {
      const l = loss(samples, { compute, memory }, host, overheadUs);
      if (l < best.loss) best = { e: { compute, memory, nodes: samples.length }, loss: l };
    }
  }
  return best.e;
}

/** A class needs this many measured nodes for its own efficiencies; others take the fit over all nodes. */
const MIN_CLASS_NODES = 3;

/**
 * Fit the device model to a measured profile of `g` (same batch). Nodes fused into another's kernel carry their
 * standalone share (see the profile format) and count like any node.
 */
export function calibrate(g: Graph, profile: Profile): DeviceModel {
  const machine = profile.device.machine;
  if (profile.device.kind !== 'measured' || !machine?.peakGflops || !machine.bandwidthGBs) {
    throw new ImperaError('PROFILE_INVALID', 'calibration needs a measured profile with the machine peaks (device.machine.peakGflops, bandwidthGBs)', 'make it with `impera profile MODEL --out FILE`');
  }
  const host = { peakGflops: machine.peakGflops, bandwidthGBs: machine.bandwidthGBs };
  const batch = g.batch?.size ?? 1;
  const measured = new Map(profile.nodes.filter((n) => (n.batch ?? profile.batch) === batch).map((n) => [n.name, n.ms]));
  const samples = nodeWork(g)
    .map((w) => ({ w, ms: measured.get(w.name) ?? 0 }))
    .filter((s) => s.ms > 0);
  if (samples.length === 0) throw new ImperaError('PROFILE_INVALID', `the profile has no node times at batch ${batch} for this model`, `profile the model at batch ${batch}`);
  const byClass = new Map<OpClass, Sample[]>(OP_CLASSES.map((c) => [c, samples.filter((s) => s.w.cls === c)]));

  let best: DeviceModel | undefined;
  let bestLoss = Infinity;
  for (const overheadUs of OVERHEAD_GRID_US) {
    const all = fitClass(samples, host, overheadUs);
    const classes = Object.fromEntries(OP_CLASSES.map((c) => [c, byClass.get(c)!.length >= MIN_CLASS_NODES ? fitClass(byClass.get(c)!, host, overheadUs) : { ...all, nodes: 0 }])) as Record<OpClass, Efficiency>;
    const total = OP_CLASSES.reduce((s, c) => s + loss(byClass.get(c)!, classes[c], host, overheadUs), 0);
    if (total < bestLoss) {
      bestLoss = total;
      best = { overheadUs, classes, host, fitError: 0 };
    }
  }
  const model = best!;
  const errors = samples.map((s) => ({ weight: s.ms, err: Math.abs(rooflineMs(s.w, model.classes[s.w.cls], host.peakGflops, host.bandwidthGBs, model.overheadUs) / s.ms - 1) }));
  return { ...model, fitError: weightedMedian(errors) };
}

function weightedMedian(xs: readonly { weight: number; err: number }[]): number {
  const sorted = [...xs].sort((a, b) => a.err - b.err);
  const half = sorted.reduce((s, x) => s + x.weight, 0) / 2;
  let acc = 0;
  for (const x of sorted) if ((acc += x.weight) >= half) return x.err;
  return NaN;
}

/** Per-node times of `g` on a catalog device, ms, by node index. */
export function predictNodes(g: Graph, device: Device, model: DeviceModel, dtype: ComputeDtype = 'fp32'): Map<number, number> {
  const peak = peakGflops(device, dtype);
  const overheadUs = device.kind === 'gpu' ? device.launchUs! : model.overheadUs;
  const capped = (e: Efficiency) => ({ compute: Math.min(1, e.compute), memory: Math.min(1, e.memory) });
  return new Map(nodeWork(g).map((w) => [w.index, rooflineMs(w, capped(model.classes[w.cls]), peak, device.memoryBandwidthGBs, overheadUs)]));
}
