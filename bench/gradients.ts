/**
 * bench:gradients — how close impera's gradients are to PyTorch's on the zoo (8 Fashion-MNIST test images):
 * against the zoo's references, and, when Debian's python3-torch is present, against PyTorch 1.13 autograd on the
 * very same ONNX graph (bench/torch_autograd.py), which separates engine error from fp32 mask-flip divergence; and
 * through `impera grad` on a .npy file written by numpy.save (what users hand the CLI), which must match the library.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '../src/data/npy.js';
import { PACKAGE_ROOT } from '../src/util/package.js';
import { l2, readFloats, referenceInputs, zooGradients } from './zoo-reference.js';
import { ZOO } from './common.js';

const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status === 0;
const numpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const rel = (a: Float32Array, b: Float32Array) => l2(a.map((v, i) => v - b[i]!)) / l2(b);
const fmt = (xs: number[]) => xs.map((x) => x.toExponential(1)).join(' ');

/** Input-gradient errors of images 0-1 through `impera grad --inputs x.npy` (x written by numpy.save); undefined without numpy. */
function cliInputRelErr(name: string, labels: number[]): number[] | undefined {
  if (!numpy) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'impera-grad-cli-'));
  const x = referenceInputs(ZOO, name);
  writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const save = 'import numpy as np, sys; np.save(sys.argv[2], np.fromfile(sys.argv[1], dtype="<f4").reshape(8, 3, 224, 224))';
  execFileSync('/usr/bin/python3', ['-c', save, join(dir, 'x.f32'), join(dir, 'x.npy')]);
  execFileSync('node', [join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js'), 'grad', join(ZOO, `${name}.onnx`), '--inputs', join(dir, 'x.npy'), '--targets', labels.join(','), '--out', join(dir, 'out')]);
  const ours = readNpy(join(dir, 'out', 'input.npy')).data as Float32Array;
  const refGrads = readFloats(join(ZOO, `${name}.ref_input_grads.f32`));
  const per = ours.length / 8;
  return [0, 1].map((n) => rel(ours.subarray(n * per, (n + 1) * per), refGrads.subarray(n * per, (n + 1) * per)));
}

console.log(`bench:gradients  ${new Date().toISOString()}  (relative L2 errors; norms as |ratio - 1|)${torch ? '' : '  [PyTorch columns skipped: apt-get install python3-torch python3-onnx]'}`);
const headline: Record<string, unknown> = {};
for (const name of ['vgg16', 'resnet50', 'mobilenet_v2', 'vit_tiny']) {
  const r = await zooGradients(ZOO, name);
  const row: Record<string, unknown> = {
    input_rel_err_vs_ref: r.inputRelErr,
    max_input_norm_err: Math.max(...r.inputNormErr),
    max_activation_norm_err: Math.max(...r.activationNormErr),
  };
  let torchLine = '';
  if (torch && name !== 'vit_tiny') {
    const dir = mkdtempSync(join(tmpdir(), 'impera-grad-'));
    const x = referenceInputs(ZOO, name);
    writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
    execFileSync('/usr/bin/python3', [join(PACKAGE_ROOT, 'bench', 'torch_autograd.py'), join(ZOO, `${name}.onnx`), '--inputs', join(dir, 'x.f32'), '--shape', '8,3,224,224', '--labels', r.ref.labels.join(','), '--repeats', '0', '--dump', dir]);
    const t = readFloats(join(dir, 'input_grad.f32'));
    const per = t.length / 8;
    const impVsTorch = [...Array(8).keys()].map((n) => rel(r.input.subarray(n * per, (n + 1) * per), t.subarray(n * per, (n + 1) * per)));
    const refGrads = readFloats(join(ZOO, `${name}.ref_input_grads.f32`));
    const torchVsRef = [0, 1].map((n) => rel(t.subarray(n * per, (n + 1) * per), refGrads.subarray(n * per, (n + 1) * per)));
    row.input_rel_err_vs_torch_same_graph = impVsTorch;
    row.torch_same_graph_vs_ref = torchVsRef;
    torchLine = `\n  impera vs PyTorch 1.13 on this graph, 8 images: ${fmt(impVsTorch)}\n  PyTorch 1.13 on this graph vs reference, images 0-1: ${fmt(torchVsRef)}`;
  }
  const cli = cliInputRelErr(name, r.ref.labels);
  if (cli) row.cli_npy_input_rel_err_vs_ref = cli;
  headline[name] = row;
  console.log(`${name}\n  input gradient vs reference, images 0-1: ${fmt(r.inputRelErr)}\n  max |norm ratio - 1|: input ${fmt([row.max_input_norm_err as number])}, activations ${fmt([row.max_activation_norm_err as number])} (${r.activationNormErr.length} checks)${cli ? `\n  impera grad (CLI, numpy.save file) vs reference, images 0-1: ${fmt(cli)}` : ''}${torchLine}`);
}
console.log(JSON.stringify({ bench: 'gradients', ...headline }));
