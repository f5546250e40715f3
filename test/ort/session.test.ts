/** Sessions from in-memory models: external data is resolved by impera (checked), never left for ONNX Runtime to find. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { onnx } from '../../src/onnx/proto.js';
import { createSession, run } from '../../src/ort/session.js';

const VALUES = Float32Array.from([1.5, -2, 3.25, 4]);

/** y = x + c, with c a Constant node whose tensor is stored in the external file `location`. */
function constantFromFile(location: string): onnx.ModelProto {
  const b = new ModelBuilder();
  b.input('x', 'float32', [4]);
  const entry = (key: string, value: string) => onnx.StringStringEntryProto.create({ key, value });
  const value = onnx.TensorProto.create({ name: 'c', dataType: onnx.TensorProto.DataType.FLOAT, dims: [4], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [entry('location', location), entry('offset', '0'), entry('length', '16')] });
  b.node('Constant', [], { value }, { outputs: ['c'] });
  b.op('Add', ['x', 'c'], {}, { output: 'y' });
  b.output('y', 'float32', [4]);
  return b.build();
}

describe('createSession', () => {
  it("reads a Constant node's external tensor from the model's folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'impera-session-'));
    writeFileSync(join(dir, 'c.data'), VALUES);
    const session = await createSession(constantFromFile('c.data'), dir);
    const out = await run(session, { x: { dtype: onnx.TensorProto.DataType.FLOAT, dims: [4], data: new Float32Array(4) } });
    await session.release();
    expect(out.y!.data).toEqual(VALUES);
  });

  it("refuses a Constant node's external tensor outside the model's folder", async () => {
    const root = mkdtempSync(join(tmpdir(), 'impera-session-'));
    writeFileSync(join(root, 'secret.data'), VALUES);
    mkdirSync(join(root, 'model'));
    await expect(createSession(constantFromFile('../secret.data'), join(root, 'model'))).rejects.toThrow(/tensor 'c' keeps its data in '\.\.\/secret\.data', which is outside the model's folder/);
  });
});
