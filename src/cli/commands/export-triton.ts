/** `impera export-triton`: write an exported part (the tail) as a Triton model repository entry. */
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ImperaError } from '../../errors.js';
import { loadModel } from '../../onnx/io.js';
import { modelMetadata } from '../../runtime/protocol/metadata.js';
import { batchable, tritonConfig, writeTritonModel } from '../../runtime/triton.js';
import { positiveInt, printJson } from '../common.js';

interface ExportOptions {
  out: string;
  part: string;
  name?: string;
  maxBatch: number;
  batchDelayUs?: number;
  instances: number;
  json?: boolean;
}

const nonNegativeInt = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ImperaError('BAD_ARGUMENT', `${flag} must be an integer >= 0, got '${v}'`);
  return n;
};

/** The .onnx file of `source`: the file itself, or `<part>.onnx` in a folder `impera split` wrote. */
function partFile(source: string, part: string): string {
  if (!existsSync(source)) throw new ImperaError('FILE_NOT_FOUND', `'${source}' does not exist`, 'pass the folder `impera split --out` wrote, or an .onnx file');
  if (!statSync(source).isDirectory()) return source;
  const file = join(source, `${part}.onnx`);
  if (!existsSync(file)) throw new ImperaError('FILE_NOT_FOUND', `'${source}' has no ${part}.onnx`, 'pass --part, or the folder `impera split --out` wrote');
  return file;
}

export function registerExportTriton(program: Command): void {
  program
    .command('export-triton')
    .description('write an exported part (default: the tail) as a Triton model repository: NAME/config.pbtxt and NAME/1/model.onnx')
    .argument('<parts>', 'the folder `impera split --out` wrote, or an .onnx file')
    .requiredOption('--out <repo>', 'the model repository folder (created; other models in it are kept)')
    .option('--part <name>', 'which part of the folder', 'tail')
    .option('--name <model>', 'model name in the repository (default: the part name)')
    .option('--max-batch <n>', "max_batch_size: the largest batch Triton forms (0: no batching)", nonNegativeInt('--max-batch'), 8)
    .option('--batch-delay-us <us>', 'turn on dynamic batching with this max_queue_delay_microseconds', nonNegativeInt('--batch-delay-us'))
    .option('--instances <n>', 'model instances on the CPU (instance_group count)', positiveInt('--instances'), 1)
    .option('--json', 'print what was written as JSON')
    .action((source: string, o: ExportOptions) => {
      const file = partFile(source, o.part);
      const model = loadModel(file);
      const meta = modelMetadata(model.proto, o.name ?? o.part, '1');
      if (!/^[\w.-]+$/.test(meta.name)) throw new ImperaError('BAD_ARGUMENT', `model name '${meta.name}' must be letters, digits, '_', '.', '-' (it is a folder name)`, 'pass --name');
      const options = { maxBatch: o.maxBatch, instances: o.instances, ...(o.batchDelayUs !== undefined ? { batchDelayUs: o.batchDelayUs } : {}) };
      const dir = writeTritonModel(model, meta, o.out, options);
      const codec = statSync(source).isDirectory() ? join(source, 'codec.json') : undefined;
      const withCodec = !!codec && existsSync(codec) && o.part === 'tail';
      if (withCodec) copyFileSync(codec, join(dir, 'codec.json'));
      const warnings = [
        ...(o.maxBatch > 0 && !batchable(meta) ? ['the model has no dynamic batch dim on every input and output: written with max_batch_size 0'] : []),
        ...(withCodec ? ["the tail decodes a codec: Triton takes its wire tensors (edge config server.wire: tensors); codec.json is kept beside it for impera serve's packed input"] : []),
      ];
      if (o.json) return printJson({ model: meta.name, dir, config: join(dir, 'config.pbtxt'), file: join(dir, '1', 'model.onnx'), warnings });
      for (const w of warnings) process.stderr.write(`impera: warning: ${w}\n`);
      process.stdout.write(`wrote ${join(dir, '1', 'model.onnx')} and ${join(dir, 'config.pbtxt')}:\n\n${tritonConfig(meta, options)}\nserve it with: tritonserver --model-repository=${o.out}   (or: impera serve --model-repo ${o.out})\n`);
    });
}
