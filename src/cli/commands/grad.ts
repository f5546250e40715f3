/** `impera grad`: gradients of the target logit (or cross-entropy) with respect to any tensors, as .npy files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { computeGradients, type GradientOptions } from '../../autodiff/gradients.js';
import { readNpy, writeNpy } from '../../data/npy.js';
import { ImperaError } from '../../errors.js';
import { tensor, type Graph } from '../../graph/graph.js';
import { DataType, dtypeName } from '../../onnx/dtype.js';
import type { Tensor } from '../../onnx/tensor.js';
import { addModelOptions, loadGraph, printJson, printWarnings, type ModelOptions } from '../common.js';
import { fmtShape, table } from '../table.js';

interface GradOptions extends ModelOptions {
  inputs: string;
  targets: string;
  wrt: string;
  objective: NonNullable<GradientOptions['objective']>;
  out: string;
  json?: boolean;
}

/** A file name for a tensor name ('/1/layer1/Relu_output_0' -> '1_layer1_Relu_output_0'). */
function fileNameFor(tensorName: string, taken: Set<string>): string {
  const base = tensorName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'tensor';
  let name = base;
  for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
  taken.add(name);
  return name;
}

function checkInput(g: Graph, x: Tensor, path: string): { name: string; batch: number } {
  const [name, info] = [...g.inputShapes][0]!;
  if (g.inputShapes.size !== 1) throw new ImperaError('BAD_ARGUMENT', 'impera grad feeds one input; this model has several');
  if (x.dtype !== DataType.FLOAT) throw new ImperaError('BAD_ARGUMENT', `'${path}' holds ${dtypeName(x.dtype)}; input '${name}' is float32`, 'save it with numpy as float32');
  if (x.dims.length !== info.shape.length || x.dims.slice(1).some((d, i) => d !== info.shape[i + 1])) {
    throw new ImperaError('BAD_ARGUMENT', `'${path}' has shape [${x.dims}], input '${name}' needs [N, ${info.shape.slice(1).join(', ')}]`);
  }
  if (x.dims[0] === 0) throw new ImperaError('BAD_ARGUMENT', `'${path}' holds no inputs (its batch dimension is 0)`, 'save at least one input in the array');
  return { name, batch: x.dims[0]! };
}

function parseTargets(spec: string, batch: number, classes: number): number[] | 'pred' {
  if (spec === 'pred') return 'pred';
  const targets = spec.split(',').map((t) => Number(t.trim()));
  if (targets.length !== batch) throw new ImperaError('BAD_ARGUMENT', `--targets lists ${targets.length} classes for ${batch} inputs`, 'give one class per input, or --targets pred');
  for (const t of targets) {
    if (!Number.isInteger(t) || t < 0 || t >= classes) throw new ImperaError('BAD_ARGUMENT', `target class ${t} is out of range: the model has ${classes} classes (0-${classes - 1})`);
  }
  return targets;
}

export function registerGrad(program: Command): void {
  addModelOptions(program.command('grad'))
    .description('gradients of the target logit with respect to the input, any tensor or weights, written as .npy')
    .requiredOption('--inputs <file.npy>', 'input batch [N, ...] as a float32 .npy file')
    .requiredOption('--targets <classes>', "one target class per input (e.g. 3,1,7), or 'pred' for the predicted class")
    .option('--wrt <tensors>', "tensors to differentiate with respect to, comma-separated ('input' is the model input)", 'input')
    .option('--objective <name>', 'target-logit (sum of logit[target]) or cross-entropy (mean over the batch)', 'target-logit')
    .requiredOption('--out <dir>', 'folder for one .npy per gradient and grad.json')
    .option('--json', 'print the manifest as JSON')
    .action(async (model: string | undefined, options: GradOptions) => {
      if (options.objective !== 'target-logit' && options.objective !== 'cross-entropy') {
        throw new ImperaError('BAD_ARGUMENT', `unknown objective '${options.objective}'`, 'use target-logit or cross-entropy');
      }
      const g = await loadGraph(model, options);
      const x = readNpy(options.inputs);
      const input = checkInput(g, x, options.inputs);
      const classes = tensor(g, g.outputs[0]!.name!).shape[1] ?? 0;
      const targets = parseTargets(options.targets, input.batch, classes);
      const wrt = options.wrt.split(',').map((t) => (t.trim() === 'input' ? input.name : t.trim()));
      const result = await computeGradients(g, { [input.name]: x }, { wrt, objective: options.objective, targets: targets === 'pred' ? 'predicted' : targets });
      mkdirSync(options.out, { recursive: true });
      const taken = new Set<string>();
      const gradients = wrt.map((t) => {
        const grad = result.gradients.get(t)!;
        const file = join(options.out, `${fileNameFor(t, taken)}.npy`);
        writeNpy(file, grad);
        const per = grad.dims[0] === input.batch ? grad.data.length / input.batch : grad.data.length;
        const rows = grad.dims[0] === input.batch ? input.batch : 1;
        const l2 = Array.from({ length: rows }, (_, n) => Math.sqrt((grad.data as Float32Array).subarray(n * per, (n + 1) * per).reduce((s, v) => s + v * v, 0)));
        return { tensor: t, file, shape: grad.dims, l2 };
      });
      const manifest = { model: g.model.source, inputs: options.inputs, objective: options.objective, targets: result.targets, ...(result.loss !== undefined ? { loss: result.loss } : {}), unreachable: result.unreachable, gradients };
      writeFileSync(join(options.out, 'grad.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      if (options.json) return printJson(manifest);
      printWarnings([...g.warnings, ...result.unreachable.map((t) => `the objective does not depend on '${t}': its gradient is zero`)]);
      process.stdout.write(`targets ${result.targets.join(',')}\n${table(['tensor', 'shape', 'file', 'L2 per sample'], gradients.map((r) => [r.tensor, fmtShape(r.shape), r.file, r.l2.map((v) => v.toPrecision(4)).join(' ')]))}\n`);
    });
}
