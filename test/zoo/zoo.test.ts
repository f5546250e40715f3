/**
 * The four reference models of ../shared/zoo: the cuts a split-computing engineer expects, bytes and MACs that
 * match the published figures, and exact composition of head and tail at every single-tensor cut on real
 * Fashion-MNIST test images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCuts } from '../../src/cuts/cuts.js';
import { modelCost } from '../../src/cost/part.js';
import { sampleFeeds } from '../../src/data/samples.js';
import { splitModel } from '../../src/export/split.js';
import { referenceOutputs, verifyParts } from '../../src/export/verify.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { tensor } from '../../src/graph/graph.js';
import { loadModel } from '../../src/onnx/io.js';
import { ZOO } from '../helpers/models.js';

const MODELS = ['vgg16', 'resnet50', 'mobilenet_v2', 'vit_tiny'] as const;
const analyse = (name: string) => analyzeModel(loadModel(join(ZOO, `${name}.onnx`)));

/** The I-SPLIT candidate tensors the zoo's timing file names (VGG16 ReLU/MaxPool, ResNet-50 blocks, MobileNetV2 blocks). */
function candidates(name: string): string[] {
  const timings = JSON.parse(readFileSync(join(ZOO, 'timings_h100_cpu16.json'), 'utf8'));
  return timings.models[name].points.map((p: { onnx_tensor: string }) => p.onnx_tensor);
}

describe('cuts of the zoo models', () => {
  it('resnet50: the stem max-pool and all 16 bottleneck-block outputs are single-tensor cuts', async () => {
    const g = await analyse('resnet50');
    const single = new Set(findCuts(g, { maxWidth: 1 }).map((c) => c.id));
    const blocks = [3, 4, 6, 3].flatMap((n, l) => Array.from({ length: n }, (_, b) => `/1/layer${l + 1}/layer${l + 1}.${b}/relu_2/Relu_output_0`));
    expect(blocks).toHaveLength(16);
    for (const t of ['/1/maxpool/MaxPool_output_0', ...blocks, ...candidates('resnet50')]) expect(single, t).toContain(t);
  });

  it('resnet50: inside a block, branch + skip pairs are width-2 cuts', async () => {
    const g = await analyse('resnet50');
    const ids = findCuts(g).map((c) => c.id);
    expect(ids).toContain('/1/layer1/layer1.0/relu_2/Relu_output_0+/1/layer1/layer1.1/relu/Relu_output_0');
  });

  it('vgg16: every ReLU and MaxPool output is a single-tensor cut', async () => {
    const g = await analyse('vgg16');
    const single = new Set(findCuts(g, { maxWidth: 1 }).map((c) => c.id));
    const wanted = g.nodes.filter((n) => n.opType === 'Relu' || n.opType === 'MaxPool').map((n) => n.outputs[0]!);
    expect(wanted).toHaveLength(14 + 5);
    for (const t of [...wanted, ...candidates('vgg16')]) expect(single, t).toContain(t);
  });

  it('mobilenet_v2: every block output is a single-tensor cut', async () => {
    const g = await analyse('mobilenet_v2');
    const single = new Set(findCuts(g, { maxWidth: 1 }).map((c) => c.id));
    for (const t of candidates('mobilenet_v2')) expect(single, t).toContain(t);
  });

  it('vit_tiny: the 12 block boundaries are single-tensor cuts despite its Shape/Gather/Reshape chains', async () => {
    const g = await analyse('vit_tiny');
    const single = new Set(findCuts(g, { maxWidth: 1 }).map((c) => c.id));
    for (let b = 0; b < 12; b++) expect(single).toContain(`/1/blocks/blocks.${b}/Add_1_output_0`);
  });

  it('bytes of every cut tensor are its elements times 4 (float32)', async () => {
    for (const name of MODELS) {
      const g = await analyse(name);
      for (const c of findCuts(g)) for (const t of c.detail) expect(t.bytes).toBe(4 * t.shape.reduce((a, b) => a * b, 1));
    }
  });

  it('vgg16 at batch 1: input 602,112 B, last max-pool 100,352 B', async () => {
    const g = await analyse('vgg16');
    expect(tensor(g, 'input').bytes).toBe(602_112);
    expect(findCuts(g, { maxWidth: 1 }).find((c) => c.id === '/1/features/features.43/MaxPool_output_0')!.bytes).toBe(100_352);
  });
});

describe('MACs match the published counts at 224x224 (within 2 %)', () => {
  const within = (value: number, published: number) => expect(Math.abs(value / published - 1)).toBeLessThan(0.02);
  it('resnet50 about 4.1 GMACs', async () => within(modelCost(await analyse('resnet50')).macs, 4.1e9));
  it('mobilenet_v2 about 0.3 GMACs', async () => within(modelCost(await analyse('mobilenet_v2')).macs, 0.3e9));
  it('vgg16 features about 15.4 GMACs', async () => {
    const g = await analyse('vgg16');
    const features = findCuts(g, { maxWidth: 1 }).find((c) => c.id === '/1/features/features.43/MaxPool_output_0')!;
    within(features.headCost.macs, 15.4e9);
  });
});

describe('split composes exactly at every single-tensor cut (8 Fashion-MNIST test images)', () => {
  for (const name of MODELS) {
    it(name, async () => {
      const g = await analyse(name);
      const { feeds, source } = sampleFeeds(g.inputShapes, 8);
      expect(source).toMatch(/Fashion-MNIST/);
      // at the level a runtime uses (as before verify defaulted to optimisations off): the zoo's parts compose within
      // 1e-5 there too, and vgg16's unfused convolutions would take minutes per model
      const level = { optimization: 'all' as const, tolerance: 1e-5 };
      const expected = await referenceOutputs(g, feeds, level);
      let worst = 0;
      for (const cut of findCuts(g, { maxWidth: 1 })) {
        const { parts } = splitModel(g, [cut]);
        const report = await verifyParts(g, parts, feeds, { ...level, expected });
        worst = Math.max(worst, ...report.outputs.map((o) => o.relative));
        expect(report.ok, `${name} at ${cut.id}: relative ${report.outputs[0]!.relative}`).toBe(true);
        expect(parts.every((p) => p.dynamicBatch)).toBe(true);
      }
      expect(worst).toBeLessThanOrEqual(1e-5);
    });
  }
});
