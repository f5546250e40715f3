import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImperaError } from '../../src/errors.js';
import { encodeModel, loadModel, saveModel } from '../../src/onnx/io.js';
import { DataType } from '../../src/onnx/dtype.js';
import { onnx } from '../../src/onnx/proto.js';
import { MAX_TENSOR_BYTES, readTensor } from '../../src/onnx/tensor.js';
import { chain, EXTERNAL_TENSOR, withExternalData } from '../helpers/models.js';

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

/** Change EXTERNAL_TENSOR of a saved model in place; returns the file. */
function editTensor(file: string, edit: (t: onnx.TensorProto) => void): string {
  const m = loadModel(file);
  edit(m.proto.graph!.initializer!.find((i) => i.name === EXTERNAL_TENSOR)! as onnx.TensorProto);
  writeFileSync(file, encodeModel(m.proto));
  return file;
}

describe('external data', () => {
  /** A folder holding a secret file and, below it, the model's folder: `secret` is outside the model's folder. */
  function layout(): { model: string; secret: string } {
    const root = tmp();
    const secret = join(root, 'secret.txt');
    writeFileSync(secret, 'top secret '.repeat(1000));
    mkdirSync(join(root, 'model'));
    return { model: join(root, 'model'), secret };
  }
  const c2 = (file: string) => {
    const m = loadModel(file);
    return readTensor(m.proto.graph!.initializer!.find((t) => t.name === EXTERNAL_TENSOR)!, m.dir);
  };
  const original = () => readTensor(chain().proto.graph!.initializer!.find((t) => t.name === EXTERNAL_TENSOR)!).data;

  it('refuses a location that leaves the model folder, relative or absolute', () => {
    const { model, secret } = layout();
    for (const location of ['../secret.txt', 'sub/../../secret.txt', secret]) {
      expectError(() => loadModel(withExternalData(model, { location, offset: '0' })), 'INVALID_MODEL', /keeps its data in '.*secret\.txt', which is outside the model's folder/);
    }
  });

  it("refuses a symlink inside the folder that points outside it, and follows one that stays inside", () => {
    const { model, secret } = layout();
    symlinkSync(secret, join(model, 'link.data'));
    expectError(() => loadModel(withExternalData(model, { location: 'link.data', offset: '0' })), 'INVALID_MODEL', /'link\.data', which is outside the model's folder/);
    // a link within the folder, and a data file in a sub-folder, are where exporters put weights
    const inside = tmp();
    withExternalData(inside, {}, 'a.onnx');
    symlinkSync(join(inside, 'a.onnx.data'), join(inside, 'inner.data'));
    expect(c2(withExternalData(inside, { location: 'inner.data' }, 'b.onnx')).data).toEqual(original());
    mkdirSync(join(inside, 'weights'));
    renameSync(join(inside, 'a.onnx.data'), join(inside, 'weights', 'a.data'));
    expect(c2(withExternalData(inside, { location: 'weights/a.data' }, 'c.onnx')).data).toEqual(original());
  });

  it('refuses offsets and lengths past the end of the data file', () => {
    const dir = tmp();
    withExternalData(dir, {}, 'ok.onnx');
    const size = statSync(join(dir, 'ok.onnx.data')).size;
    const extents: Record<string, string>[] = [{ offset: String(size) }, { offset: String(size - 100) }, { length: String(size + 1) }, { offset: '9007199254740991' }];
    for (const keys of extents) {
      expectError(() => loadModel(withExternalData(dir, { location: 'ok.onnx.data', ...keys })), 'TRUNCATED_MODEL', /ends before tensor 'c2\.w'/);
    }
  });

  it('refuses offsets and lengths that are not byte counts', () => {
    const dir = tmp();
    for (const value of ['-4', 'abc', '', '1e3', '0x10', '99999999999999999999']) {
      expectError(() => loadModel(withExternalData(dir, { offset: value })), 'INVALID_MODEL', /external-data offset '.*', which is not a byte count/);
      expectError(() => loadModel(withExternalData(dir, { length: value })), 'INVALID_MODEL', /external-data length '.*', which is not a byte count/);
    }
  });

  it('refuses a location that is a folder rather than a file', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'weights'));
    expectError(() => loadModel(withExternalData(dir, { location: 'weights' })), 'INVALID_MODEL', /'weights', which is not a regular file/);
  });

  it('refuses declared sizes no tensor can hold, before allocating', () => {
    const dir = tmp();
    // a sparse file larger than a typed array can hold: every extent is inside the file, only memory refuses it
    const big = join(dir, 'big.data');
    writeFileSync(big, '');
    truncateSync(big, MAX_TENSOR_BYTES + 4096);
    expectError(() => loadModel(withExternalData(dir, { location: 'big.data', length: String(MAX_TENSOR_BYTES + 1) })), 'INVALID_MODEL', /declares \d+ bytes, more than one tensor can hold in memory/);
    // the same through the dims when no length is given
    const file = editTensor(withExternalData(dir, { location: 'big.data' }), (t) => {
      t.dims = [1e6, 1e6];
      t.externalData = t.externalData!.filter((e) => e.key !== 'length');
    });
    expectError(() => loadModel(file), 'INVALID_MODEL', /declares 4000000000000 bytes/);
  });
});

describe('readTensor on declared shapes that disagree with the data', () => {
  const tensor = (dims: number[], fields: Partial<onnx.TensorProto> = {}) => onnx.TensorProto.create({ name: 't', dataType: DataType.FLOAT, dims, ...fields });

  it('says a huge shape over no data holds too few values, without allocating it', () => {
    expectError(() => readTensor(tensor([1e6, 1e6])), 'INVALID_MODEL', /holds 0 values but its shape \[1000000,1000000\] needs 1000000000000/);
    expectError(() => readTensor(tensor([1e6, 1e6], { rawData: new Uint8Array(8) })), 'INVALID_MODEL', /holds 8 bytes but its shape/);
  });

  it('refuses negative or fractional dims', () => {
    expectError(() => readTensor(tensor([-2], { floatData: [1, 2] })), 'INVALID_MODEL', /dims \[-2\], which are not all non-negative integers/);
    expectError(() => readTensor(tensor([2, -1], { rawData: new Uint8Array(8) })), 'INVALID_MODEL', /not all non-negative integers/);
  });

  it('names an element type it does not know when it needs its size', () => {
    const file = editTensor(withExternalData(tmp(), {}), (t) => {
      t.dataType = 99;
      t.externalData = t.externalData!.filter((e) => e.key !== 'length');
    });
    expectError(() => loadModel(file), 'INVALID_MODEL', /unknown ONNX element type 99/);
  });
});
