/**
 * Every opset ONNX Runtime runs, 7 to its newest (probed, so a newer ORT widens the matrix): one small model of
 * the op families impera differentiates and codes (strided Conv, BatchNorm, Relu/Clip/LeakyRelu/Abs/Sigmoid/Pow,
 * Max/Average/Global pooling, bilinear Upsample/Resize, ReduceMean, Slice/Concat, a Shape->Gather->Unsqueeze->Concat->Reshape flatten,
 * Gemm/MatMul, Softmax) is written in each opset's own form and put through everything impera emits —
 * gradients, codec models, Grad-CAM, exit branches, exported parts — so ORT itself checks every (op, opset).
 * Oracles: the same model at the newest opset (whose gradients rules.test.ts checks by finite differences), the
 * full model's output for composed parts, and closed-form quantisation (round half to even) for the codecs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../src/autodiff/backward.js';
import { computeGradients } from '../../src/autodiff/gradients.js';
import { findCuts } from '../../src/cuts/cuts.js';
import { initParams, makeBranch } from '../../src/exits/branch.js';
import { attachExits } from '../../src/exits/export.js';
import { splitModel } from '../../src/export/split.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import type { Graph } from '../../src/graph/graph.js';
import { codecModel } from '../../src/codecs/onnx.js';
import type { FittedTensorCodec } from '../../src/codecs/fitted.js';
import { ModelBuilder, valueInfo } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { createSession, run, type Feeds } from '../../src/ort/session.js';
import { buildSaliencyModel } from '../../src/saliency/gradcam.js';
import { seededRandom } from '../../src/util/random.js';
import { weights } from '../helpers/models.js';
import { randomValues } from '../autodiff/gradcheck.js';

/** The IR version exporters wrote with each opset (the ONNX release that introduced it). */
const irFor = (opset: number) => [3, 3, 4, 5, 6, 7, 7, 8, 8, 8, 8, 8, 9, 9, 10, 10, 11, 11, 11, 11][opset - 7] ?? 11;

/** The newest default-domain opset this ONNX Runtime loads. */
async function newestOpset(): Promise<number> {
  let v = 13;
  for (;; v++) {
    const b = new ModelBuilder({ opset: v + 1, irVersion: irFor(v + 1) });
    b.input('x', 'float32', [1]);
    b.op('Relu', ['x'], {}, { output: 'y' });
    b.output('y');
    try {
      await (await createSession(b.build(), '.')).release();
    } catch {
      return v;
    }
  }
}

const NEWEST = await newestOpset();
const OPSETS = Array.from({ length: NEWEST - 6 }, (_, i) => 7 + i);

/**
 * Bilinear x2 upsampling with asymmetric coordinates in the opset's own form (Upsample with scales as attribute
 * to 8, as input at 9, Resize from 10).
 */
function upsample(b: ModelBuilder, x: string, opset: number): string {
  const scales = b.constant(DataType.FLOAT, [4], [1, 1, 2, 2]);
  if (opset < 9) return b.op('Upsample', [x], { mode: 'linear', scales: { floats: [1, 1, 2, 2] } });
  if (opset < 11) return b.op(opset < 10 ? 'Upsample' : 'Resize', [x, scales], { mode: 'linear' });
  return b.op('Resize', [x, b.constant(DataType.FLOAT, [0], []), scales], { mode: 'linear', coordinate_transformation_mode: 'asymmetric' });
}

