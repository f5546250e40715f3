/** Triton model configurations: read as the documentation writes them, written as Triton reads them. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/io.js';
import type { ModelMetadata } from '../../src/runtime/protocol/messages.js';
import { modelMetadata } from '../../src/runtime/protocol/metadata.js';
import { loadRepository } from '../../src/runtime/server/repository.js';
import { parseTextProto, readTritonServing, tritonConfig, writeTritonModel, type TextMessage } from '../../src/runtime/triton.js';
import { splitRepo } from '../helpers/runtime.js';
import { TRITON_MINIMAL_CONFIG } from './fixtures/spec.js';

const meta: ModelMetadata = {
  name: 'tail',
  platform: 'onnx_onnxv1',
  inputs: [{ name: '/features.5/Add_output_0::wire', datatype: 'UINT8', shape: [-1, 32, 28, 28] }],
  outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
};

describe('text-format model configurations', () => {
  it("reads the documentation's minimal configuration", () => {
    const c = parseTextProto(TRITON_MINIMAL_CONFIG);
    expect(c.platform).toEqual(['tensorrt_plan']);
    expect(c.max_batch_size).toEqual([8]);
    expect((c.input as TextMessage[]).map((i) => [i.name![0], i.data_type![0], i.dims])).toEqual([['input0', 'TYPE_FP32', [16]], ['input1', 'TYPE_FP32', [16]]]);
    expect(readTritonServing(c)).toEqual({ maxBatch: 8 });
  });

  it('writes the fields Triton needs: dims without the batch dim when max_batch_size > 0, TYPE_ names, batching, CPU instances', () => {
    const c = parseTextProto(tritonConfig(meta, { maxBatch: 16, batchDelayUs: 500, instances: 2 }));
    expect(c.name).toEqual(['tail']);
    expect(c.platform).toEqual(['onnxruntime_onnx']);
    expect(c.max_batch_size).toEqual([16]);
    const [input] = c.input as TextMessage[];
    expect(input).toEqual({ name: ['/features.5/Add_output_0::wire'], data_type: ['TYPE_UINT8'], dims: [32, 28, 28] });
    expect((c.output as TextMessage[])[0]!.dims).toEqual([10]);
    expect(c.dynamic_batching).toEqual([{ max_queue_delay_microseconds: [500] }]);
    expect(c.instance_group).toEqual([{ count: [2], kind: ['KIND_CPU'] }]);
    expect(readTritonServing(c)).toEqual({ name: 'tail', maxBatch: 16, batchDelayUs: 500 });
  });

  it('writes max_batch_size 0 and full dims for a model without a batch dim, and no dynamic batching', () => {
    const fixed = { ...meta, inputs: [{ ...meta.inputs[0]!, shape: [1, 32, 28, 28] }] };
    const c = parseTextProto(tritonConfig(fixed, { maxBatch: 8, batchDelayUs: 100 }));
    expect(c.max_batch_size).toEqual([0]);
    expect((c.input as TextMessage[])[0]!.dims).toEqual([1, 32, 28, 28]);
    expect(c.dynamic_batching).toBeUndefined();
  });

  it('quotes names with quotes and backslashes so they read back unchanged', () => {
    const odd = { ...meta, inputs: [{ ...meta.inputs[0]!, name: 'a "b" \\c' }] };
    expect((parseTextProto(tritonConfig(odd, { maxBatch: 1 })).input as TextMessage[])[0]!.name).toEqual(['a "b" \\c']);
  });

  it.each([
    ['an unclosed message', 'input [ { name: "x" ', /missing/],
    ['a stray character', 'max_batch_size: 8 @', /unexpected character '@'/],
    ['a value missing', 'max_batch_size: }', /expected a value/],
  ])('refuses %s with the file and position', (_what, text, message) => {
    expect(() => parseTextProto(text, 'repo/m/config.pbtxt')).toThrow(message);
    expect(() => parseTextProto(text, 'repo/m/config.pbtxt')).toThrow(/repo\/m\/config\.pbtxt/);
  });
});

describe('model repositories', () => {
  it('serves the tail of an exported Triton repository with its batching settings', async () => {
    const split = await splitRepo('int8');
    const repo = mkdtempSync(join(tmpdir(), 'impera-triton-'));
    const tail = loadModel(join(split.dir, 'tail.onnx'));
    const dir = writeTritonModel(tail, modelMetadata(tail.proto, 'tail', '1'), repo, { maxBatch: 4, batchDelayUs: 2000 });
    copyFileSync(join(split.dir, 'codec.json'), join(dir, 'codec.json'));
    const [m] = loadRepository(repo, { maxBatch: 8 });
    expect(m).toMatchObject({ name: 'tail', version: '1', file: join(repo, 'tail', '1', 'model.onnx'), maxBatch: 4, batchDelayMs: 2 });
    expect(m!.wire?.spec.name).toBe('int8');
  });

  it('reads NAME.onnx and NAME/model.onnx, serves the highest version, and applies codec.json only where it fits', async () => {
    const split = await splitRepo('int8');
    const models = loadRepository(split.dir, { maxBatch: 8 });
    expect(models.map((m) => [m.name, !!m.wire])).toEqual([['head', false], ['tail', true]]);
    const repo = mkdtempSync(join(tmpdir(), 'impera-layouts-'));
    mkdirSync(join(repo, 'a'));
    copyFileSync(join(split.dir, 'tail.onnx'), join(repo, 'a', 'model.onnx'));
    for (const v of ['1', '3', '20']) {
      mkdirSync(join(repo, 'b', v), { recursive: true });
      copyFileSync(join(split.dir, 'tail.onnx'), join(repo, 'b', v, 'model.onnx'));
    }
    expect(loadRepository(repo, { maxBatch: 8 }).map((m) => [m.name, m.version])).toEqual([['a', '1'], ['b', '20']]);
  });

  it('says what is wrong with a repository', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'impera-empty-'));
    expect(() => loadRepository(empty, { maxBatch: 8 })).toThrow(/holds no models/);
    expect(() => loadRepository(join(empty, 'missing'), { maxBatch: 8 })).toThrow(/is not a folder/);
    const split = await splitRepo();
    mkdirSync(join(empty, 'm', '1'), { recursive: true });
    copyFileSync(join(split.dir, 'tail.onnx'), join(empty, 'm', '1', 'model.onnx'));
    writeFileSync(join(empty, 'm', 'config.pbtxt'), 'name: "other"\nmax_batch_size: 2\n');
    expect(() => loadRepository(empty, { maxBatch: 8 })).toThrow(/names the model 'other' but its folder is 'm'/);
    writeFileSync(join(empty, 'm', 'config.pbtxt'), 'max_batch_size: [');
    expect(() => loadRepository(empty, { maxBatch: 8 })).toThrow(/config\.pbtxt/);
    writeFileSync(join(empty, 'm', 'config.pbtxt'), 'max_batch_size: -1\n');
    expect(() => loadRepository(empty, { maxBatch: 8 })).toThrow(/m\/config\.pbtxt: max_batch_size must be a whole number >= 0, got -1/);
    writeFileSync(join(empty, 'm', 'config.pbtxt'), 'max_batch_size: 4\ndynamic_batching { max_queue_delay_microseconds: "soon" }\n');
    expect(() => loadRepository(empty, { maxBatch: 8 })).toThrow(/max_queue_delay_microseconds must be a whole number >= 0, got "soon"/);
    writeFileSync(join(empty, 'm', 'config.pbtxt'), 'max_batch_size: 2\n');
    copyFileSync(join(split.dir, 'tail.onnx'), join(empty, 'm.onnx'));
    expect(() => loadRepository(empty, { maxBatch: 8 })).toThrow(/holds the model 'm' twice: '.*m\/1\/model\.onnx' and '.*m\.onnx'/);
  });
});

describe('configurations impera serve refuses at start', () => {
  it('a configuration nested 200,000 deep, a folder in place of the file, and a batching delay of hours', async () => {
    expect(() => parseTextProto(`${'a { '.repeat(200_000)}${'} '.repeat(200_000)}`, 'deep.pbtxt')).toThrow(/^deep\.pbtxt: messages nest deeper than 100 levels/);
    const tail = loadModel(join((await splitRepo()).dir, 'tail.onnx'));
    /** A Triton repository of the tail whose config.pbtxt is `config`, or a folder when undefined. */
    const triton = (config: string | undefined) => {
      const repo = mkdtempSync(join(tmpdir(), 'impera-triton-'));
      const dir = writeTritonModel(tail, modelMetadata(tail.proto, 'tail', '1'), repo, { maxBatch: 8 });
      rmSync(join(dir, 'config.pbtxt'));
      if (config === undefined) mkdirSync(join(dir, 'config.pbtxt'));
      else writeFileSync(join(dir, 'config.pbtxt'), config);
      return repo;
    };
    expect(() => loadRepository(triton('max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 100000000000 }\n'), { maxBatch: 8 })).toThrow(/config\.pbtxt: dynamic_batching\.max_queue_delay_microseconds is 100000000000, beyond the 60000000 \(60 s\) impera serve allows/);
    expect(loadRepository(triton('max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 60000000 }\n'), { maxBatch: 8 })[0]!.batchDelayMs).toBe(60_000);
    expect(() => loadRepository(triton(undefined), { maxBatch: 8 })).toThrow(/^Triton configuration '.*config\.pbtxt' cannot be read \(EISDIR/);
  });
});
