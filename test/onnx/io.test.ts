import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImperaError } from '../../src/errors.js';
import { encodeModel, loadModel, saveModel } from '../../src/onnx/io.js';
import { readTensor } from '../../src/onnx/tensor.js';
import { chain } from '../helpers/models.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'impera-io-'));

function expectError(fn: () => unknown, code: string, text: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImperaError);
    expect((e as ImperaError).code).toBe(code);
    expect((e as ImperaError).message).toMatch(text);
    return;
  }
  throw new Error('expected an error');
}

describe('loadModel / saveModel', () => {
  it('round-trips a model byte for byte', () => {
    const dir = tmp();
    const m = chain();
    saveModel(m, join(dir, 'm.onnx'));
    const back = loadModel(join(dir, 'm.onnx'));
    expect(encodeModel(back.proto)).toEqual(encodeModel(m.proto));
    expect(back.fileBytes).toBe(readFileSync(join(dir, 'm.onnx')).byteLength);
  });

  it('writes external data and reads it back', () => {
    const dir = tmp();
    const m = chain();
    saveModel(m, join(dir, 'ext.onnx'), { externalData: { minBytes: 64 } });
    expect(existsSync(join(dir, 'ext.onnx.data'))).toBe(true);
    const back = loadModel(join(dir, 'ext.onnx'));
    const original = m.proto.graph!.initializer!.find((t) => t.name === 'c2.w')!;
    const stored = back.proto.graph!.initializer!.find((t) => t.name === 'c2.w')!;
    expect(stored.dataLocation).toBe(1);
    expect(readTensor(stored, back.dir).data).toEqual(readTensor(original).data);
    // saving again elsewhere embeds the external tensors so the copy stands alone
    const other = tmp();
    saveModel(back, join(other, 'inline.onnx'));
    const inline = loadModel(join(other, 'inline.onnx'));
    expect(readTensor(inline.proto.graph!.initializer!.find((t) => t.name === 'c2.w')!, inline.dir).data).toEqual(readTensor(original).data);
  });

  it('says a missing file is missing', () => {
    expectError(() => loadModel('/no/such/model.onnx'), 'FILE_NOT_FOUND', /does not exist/);
  });

  it('says a text file is not ONNX', () => {
    const f = join(tmp(), 'notes.onnx');
    writeFileSync(f, 'these are my notes, not a model\n');
    expectError(() => loadModel(f), 'NOT_ONNX', /not an ONNX model/);
  });

  it('says an empty file is not ONNX', () => {
    const f = join(tmp(), 'empty.onnx');
    writeFileSync(f, '');
    expectError(() => loadModel(f), 'NOT_ONNX', /not an ONNX model/);
  });

  it('says a truncated model is truncated', () => {
    const dir = tmp();
    saveModel(chain(), join(dir, 'm.onnx'));
    const bytes = readFileSync(join(dir, 'm.onnx'));
    writeFileSync(join(dir, 'cut.onnx'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    expectError(() => loadModel(join(dir, 'cut.onnx')), 'TRUNCATED_MODEL', /truncated/);
  });

  it('says when an external data file is missing', () => {
    const dir = tmp();
    saveModel(chain(), join(dir, 'ext.onnx'), { externalData: { minBytes: 64 } });
    writeFileSync(join(dir, 'ext.onnx.data'), '');
    expectError(() => readTensor(loadModel(join(dir, 'ext.onnx')).proto.graph!.initializer!.find((t) => t.name === 'c2.w')!, dir), 'TRUNCATED_MODEL', /ends before tensor/);
    const other = tmp();
    writeFileSync(join(other, 'ext.onnx'), readFileSync(join(dir, 'ext.onnx')));
    expectError(() => loadModel(join(other, 'ext.onnx')), 'FILE_NOT_FOUND', /ext\.onnx\.data/);
  });
});
