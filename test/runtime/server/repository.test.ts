/**
 * The model repository `impera serve` loads: models that would make the server read files outside the repository
 * or allocate more than memory holds are refused when the repository is loaded, before any worker starts.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImperaError } from '../../../src/errors.js';
import { saveModel } from '../../../src/onnx/io.js';
import { loadRepository } from '../../../src/runtime/server/repository.js';
import { hugeInput, withExternalData } from '../../helpers/models.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'impera-repo-'));

const refusal = (repo: string): ImperaError => {
  try {
    loadRepository(repo, { maxBatch: 8 });
  } catch (e) {
    if (e instanceof ImperaError) return e;
    throw e;
  }
  throw new Error('expected the repository to be refused');
};

describe('loadRepository refuses models it must not serve', () => {
  it('a model whose external data is a file outside the repository', () => {
    const root = tmp();
    writeFileSync(join(root, 'secret.txt'), 'top secret '.repeat(1000));
    const repo = join(root, 'repo');
    mkdirSync(repo);
    withExternalData(repo, { location: '../secret.txt', offset: '0' }, 'tail.onnx');
    expect(refusal(repo).message).toMatch(/tensor 'c2\.w' keeps its data in '\.\.\/secret\.txt', which is outside the model's folder/);
  });

  it('a model whose input declares more bytes per sample than a tensor can hold', () => {
    const repo = tmp();
    saveModel(hugeInput(), join(repo, 'huge.onnx'));
    const e = refusal(repo);
    expect(e.code).toBe('BAD_REPOSITORY');
    expect(e.message).toMatch(/model 'huge': input 'x' declares shape \[-1, 1000000, 1000000\], 4000000000000 bytes per sample, more than a tensor can hold/);
  });

  it('while the same model at a size memory holds loads', () => {
    const repo = tmp();
    withExternalData(repo, {}, 'tail.onnx');
    expect(loadRepository(repo, { maxBatch: 8 }).map((m) => m.name)).toEqual(['tail']);
  });
});
