/**
 * The zoo's PyTorch gradient references (../shared/zoo/NAME.reference.json and .f32 files) and impera's gradients
 * for the same 8 images: shared by the zoo gradient test and bench:gradients.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBackwardGraph, TARGETS_INPUT } from '../src/autodiff/backward.js';
import { analyzeModel } from '../src/graph/analyze.js';
import { DataType } from '../src/onnx/dtype.js';
import { loadModel } from '../src/onnx/io.js';
import { createSession, run } from '../src/ort/session.js';

export interface Reference {
  labels: number[];
  input_grad_l2: number[];
  activations: { shape: number[]; grad_l2: number[] }[];
}

export const l2 = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

export function readFloats(path: string): Float32Array {
  const raw = readFileSync(path);
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}

/** The 8 reference images as a [8, 3, 224, 224] batch (the gray channel copied). */
export function referenceInputs(zoo: string, name: string): Float32Array {
  const gray = readFloats(join(zoo, `${name}.ref_inputs.f32`));
  const plane = 224 * 224;
  const x = new Float32Array(8 * 3 * plane);
  for (let n = 0; n < 8; n++) for (let c = 0; c < 3; c++) x.set(gray.subarray(n * plane, (n + 1) * plane), (n * 3 + c) * plane);
  return x;
}

export interface ZooGradients {
  ref: Reference;
  /** impera's d logit[label] / d input, [8, 3, 224, 224]. */
  input: Float32Array;
  /** Relative L2 error of the input gradient against the reference, images 0 and 1. */
  inputRelErr: number[];
  /** |norm / reference norm - 1| of the input gradient, 8 images. */
  inputNormErr: number[];
  /** The same for every activation and image. */
  activationNormErr: number[];
}

export async function zooGradients(zoo: string, name: string): Promise<ZooGradients> {
  const ref = JSON.parse(readFileSync(join(zoo, `${name}.reference.json`), 'utf8')) as Reference;
  const g = await analyzeModel(loadModel(join(zoo, `${name}.onnx`)));
  // the k-th ReLU/ReLU6 of the reference is the k-th Relu/Clip node; ViT's GELU is the erf formula's last Mul
  const activations = name === 'vit_tiny' ? ref.activations.map((_, k) => `/1/blocks/blocks.${k}/mlp/act/Mul_1_output_0`) : g.nodes.filter((n) => n.opType === 'Relu' || n.opType === 'Clip').map((n) => n.outputs[0]!);
  if (activations.length !== ref.activations.length) throw new Error(`${name}: ${activations.length} activations, the reference has ${ref.activations.length}`);
  const bwd = buildBackwardGraph(g, { wrt: ['input', ...activations] });
  const session = await createSession(bwd.proto, g.model.dir);
  const out = await run(session, {
    input: { dtype: DataType.FLOAT, dims: [8, 3, 224, 224], data: referenceInputs(zoo, name) },
    [TARGETS_INPUT]: { dtype: DataType.INT64, dims: [8], data: BigInt64Array.from(ref.labels.map(BigInt)) },
  });
  await session.release();
  const input = out[bwd.gradients.get('input')!]!.data as Float32Array;
  const per = input.length / 8;
  const refGrads = readFloats(join(zoo, `${name}.ref_input_grads.f32`));
  return {
    ref,
    input,
    inputRelErr: [0, 1].map((n) => {
      const ours = input.subarray(n * per, (n + 1) * per);
      const theirs = refGrads.subarray(n * per, (n + 1) * per);
      return l2(ours.map((v, i) => v - theirs[i]!)) / l2(theirs);
    }),
    inputNormErr: ref.input_grad_l2.map((v, n) => Math.abs(l2(input.subarray(n * per, (n + 1) * per)) / v - 1)),
    activationNormErr: activations.flatMap((t, k) => {
      const grad = out[bwd.gradients.get(t)!]!.data as Float32Array;
      const size = grad.length / 8;
      return ref.activations[k]!.grad_l2.map((v, n) => Math.abs(l2(grad.subarray(n * size, (n + 1) * size)) / v - 1));
    }),
  };
}
