/** `--input-value`: models whose graph depends on an input's value (Silero VAD's If on the sample rate), run as users do. */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataType } from '../../src/onnx/dtype.js';
import { expectOneLineError, impera, tmp } from '../helpers/cli.js';
import { encodeNpz } from '../../src/data/npz.js';

const vad = (file: string) => join(dirname(createRequire(import.meta.url).resolve('@ricky0123/vad-web/package.json')), 'dist', file);
const V5 = [vad('silero_vad_v5.onnx'), '--input-shape', 'input=1,512', '--input-shape', 'state=2,1,128'];

describe('--input-value', () => {
  it('without the sample rate, Silero VAD v5 fails in one line, without ONNX Runtime log lines', async () => {
    await expectOneLineError(['inspect', ...V5], /ONNX Runtime could not run the model either/);
  });

  it('with sr=16000 the If on it folds and the model has cuts', async () => {
    const r = await impera('inspect', ...V5, '--input-value', 'sr=16000', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/onnxruntime/);
    const report = JSON.parse(r.stdout) as { cuts: unknown[] };
    expect(report.cuts.length).toBeGreaterThan(10);
  });

  it('takes sr from an .npz: split --verify of the legacy VAD composes at a cut of the specialised model, and eval scores its codecs', async () => {
    const dir = tmp();
    const npz = join(dir, 'speech.npz');
    const frames = 3;
    const zeros = { dtype: DataType.FLOAT, dims: [frames, 2, 64], data: new Float32Array(frames * 128) };
    const input = { dtype: DataType.FLOAT, dims: [frames, 512], data: Float32Array.from({ length: frames * 512 }, (_, i) => 0.2 * Math.sin(i / 5)) };
    writeFileSync(npz, encodeNpz({ input, sr: { dtype: DataType.INT64, dims: [], data: BigInt64Array.from([16000n]) }, h: zeros, c: zeros }));
    // every cut carries the LSTM's h and c beside an activation: 3 tensors, so it is named (indices go up to 2)
    const r = await impera('split', vad('silero_vad_legacy.onnx'), '--input-shape', 'input=1,512', '--input-shape', 'h=2,1,64', '--input-shape', 'c=2,1,64', '--data', npz, '--samples', '3', '--at', 'c+h+245', '--out', join(dir, 'parts'), '--verify');
    expect(r.stderr).toMatch(/specialised to the input value sr=16000/);
    expect(r.stdout).toMatch(/parts compose exactly/);
    expect(r.code).toBe(0);
    // evaluation stacks samples (and codecs) along the LSTM state's batch axis, dim 1; every cut is 3 wide
    const legacy = [vad('silero_vad_legacy.onnx'), '--input-shape', 'input=1,512', '--input-shape', 'h=2,1,64', '--input-shape', 'c=2,1,64', '--data', npz, '--calibration', npz, '--no-baselines'];
    await expectOneLineError(['eval', ...legacy, '--codecs', 'int8'], /evaluation has no cut to evaluate \(where every cut carries several tensors .*--width 3/);
    const e = await impera('eval', ...legacy, '--cuts', 'c+h+245', '--codecs', 'fp32,int8', '--metric', 'rel-l2', '--json');
    expect(e.code).toBe(0);
    const [fp32, int8] = (JSON.parse(e.stdout) as { cuts: { codecs: { quality: { value: number; samples: number } }[] }[] }).cuts[0]!.codecs;
    expect(fp32!.quality).toMatchObject({ value: 0, samples: frames });
    expect(int8!.quality.value).toBeGreaterThan(0);
  });
});
