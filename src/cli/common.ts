/** Options and steps shared by commands: loading and analysing a model, the calibration data, parsing numbers, printing output. */
import { Option, type Command } from 'commander';
import { ImperaError } from '../errors.js';
import { analyzeModel } from '../graph/analyze.js';
import type { Graph } from '../graph/graph.js';
import { parseInputShapes } from '../graph/input-shapes.js';
import { loadModel } from '../onnx/io.js';
import { EXAMPLE_MODEL } from '../util/package.js';

export interface ModelOptions {
  inputShape: string[];
  batch?: number;
}

/** A positive integer option value, or a clear error naming the option. */
export const positiveInt = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ImperaError('BAD_ARGUMENT', `${flag} must be a positive integer, got '${value}'`);
  return n;
};

/** A positive finite number option value (a rate, a duration, a tolerance), or a clear error naming the option. */
export const positiveNumber = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new ImperaError('BAD_ARGUMENT', `${flag} must be a positive number, got '${value}'`);
  return n;
};

export function addModelOptions(cmd: Command): Command {
  return cmd
    .argument('[model]', 'ONNX model file (default: the built-in MobileNetV2 example)')
    .addOption(new Option('--input-shape <spec>', 'input shape for dynamic dims, e.g. 1,3,224,224 or NAME=1,3,224,224 (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]).default([]))
    .option('--batch <n>', 'value of a symbolic batch dim (default 1)', positiveInt('--batch'));
}

export async function loadGraph(modelPath: string | undefined, options: ModelOptions): Promise<Graph> {
  const model = loadModel(modelPath ?? EXAMPLE_MODEL);
  const inputNames = (model.proto.graph?.input ?? []).map((v) => v.name!).filter((n) => !(model.proto.graph?.initializer ?? []).some((t) => t.name === n));
  const inputShapes = parseInputShapes(options.inputShape, inputNames);
  return analyzeModel(model, { inputShapes, ...(options.batch ? { batch: options.batch } : {}) });
}

export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`impera: warning: ${w}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
