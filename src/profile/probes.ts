/**
 * Small models run under ORT's profiler to measure what a part pays that the full model's trace does not show:
 *  - standalone ops: a Relu or Add fused into a Conv kernel costs next to nothing in the full model, but when a
 *    cut separates it from its Conv it runs as its own kernel;
 *  - boundaries: a part hands its outputs to the caller (ORT allocates them and the Node binding copies them
 *    into JavaScript: a fixed cost per run plus a cost that grows with the bytes), and converts tensors ORT keeps
 *    in its blocked NCHWc layout back to plain NCHW (ReorderOutput) or into it (ReorderInput).
 */
import { DataType } from '../onnx/dtype.js';
import { extractPart } from '../export/extract.js';
import { isDataTensor, type Graph } from '../graph/graph.js';
import { syntheticFeeds } from '../graph/probe.js';
import { makeAttribute } from '../onnx/attributes.js';
import { ModelBuilder, valueInfo } from '../onnx/builder.js';
import { onnx } from '../onnx/proto.js';
import { createSession, run, type Feeds } from '../ort/session.js';
import type { BoundaryCost } from './profile-file.js';
import { traceRuns } from './kernels.js';
import type { KernelTime } from './trace.js';
import { median } from '../util/stats.js';

const PROBE = { warmup: 5, runs: 30 };
const REDUCIBLE = new Set<DataType>([DataType.FLOAT, DataType.DOUBLE, DataType.INT32, DataType.INT64]);
const SEED = 7;

/**
 * Kernel time of each node in `nodes` run on its own (ORT at the 'basic' level, which fuses nothing), by node
 * index. All nodes go into one model; outputs no probed node reads are reduced to a scalar, so that (as inside a
 * part) the probed kernels write to ORT's own buffers rather than to fresh output tensors. A node ORT does not
 * report is left out.
 */
export async function standaloneTimes(g: Graph, nodes: readonly number[], threads: number): Promise<Map<number, number>> {
  if (nodes.length === 0) return new Map();
  const isData = (t: string) => isDataTensor(g, t);
  const produced = new Set(nodes.flatMap((n) => g.nodes[n]!.outputs));
  const read = new Set(nodes.flatMap((n) => g.nodes[n]!.reads));
  const inputs = [...new Set(nodes.flatMap((n) => g.nodes[n]!.reads.filter(isData)))].filter((t) => !produced.has(t));
  const terminal = [...new Set(nodes.flatMap((n) => g.nodes[n]!.outputs.filter(isData)))].filter((t) => !read.has(t));
  const part = extractPart(g, { name: 'standalone', nodes: new Set(nodes), inputs, outputs: terminal });
  const graph = part.proto.graph!;
  // ReduceMax takes float, double, int32 and int64 at every opset (uint8 only from 12, bool never): others are cast to float first
  const cast = (t: string) => !REDUCIBLE.has(g.tensors.get(t)!.dtype);
  const sinks = terminal.flatMap((t, i) => {
    const casts = cast(t) ? [onnx.NodeProto.create({ name: `impera_sink_cast_${i}`, opType: 'Cast', input: [t], output: [`impera_sink_cast_${i}`], attribute: [makeAttribute('to', DataType.FLOAT)] })] : [];
    const source = cast(t) ? `impera_sink_cast_${i}` : t;
    return [...casts, onnx.NodeProto.create({ name: `impera_sink_${i}`, opType: 'ReduceMax', input: [source], output: [`impera_sink_${i}`], attribute: [makeAttribute('keepdims', 0)] })];
  });
  graph.node = [...(graph.node ?? []), ...sinks];
  graph.output = terminal.map((t, i) => valueInfo(`impera_sink_${i}`, cast(t) ? DataType.FLOAT : g.tensors.get(t)!.dtype, []));
  const feeds = syntheticFeeds(new Map(inputs.map((name) => [name, g.tensors.get(name)!])), SEED);
  const traced = await traceRuns(part.proto, g.model.dir, feeds, { threads, ...PROBE, optimization: 'basic' });
  const byName = new Map(traced.kernels.map((k) => [k.name, k.ms]));
  return new Map(nodes.flatMap((n) => (byName.has(g.nodes[n]!.name) ? [[n, byName.get(g.nodes[n]!.name)!] as const] : [])));
}

/** A model that reads and returns a tensor of `shape`: a depthwise 1x1 Conv for 4-D shapes (ORT blocks it), else Relu. */
function boundaryModel(shape: readonly number[]) {
  const b = new ModelBuilder();
  b.input('x', DataType.FLOAT, shape);
  if (shape.length === 4) {
    const c = shape[1]!;
    const w = b.initializer('w', DataType.FLOAT, [c, 1, 1, 1], new Float32Array(c).fill(1));
    b.op('Conv', ['x', w], { kernel_shape: [1, 1], group: c }, { output: 'y' });
  } else b.op('Relu', ['x'], {}, { output: 'y' });
  b.output('y', DataType.FLOAT, shape);
  return b.build();
}

/**
 * Edge costs for float32 tensors of one shape. Kernel times come from a profiled session when the probe opens; a
 * run's cost outside its kernels from an unprofiled session the caller runs alongside the parts it predicts: the
 * cost of handing over a large output (allocation, page faults, the copy into JavaScript) drifts with the state
 * of the process's allocator and heap, so it is measured in the same window as the parts.
 */
export class BoundaryProbe {
  private constructor(
    readonly shape: number[],
    private readonly session: Awaited<ReturnType<typeof createSession>>,
    private readonly feeds: Feeds,
    private readonly kernels: KernelTime[],
  ) {}

  static async open(shape: readonly number[], threads: number): Promise<BoundaryProbe> {
    const proto = boundaryModel(shape);
    const feeds = syntheticFeeds(new Map([['x', { dtype: DataType.FLOAT, shape: [...shape] }]]), SEED);
    const { kernels } = await traceRuns(proto, '', feeds, { threads, ...PROBE });
    return new BoundaryProbe([...shape], await createSession(proto, '', { threads }), feeds, kernels);
  }

  run = (): Promise<unknown> => run(this.session, this.feeds);

  /** Edge costs, given wall times of this probe's runs. */
  cost(wallMs: readonly number[]): BoundaryCost {
    const kernel = (op: string) => this.kernels.filter((k) => k.opType === op).reduce((s, k) => s + k.ms, 0);
    const inKernels = this.kernels.reduce((s, k) => s + k.ms, 0);
    return { shape: this.shape, outputMs: Math.max(0, median(wallMs) - inKernels), reorderInMs: kernel('ReorderInput'), reorderOutMs: kernel('ReorderOutput') };
  }

  release = (): Promise<void> => this.session.release();
}
