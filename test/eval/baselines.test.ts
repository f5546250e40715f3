/** Input-side baselines on array data: no image form exists, so remote computing sends the input tensors as they are. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../src/data/dataset.js';
import { writeNpy } from '../../src/data/npy.js';
import { inputBaselines } from '../../src/eval/baselines.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/dtype.js';
import { inMemoryModel } from '../../src/onnx/io.js';

describe('inputBaselines on arrays (audio, features)', () => {
  it('gives one baseline, the input tensors, with their bytes per sample and the full model exact', async () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', ['N', 8]);
    b.op('Relu', ['x'], {}, { output: 'y' });
    b.output('y', 'float32', ['N', 8]);
    const g = await analyzeModel(inMemoryModel(b.build(), 'relu'));
    const dir = mkdtempSync(join(tmpdir(), 'impera-baselines-'));
    writeNpy(join(dir, 'x.npy'), { dtype: DataType.FLOAT, dims: [5, 8], data: Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)) });
    const [only, ...rest] = await inputBaselines(g, openDataset(join(dir, 'x.npy')), 5, { batchSize: 2 });
    expect(rest).toEqual([]);
    expect(only!.name).toBe('input tensors (x)');
    expect(only!.bytes).toEqual({ mean: 32, p95: 32, samples: 5 });
    // unlabelled [N, 8] scores: agreement with the full model, which the input tensors deliver exactly
    expect(only!.quality.metric).toBe('top1-agreement');
    expect(only!.quality.value).toBe(1);
  });
});
