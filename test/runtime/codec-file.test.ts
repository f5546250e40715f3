/** Reading codec.json: the wire format a split's codec.json describes, and errors that say what is wrong with the file. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWireCodec, readWireDescription } from '../../src/runtime/codec-file.js';
import { splitRepo } from '../helpers/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-codec-file-'));

describe('codec.json', () => {
  it('reads the wire format impera split --codec wrote', async () => {
    const repo = await splitRepo('int8');
    const codec = loadWireCodec(join(repo.dir, 'codec.json'));
    expect(codec.spec.name).toBe('int8');
    expect(codec.tensors.map((t) => t.tensor)).toEqual(['r1']);
  });

  it('says when the file is missing, not JSON, or not a codec description', () => {
    expect(() => readWireDescription(join(dir, 'missing.json'))).toThrow(/codec description '.*missing\.json' does not exist/);
    writeFileSync(join(dir, 'bad.json'), '{"codec": ');
    expect(() => readWireDescription(join(dir, 'bad.json'))).toThrow(/'.*bad\.json' is not valid JSON/);
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ codec: 'int8', tensors: [{ tensor: 'r1' }] }));
    expect(() => readWireDescription(join(dir, 'other.json'))).toThrow(/codec description '.*other\.json' line 1: tensors\.0\.wire: missing/);
  });
});
