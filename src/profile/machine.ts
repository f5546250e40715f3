/**
 * The measuring machine's attainable peaks with the profile's thread count, as ONNX Runtime reaches them: a
 * large float32 GEMM for compute and a large streaming Add for memory bandwidth (kernel times from ORT's trace,
 * so output hand-over does not count). Device models express efficiencies relative to these.
 */
import { DataType } from '../onnx/dtype.js';
import { ModelBuilder } from '../onnx/builder.js';
import { seededRandom } from '../util/random.js';
import { traceRuns } from './kernels.js';

/** GEMM M x K x N and streamed elements: large enough to leave the caches and amortise per-kernel costs. */
const GEMM = 1024;
const STREAM = 16 * 1024 * 1024;

const filled = (n: number) => Float32Array.from({ length: n }, seededRandom(3));

async function kernelMs(build: (b: ModelBuilder) => void, feeds: Record<string, { dims: number[]; data: Float32Array }>, threads: number): Promise<number> {
  const b = new ModelBuilder();
  build(b);
  const tensors = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { dtype: DataType.FLOAT, ...v }]));
  const { kernels } = await traceRuns(b.build(), '', tensors, { threads, warmup: 2, runs: 8 });
  return kernels.reduce((s, k) => s + k.ms, 0);
}

export async function machinePeaks(threads: number): Promise<{ peakGflops: number; bandwidthGBs: number }> {
  const gemmMs = await kernelMs(
    (b) => {
      b.input('a', DataType.FLOAT, [GEMM, GEMM]);
      b.input('b', DataType.FLOAT, [GEMM, GEMM]);
      b.op('MatMul', ['a', 'b'], {}, { output: 'c' });
      b.output('c', DataType.FLOAT, [GEMM, GEMM]);
    },
    { a: { dims: [GEMM, GEMM], data: filled(GEMM * GEMM) }, b: { dims: [GEMM, GEMM], data: filled(GEMM * GEMM) } },
    threads,
  );
  const streamMs = await kernelMs(
    (b) => {
      b.input('x', DataType.FLOAT, [STREAM]);
      b.input('y', DataType.FLOAT, [STREAM]);
      b.op('Add', ['x', 'y'], {}, { output: 'z' });
      b.output('z', DataType.FLOAT, [STREAM]);
    },
    { x: { dims: [STREAM], data: filled(STREAM) }, y: { dims: [STREAM], data: filled(STREAM) } },
    threads,
  );
  return { peakGflops: (2 * GEMM ** 3) / (gemmMs * 1e6), bandwidthGBs: (3 * 4 * STREAM) / (streamMs * 1e6) };
}
