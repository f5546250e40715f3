/** Which data an analysis uses: splits of a source, the default images, and what codecs are fitted on. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeGrayPng } from '../../src/data/images.js';
import { calibrationData, DEFAULT_DATA, defaultData, holdOut, labelledSplits, openSource } from '../../src/data/policy.js';
import { DataType } from '../../src/onnx/dtype.js';
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

  it('give the built-in sample only to models like the built-in examples: one image in, 10 classes out', () => {
    const image = { name: 'x', dtype: DataType.FLOAT, dims: [-1, 3, 224, 224] };
    expect(defaultData([image], [1, 10], '--data')).toBe(DEFAULT_DATA);
    expect(defaultData([{ ...image, dims: [-1, 1, 28, 28] }], [1, 10], '--data')).toBe(DEFAULT_DATA);
    const refuse = (inputs: (typeof image)[], out: number[]) => () => defaultData(inputs, out, '--data');
    // a detector's map, 1000 ImageNet classes, a token model, a model with two inputs
    expect(refuse([{ ...image, dims: [-1, 3, 640, 640] }], [1, 1, 640, 640])).toThrow(expect.objectContaining({ code: 'DATASET', message: 'no data given, and the built-in sample (Fashion-MNIST images for 10-class classifiers) does not fit this model: it takes x [?, 3, 640, 640] and outputs [1, 1, 640, 640]', hint: expect.stringMatching(/^give data: --data with/) }));
    expect(refuse([image], [1, 1000])).toThrow(/outputs \[1, 1000\]/);
    expect(refuse([{ name: 'ids', dtype: DataType.INT64, dims: [-1, 16] }], [1, 10])).toThrow(/it takes ids \[\?, 16\]/);
    expect(refuse([image, { ...image, name: 'y' }], [1, 10])).toThrow(/it takes x .*, y /);
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

  it("data other than the built-in examples' is its own calibration by default (Fashion-MNIST's training images fit only those)", () => {
    const warnings: string[] = [];
    const own = { what: 'the evaluation images', data: () => openSource('images', root), source: 'images' };
    expect(calibrationData(undefined, own, warnings, 'give calibration: with other samples', root).name).toBe(`${root}/images`);
    expect(warnings).toEqual(["codecs are fitted on the evaluation images, the data given (the default, Fashion-MNIST's training images, is the built-in examples' own): give calibration: with other samples"]);
    for (const source of ['fashion-mnist', DEFAULT_DATA]) expect(calibrationData(undefined, { ...own, source }, [], 'hint', root).name).toBe('Fashion-MNIST train');
  });
});

describe('holdOut', () => {
  it('holds 20 % out, disjoint from training, the same samples every time, from every class of a class-ordered folder', () => {
    const data = openDataset(EXAMPLE_DATA);
    const { train, test } = holdOut(data);
    expect([train.size, test.size]).toEqual([160, 40]);
    const tested = Array.from({ length: test.size }, (_, i) => test.label(i));
    expect(new Set(tested).size).toBeGreaterThan(5);
    const again = holdOut(data).test;
    expect(Array.from({ length: again.size }, (_, i) => again.label(i))).toEqual(tested);
    // every sample on exactly one side: the pixels of the two sides never coincide
    const key = (d: typeof train, i: number) => Array.from(d.load([i], { channels: 1, width: 28, height: 28 })).join();
    const trained = new Set(Array.from({ length: train.size }, (_, i) => key(train, i)));
    expect(Array.from({ length: test.size }, (_, i) => key(test, i)).filter((k) => trained.has(k))).toEqual([]);
  });

  it('refuses a set too small to split, in one line', () => {
    const one = openDataset(EXAMPLE_DATA);
    expect(() => holdOut({ ...one, size: 1 })).toThrow(/has 1 sample\(s\): training and testing need at least 2/);
  });
});
