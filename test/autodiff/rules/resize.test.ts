/** The nearest-upsampling gradient rule (Resize, Upsample) against finite differences, and what it refuses. */
import { describe, expect, it } from 'vitest';
import { buildBackwardGraph } from '../../../src/autodiff/backward.js';
import { analyzeModel } from '../../../src/graph/analyze.js';
import type { AttrValue } from '../../../src/onnx/attributes.js';
import { ModelBuilder } from '../../../src/onnx/builder.js';
import { inMemoryModel } from '../../../src/onnx/io.js';
import { gradCheck } from '../gradcheck.js';

/** x [N, 2, 3, 4] -> Resize/Upsample by `scales` -> Tanh (so dy varies with y). */
function upsample(op: 'Resize' | 'Upsample', opset: number, scales: number[], attrs: Record<string, AttrValue>) {
  const b = new ModelBuilder({ opset });
  b.input('x', 'float32', ['batch', 2, 3, 4]);
  const s = b.initializer('scales', 'float32', [4], Float32Array.from(scales));
  const inputs = op === 'Upsample' ? ['x', s] : opset >= 13 ? ['x', '', s] : ['x', b.initializer('roi', 'float32', [0], new Float32Array(0)), s];
  b.op(op, inputs, attrs, { output: 'up' });
  b.op('Tanh', ['up'], {}, { output: 'y' });
  b.output('y', 'float32', ['batch', 2, 3 * scales[2]!, 4 * scales[3]!]);
  return b.build();
}

const CASES: { name: string; model: ReturnType<typeof upsample> }[] = [
  { name: 'Resize asymmetric/floor x2 x3 (Paddle2ONNX, opset 11)', model: upsample('Resize', 11, [1, 1, 2, 3], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }) },
  { name: 'Resize half_pixel/round_prefer_floor x2 (PyTorch, opset 17)', model: upsample('Resize', 17, [1, 1, 2, 2], { mode: 'nearest' }) },
  { name: 'Resize of one axis x4 (opset 13)', model: upsample('Resize', 13, [1, 1, 1, 4], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }) },
  { name: 'Upsample x2 (opset 9)', model: upsample('Upsample', 9, [1, 1, 2, 2], { mode: 'nearest' }) },
];

describe('nearest upsampling gradient', () => {
  for (const c of CASES) {
    it(`${c.name}: sums dy over each block, as finite differences say`, async () => {
      const { errors, norms } = await gradCheck(c.model, { x: { shape: [2, 2, 3, 4], declared: ['batch', 2, 3, 4] } }, ['x'], { samples: 48 });
      expect(norms.x).toBeGreaterThan(0.1);
      expect(errors.x).toBeLessThan(1e-3);
    });
  }

  it('names what it cannot differentiate: linear mode, asymmetric with rounding', async () => {
    const linear = await analyzeModel(inMemoryModel(upsample('Resize', 13, [1, 1, 2, 2], { mode: 'linear' })));
    expect(() => buildBackwardGraph(linear, { wrt: ['x'], objective: 'seed' })).toThrow(/Resize 'up' in mode linear \(only nearest has a gradient rule\)/);
    const rounded = await analyzeModel(inMemoryModel(upsample('Resize', 13, [1, 1, 2, 2], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric' })));
    expect(() => buildBackwardGraph(rounded, { wrt: ['x'], objective: 'seed' })).toThrow(/with coordinate_transformation_mode asymmetric and nearest_mode round_prefer_floor/);
  });
});
