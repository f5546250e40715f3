/** Which data an analysis uses: splits of a source, the default images, and what codecs are fitted on. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeGrayPng } from '../../src/data/images.js';
import { calibrationData, DEFAULT_DATA, labelledSplits, openSource } from '../../src/data/policy.js';
import { openDataset } from '../../src/data/dataset.js';
import { EXAMPLE_DATA } from '../../src/util/package.js';

const root = mkdtempSync(join(tmpdir(), 'impera-policy-'));
mkdirSync(join(root, 'images', 'a'), { recursive: true });
writeFileSync(join(root, 'images', 'a', '0.png'), encodeGrayPng(4, 4, new Uint8Array(16)));

const installed = process.env.IMPERA_FASHION_MNIST;
afterEach(() => {
  if (installed === undefined) delete process.env.IMPERA_FASHION_MNIST;
  else process.env.IMPERA_FASHION_MNIST = installed;
});
/** Fashion-MNIST looked up in an empty folder: as on a machine without it. */
const uninstall = () => {
  process.env.IMPERA_FASHION_MNIST = mkdtempSync(join(tmpdir(), 'impera-no-fm-'));
};

describe('data policy', () => {
  it('commands default to the built-in labelled sample', () => {
    expect(DEFAULT_DATA).toBe(EXAMPLE_DATA);
    expect(openDataset(DEFAULT_DATA).size).toBe(200);
  });

  it('a folder is one set (its test images a held-out share), relative to the scenario when a folder is given', () => {
    const splits = labelledSplits('images', root);
    expect(splits.test).toBeNull();
    expect(splits.train().name).toBe(`${root}/images`);
    expect(splits.train()).toBe(splits.train()); // opened once
    expect(labelledSplits(join(root, 'images'), '/elsewhere').train().name).toBe(join(root, 'images'));
    expect(openSource('images', root).size).toBe(1);
  });

  it('nothing is opened before it is asked for: a missing folder fails on first use, naming it', () => {
    const splits = labelledSplits('missing', root);
    expect(() => splits.train()).toThrow(`dataset folder '${root}/missing' does not exist`);
  });

  it('Fashion-MNIST (either split named) trains on its training split and tests on its test split', () => {
    for (const source of ['fashion-mnist', 'fashion-mnist:train', 'fashion-mnist:test']) expect(labelledSplits(source, root).test!().name).toBe('Fashion-MNIST test');
    expect(labelledSplits('fashion-mnist:test').train().name).toBe('Fashion-MNIST train');
  });

  it('codecs are fitted on the images given, else the training split, else the fallback with a warning and the hint', () => {
    const warnings: string[] = [];
    const fallback = { what: 'the evaluation images', data: () => openSource('images', root) };
    expect(calibrationData('images', fallback, warnings, 'give calibration:', root).name).toBe(`${root}/images`);
    expect(calibrationData(undefined, fallback, warnings, 'give calibration:').name).toBe('Fashion-MNIST train');
    expect(warnings).toEqual([]);
    uninstall();
    expect(calibrationData(undefined, fallback, warnings, 'give calibration: with other images').name).toBe(`${root}/images`);
    expect(warnings).toEqual(['codecs are fitted on the evaluation images (Fashion-MNIST is not installed): give calibration: with other images']);
  });
});