/** The test model at `opset`, written as an exporter targeting that opset would write it. */
function convnet(opset: number): ModelProto {
  const b = new ModelBuilder({ opset, irVersion: irFor(opset), name: `convnet_opset${opset}` });
  b.input('x', 'float32', ['batch', 3, 8, 8]);
  const c1 = b.op('Conv', ['x', weights(b, 'c1.w', [4, 3, 3, 3], 1), weights(b, 'c1.b', [4], 2)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { output: 'c1' });
  const variance = b.initializer('bn.var', 'float32', [4], [0.5, 1, 1.5, 2]);
  const bn = b.op('BatchNormalization', [c1, weights(b, 'bn.s', [4], 3), weights(b, 'bn.b', [4], 4), weights(b, 'bn.m', [4], 5), variance], { epsilon: { float: 1e-3 } }, { output: 'bn' });
  const r1 = b.op('Relu', [bn], {}, { output: 'r1' });
  const c2 = b.op('Conv', [r1, weights(b, 'c2.w', [6, 4, 3, 3], 6), weights(b, 'c2.b', [6], 7)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { output: 'c2' });
  const k2 = b.op('Identity', [b.clip(c2, -0.6, 0.6)], {}, { output: 'k2' });
  const mp = b.op('MaxPool', [k2], { kernel_shape: [2, 2], strides: [2, 2] }, { output: 'mp' });
  const lk = b.op('Abs', [b.op('LeakyRelu', [mp], { alpha: { float: 0.1 } })], {}, { output: 'lk' });
  const ap = b.op('AveragePool', [k2], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { output: 'ap' });
  const pw = b.op('Pow', [b.op('Sigmoid', [ap]), b.scalar(2)], {}, { output: 'pw' });
  const cat = b.op('Concat', [lk, pw], { axis: 1 }, { output: 'cat' });
  const sl = b.op('Identity', [b.slice(cat, [0], [8], [1])], {}, { output: 'sl' });
  // torch.flatten as exported: the batch read from Shape at run time
  const batch = b.unsqueeze(b.op('Gather', [b.op('Shape', [sl]), b.constant(DataType.INT64, [], [0])], { axis: 0 }), [0]);
  const fl = b.op('Reshape', [sl, b.op('Concat', [batch, b.ints([-1])], { axis: 0 })], {}, { output: 'fl' });
  const gp = b.op('Flatten', [b.op('GlobalAveragePool', [r1])], { axis: 1 }, { output: 'gp' });
  const rm = b.op('Identity', [b.reduceMean(k2, [2, 3], false)], {}, { output: 'rm' });
  const up = b.op('Identity', [b.reduceMean(b.op('Sigmoid', [upsample(b, k2, opset)]), [2, 3], false)], {}, { output: 'up' });
  const v = b.op('Concat', [fl, gp, rm, up], { axis: 1 }, { output: 'v' });
  const gm = b.op('Gemm', [v, weights(b, 'fc.w', [10, 48], 8), weights(b, 'fc.b', [10], 9)], { transB: 1 }, { output: 'gm' });
  b.op('Softmax', [b.op('MatMul', [gm, weights(b, 'mm.w', [10, 5], 10)])], { axis: 1 }, { output: 'y' });
  b.output('y', 'float32', ['batch', 5]);
  const proto = b.build();
  // before IR 4 every initializer was a graph input too
  if (proto.irVersion < 4) proto.graph!.input!.push(...proto.graph!.initializer!.map((t) => valueInfo(t.name!, t.dataType!, t.dims!.map(Number))));
  return proto;
}

const X: Tensor = { dtype: DataType.FLOAT, dims: [2, 3, 8, 8], data: Float32Array.from(randomValues(384, 3, 0, 2)) };

async function runModel(proto: ModelProto, feeds: Feeds): Promise<Record<string, Tensor>> {
  const session = await createSession(proto, '.');
  try {
    return await run(session, feeds);
  } finally {
    await session.release();
  }
}

/** Codecs on k2 [N, 6, 4, 4]: int8 per channel, int4 per tensor, PCA to 3 channels + int8. Powers of two as scales. */
function codecs(): FittedTensorCodec[][] {
  const base = { tensor: 'k2', rank: 4, channelAxis: 1 };
  const rand = seededRandom(4);
  return [
    [{ ...base, wireElements: 96, quant: { bits: 8, scale: Float32Array.of(0.25, 0.5, 0.125, 0.25, 0.0625, 1), zeroPoint: Float32Array.of(0, 3, 128, 250, 7, 255) } }],
    [{ ...base, wireElements: 96, quant: { bits: 4, scale: Float32Array.of(0.125), zeroPoint: Float32Array.of(7) } }],
    [{ ...base, wireElements: 48, pca: { k: 3, components: Float32Array.from({ length: 18 }, () => rand() - 0.5), mean: Float32Array.from({ length: 6 }, () => rand() - 0.5), explained: 1 }, quant: { bits: 8, scale: Float32Array.of(0.03125), zeroPoint: Float32Array.of(128) } }],
  ];
}

/** Cut-tensor values with many exact ties x / scale = k + 1/2, and values past every clipping bound. */
const K2: Tensor = { dtype: DataType.FLOAT, dims: [2, 6, 4, 4], data: Float32Array.from({ length: 192 }, (_, i) => (i - 96) * 0.03125 * (i % 5 === 0 ? 40 : 1)) };

const roundHalfEven = (v: number) => {
  const f = Math.floor(v);
  return v - f > 0.5 ? f + 1 : v - f < 0.5 ? f : f % 2 === 0 ? f : f + 1;
};

/** What the tail sees after a quantiser, in closed form. */
function quantised(fit: FittedTensorCodec, x: Float32Array): { wire: number[]; decoded: number[] } {
  const { bits, scale, zeroPoint } = fit.quant!;
  const per = 16;
  const wire = Array.from(x, (v, i) => {
    const c = scale.length > 1 ? Math.floor(i / per) % 6 : 0;
    return Math.min(2 ** bits - 1, Math.max(0, roundHalfEven(v / scale[c]!) + zeroPoint[c]!));
  });
  const decoded = wire.map((q, i) => {
    const c = scale.length > 1 ? Math.floor(i / per) % 6 : 0;
    return (q - zeroPoint[c]!) * scale[c]!;
  });
  return { wire, decoded };
}

/** Values with -0 read as 0 (Round keeps the sign of a negative fraction; equal as numbers). */
const values = (t: Tensor) => Array.from(t.data as Float32Array, (v) => v + 0);

const codecDims = (fit: FittedTensorCodec, wire: boolean) => ['batch', wire && fit.pca ? fit.pca.k : 6, 4, 4];

interface Results {
  gradients: Map<string, Float32Array>;
  loss: number;
  codecs: Float32Array[];
  gradcam: Float32Array[];
  exits: Float32Array[];
}

/** Everything impera emits, run at the model's opset. */
async function emitAll(g: Graph, opset: number): Promise<Results> {
  const grads = await computeGradients(g, { x: X }, { wrt: ['x', 'r1', 'k2', 'c1.w', 'fc.w'], objective: 'cross-entropy', targets: [1, 3] });
  const roundTrips = [];
  for (const fits of codecs()) roundTrips.push((await runModel(codecModel(fits, 'roundtrip', opset, codecDims), { k2: K2 }))['k2::decoded']!.data as Float32Array);
  const sal = buildSaliencyModel(g, ['r1', 'k2', 'v'], 'pred');
  const maps = await runModel(sal.proto, { x: X });
  const cut = findCuts(g).find((c) => c.tensors.includes('k2') && c.tensors.includes('r1'))!;
  const head = splitModel(g, [cut]).parts[0]!;
  const exits = [makeBranch({ kind: 'linear', hidden: 3 }, 'e0', [1, 4, 8, 8], 5), makeBranch({ kind: 'conv', hidden: 4 }, 'e1', [1, 6, 4, 4], 5)].map((branch, k) => ({ cut, tensor: k ? 'k2' : 'r1', branch, values: initParams(branch, k + 1), temperature: 1.5 }));
  const withExits = attachExits(g, head, exits);
  const exitOut = await runModel(withExits.proto, { x: X });
  return {
    gradients: new Map([...grads.gradients].map(([t, v]) => [t, v.data as Float32Array])),
    loss: grads.loss!,
    codecs: roundTrips,
    gradcam: [...sal.maps.values()].map((m) => maps[m]!.data as Float32Array),
    exits: withExits.outputs.slice(head.outputs.length).map((o) => exitOut[o]!.data as Float32Array),
  };
}

function expectClose(actual: Float32Array, expected: Float32Array, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    norm = Math.max(norm, Math.abs(expected[i]!));
  }
  expect(norm).toBeGreaterThan(0);
  expect(diff / norm).toBeLessThan(tolerance);
}

const analyse = (proto: ModelProto) => analyzeModel(inMemoryModel(proto));

describe(`everything impera emits, at every opset ONNX Runtime runs (7 to ${NEWEST})`, () => {
  let reference: Results;
  beforeAll(async () => {
    reference = await emitAll(await analyse(convnet(NEWEST)), NEWEST);
  });

  it.each(OPSETS)('opset %i: gradients, codecs, Grad-CAM and exits run in ORT and match the newest opset', async (opset) => {
    const g = await analyse(convnet(opset));
    const got = await emitAll(g, opset);
    for (const [t, grad] of reference.gradients) expectClose(got.gradients.get(t)!, grad, 1e-4);
    expect(got.loss).toBeCloseTo(reference.loss, 5);
    got.codecs.forEach((c, i) => expectClose(c, reference.codecs[i]!));
    got.gradcam.forEach((m, i) => expectClose(m, reference.gradcam[i]!, 1e-4));
    got.exits.forEach((l, i) => expectClose(l, reference.exits[i]!));
  });

  it.each([7, 8])('opset %i: the backward model is raised to 9 for MaxPool, its Upsample rewritten with scales as input', async (opset) => {
    const bwd = buildBackwardGraph(await analyse(convnet(opset)), { wrt: ['x'] });
    expect(bwd.opset).toBe(9);
    const upsample = bwd.proto.graph!.node!.find((n) => n.opType === 'Upsample')!;
    expect(upsample.input).toHaveLength(2);
    expect(upsample.attribute!.map((a) => a.name)).toEqual(['mode']);
  });

  it.each(OPSETS)('opset %i: quantisers round half to even and clip exactly as the closed form, in every codec model', async (opset) => {
    for (const fits of codecs().slice(0, 2)) {
      const fit = fits[0]!;
      const want = quantised(fit, K2.data as Float32Array);
      const wire = (await runModel(codecModel(fits, 'encode', opset, codecDims), { k2: K2 }))['k2::wire']!;
      expect(Array.from(wire.data as Uint8Array)).toEqual(want.wire);
      const decoded = await runModel(codecModel(fits, 'decode', opset, codecDims), { 'k2::wire': wire });
      expect(values(decoded['k2::decoded']!)).toEqual(want.decoded);
      const trip = await runModel(codecModel(fits, 'roundtrip', opset, codecDims), { k2: K2 });
      expect(values(trip['k2::decoded']!)).toEqual(want.decoded);
    }
  });

  it.each(OPSETS)('opset %i: exported parts at every cut compose to the full model', async (opset) => {
    const proto = convnet(opset);
    const g = await analyse(proto);
    const full = (await runModel(proto, { x: X })).y!.data as Float32Array;
    const cuts = findCuts(g);
    expect(cuts.some((c) => c.tensors.length > 1)).toBe(true);
    for (const cut of cuts) {
      const [head, tail] = splitModel(g, [cut]).parts;
      expect(head!.proto.opsetImport).toEqual(proto.opsetImport);
      const mid = await runModel(head!.proto, { x: X });
      const out = await runModel(tail!.proto, Object.fromEntries(tail!.inputs.map((n) => [n, mid[n]!])));
      expectClose(out.y!.data as Float32Array, full);
    }
  });
});
