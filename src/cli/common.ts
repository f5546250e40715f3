/** Options and steps shared by commands: loading and analysing a model, listing and naming its cuts, parsing numbers, printing output. */
import { Option, type Command } from 'commander';
import { DEFAULT_WIDTH, findCuts, resolveCut, type Cut } from '../cuts/cuts.js';
import { ImperaError } from '../errors.js';
import { analyzeModel } from '../graph/analyze.js';
import type { Graph } from '../graph/graph.js';
import { parseInputShapes, parseInputValues } from '../graph/input-shapes.js';
import { loadModel } from '../onnx/io.js';
import { declaredInputs, modelInputs, openDataset, type Dataset, type DatasetOptions } from '../data/dataset.js';
import { completeFromData } from '../data/model-inputs.js';
import { defaultData } from '../data/policy.js';
import { tensor } from '../graph/graph.js';
import { COMPACT_SYNTAX, resolvePreprocess } from '../data/preprocess-spec.js';
import { EXAMPLE_MODEL } from '../util/package.js';

export interface ModelOptions {
  inputShape: string[];
  inputValue: string[];
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
    .addOption(new Option('--input-value <spec>', "an input's value, e.g. sr=16000 (repeatable): the model is analysed, cut and exported specialised to it, Ifs on it folded").argParser((v: string, prev: string[] = []) => [...prev, v]).default([]))
    .option('--batch <n>', 'value of a symbolic batch dim (default 1)', positiveInt('--batch'));
}

/**
 * Load and analyse a model. Inputs with dynamic dims beyond the batch that `--input-shape` leaves open take their
 * shape from `data` when given (the first sample as the data feeds it, e.g. a detector's height and width), and
 * inputs an `If` depends on (a sample rate) that `--input-value` leaves open take their value from it.
 */
export async function loadGraph(modelPath: string | undefined, options: ModelOptions, data?: () => Dataset): Promise<Graph> {
  const model = loadModel(modelPath ?? EXAMPLE_MODEL);
  const names = declaredInputs(model).map((i) => i.name);
  const given = { inputShapes: parseInputShapes(options.inputShape, names), inputValues: parseInputValues(options.inputValue ?? [], names) };
  const { inputShapes, inputValues } = data ? completeFromData(model, given, data(), options.batch ?? 1) : given;
  return analyzeModel(model, { inputShapes, inputValues, ...(options.batch ? { batch: options.batch } : {}) });
}

/**
 * The model and a command's data: `--data` when given (deciding the model's dynamic dims), else the default that
 * data/policy.ts allows for this model (the built-in sample for the built-in examples; others must give data).
 */
export async function graphAndData(model: string | undefined, options: ModelOptions & DataOptions & { data?: string }): Promise<{ g: Graph; data: Dataset }> {
  const given = options.data ? openDataset(options.data, datasetOptions(options)) : undefined;
  const g = await loadGraph(model, options, given && (() => given));
  const data = given ?? openDataset(defaultData(modelInputs(g), tensor(g, g.outputs[0]!.name!).shape, '--data'), datasetOptions(options));
  return { g, data };
}

/** How a command's data is read: its preprocessing and labels (besides the command's own --data). */
export interface DataOptions {
  preprocess?: string;
  labels?: string;
  resize?: boolean;
}

export function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--preprocess <spec>', `how images become the model's input: ${COMPACT_SYNTAX}; see docs/DATA.md`)
    .option('--labels <file>', 'labels of an .npy or .npz source: an .npy file of one integer per sample (default: labels.npy beside it, or the .npz\'s labels)');
}

/** The dataset options the flags give; an invalid --preprocess fails here, before any data is read. */
export function datasetOptions(o: DataOptions): DatasetOptions {
  if (o.preprocess !== undefined) resolvePreprocess(o.preprocess);
  return { ...(o.preprocess !== undefined ? { preprocess: o.preprocess } : {}), ...(o.labels ? { labels: o.labels } : {}), ...(o.resize ? { resize: true } : {}) };
}

/** Which cuts a listing (or a cut list's 'all') holds. */
export interface CutListCliOptions {
  width: number;
  pareto?: boolean;
}

/** How every command names cuts in its help. */
export const CUT_NAMING = `by index as \`impera inspect\` numbers them (every cut of up to ${DEFAULT_WIDTH} tensors, whatever --width), or by tensor names joined by '+'`;

export function addCutListOptions(cmd: Command, listed: string): Command {
  return cmd
    .option('--width <n>', `largest number of tensors in ${listed}; cuts wider than ${DEFAULT_WIDTH} have no index and are named by their tensors`, positiveInt('--width'), DEFAULT_WIDTH)
    .option('--pareto', `only ${listed} on the front of bytes on the wire vs head FLOPs (both minimised), with their indices`);
}

/** A cut list on the command line: 'all' (every cut --width and --pareto list), 'none', or cuts named as resolveCuts takes them. */
export function selectCuts(g: Graph, spec: string, options: CutListCliOptions): Cut[] {
  if (spec === 'none') return [];
  if (spec === 'all') return findCuts(g, { maxWidth: options.width, pareto: options.pareto ?? false });
  return resolveCuts(g, spec);
}

/** Cuts named on the command line, separated by ','. */
export function resolveCuts(g: Graph, spec: string): Cut[] {
  const numbered = findCuts(g);
  return spec.split(',').map((s) => resolveCut(g, numbered, s));
}

export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`impera: warning: ${w}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
