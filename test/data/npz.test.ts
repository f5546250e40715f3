import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpz, encodeNpz } from '../../src/data/npz.js';
import { DataType } from '../../src/onnx/dtype.js';
import { tmp } from '../helpers/cli.js';

// written by numpy 2.4: np.savez(b, x=np.array([[1.5, -2]], dtype=np.float32), sr=np.array(16000)) -- ZIP64 local headers
const NUMPY_SAVEZ =
  'UEsDBC0AAAAAAAAAIQD9z6UI//////////8FABQAeC5ucHkBABAAiAAAAAAAAACIAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmNCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgxLCAyKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAADAPwAAAMBQSwMELQAAAAAAAAAhAO/qUs3//////////wYAFABzci5ucHkBABAAiAAAAAAAAACIAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxpOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKgD4AAAAAAABQSwECLQMtAAAAAAAAACEA/c+lCIgAAACIAAAABQAAAAAAAAAAAAAAgAEAAAAAeC5ucHlQSwECLQMtAAAAAAAAACEA7+pSzYgAAACIAAAABgAAAAAAAAAAAAAAgAG/AAAAc3IubnB5UEsFBgAAAAACAAIAZwAAAH8BAAAAAA==';
// np.savez_compressed(b, ids=np.array([[7, 8, 9]]))
const NUMPY_SAVEZ_COMPRESSED =
  'UEsDBC0AAAAIAAAAIQAhGggJ//////////8HABQAaWRzLm5weQEAEACYAAAAAAAAAE8AAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNpoa6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkahjoKxpo6CrUKZAMudgYI4IDSnFAaAFBLAQItAy0AAAAIAAAAIQAhGggJTwAAAJgAAAAHAAAAAAAAAAAAAACAAQAAAABpZHMubnB5UEsFBgAAAAABAAEANQAAAIgAAAAAAA==';

describe('.npz archives', () => {
  it("read numpy's own savez and savez_compressed output", () => {
    const a = decodeNpz(Buffer.from(NUMPY_SAVEZ, 'base64'));
    expect([...a.keys()]).toEqual(['x', 'sr']);
    expect(a.get('x')).toEqual({ dtype: DataType.FLOAT, dims: [1, 2], data: Float32Array.from([1.5, -2]) });
    expect(a.get('sr')).toEqual({ dtype: DataType.INT64, dims: [], data: BigInt64Array.from([16000n]) });
    const b = decodeNpz(Buffer.from(NUMPY_SAVEZ_COMPRESSED, 'base64'));
    expect(b.get('ids')).toEqual({ dtype: DataType.INT64, dims: [1, 3], data: BigInt64Array.from([7n, 8n, 9n]) });
  });

  it('round-trip what the test writer stores or deflates', () => {
    const arrays = { a: { dtype: DataType.INT32, dims: [2], data: Int32Array.from([1, -1]) }, b: { dtype: DataType.UINT8, dims: [1, 1], data: Uint8Array.from([9]) } };
    for (const deflate of [false, true]) expect(Object.fromEntries(decodeNpz(encodeNpz(arrays, deflate)))).toEqual(arrays);
  });

  it('write archives numpy itself reads, stored and deflated (python3-numpy as the oracle)', () => {
    const arrays = { x: { dtype: DataType.FLOAT, dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }, sr: { dtype: DataType.INT64, dims: [], data: BigInt64Array.from([16000n]) } };
    for (const deflate of [false, true]) {
      const file = join(tmp(), 'a.npz');
      writeFileSync(file, encodeNpz(arrays, deflate));
      const r = spawnSync('python3', ['-c', 'import sys, numpy as np; a = np.load(sys.argv[1]); print(sorted(a.files), a["x"].shape, a["x"].sum(), int(a["sr"]))', file], { encoding: 'utf8' });
      expect(r.stdout.trim(), r.stderr).toBe("['sr', 'x'] (2, 3) 21.0 16000");
    }
  });

  it('refuse what is not a zip with one line', () => {
    expect(() => decodeNpz(Buffer.from('not a zip at all, just text'), 'f.npz')).toThrow(/^'f\.npz' is not a readable \.npz archive \(no zip directory\)$/);
  });
});
