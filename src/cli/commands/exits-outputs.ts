/**
 * `impera exits` on a model whose output is not class scores (a probability map, sequence logits, an embedding):
 * exits distilled to the full model's output (exits/output-pipeline.ts), the report in the task metric's name, and
 * with --out each exit as a standalone ONNX model reading its cut tensor. Options that only classifier exits have
 * are refused in one line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../../errors.js';
import type { Cut } from '../../cuts/cuts.js';
import type { Dataset } from '../../data/dataset.js';
import type { Graph } from '../../graph/graph.js';
import { outputBranchModel } from '../../exits/output-branch.js';
import { trainOutputExits, type OutputExitsOptions, type OutputExitsResult } from '../../exits/output-pipeline.js';
import type { OutputPolicyRow } from '../../exits/output-policy.js';
import { encodeModel } from '../../onnx/io.js';
import type { TaskOptions } from '../../task/types.js';
import { fmtInt, table } from '../table.js';
import { fmtPoints as pct } from '../../util/format.js';
import type { Progress } from '../progress.js';

/** Training and split options, the same for classifier exits. */
export type TrainingFlags = Pick<OutputExitsOptions, 'maxEpochs' | 'batchSize' | 'learningRate' | 'patience' | 'seed' | 'trainSamples' | 'valSamples' | 'calSamples' | 'testSamples'>;

/** What the output exits read of `impera exits`'s options. */
export interface OutputExitsCli {
  hidden: number;
  target?: string;
  task: TaskOptions;
  training: TrainingFlags;
  out?: string;
  /** Options given that only classifier exits have (flag names). */
  classifierOnly: string[];
}

export async function runOutputExits(g: Graph, cuts: readonly Cut[], data: { train: Dataset; test?: Dataset }, o: OutputExitsCli, bar: Progress): Promise<{ result: OutputExitsResult; files: string[] }> {
  const output = g.outputs[0]!.name!;
  if (o.classifierOnly.length) throw new ImperaError('BAD_ARGUMENT', `${o.classifierOnly.join(', ')} ${o.classifierOnly.length > 1 ? 'work' : 'works'} on classifier exits, and output '${output}' is not class scores [N, K]`, 'drop it: on maps, sequences and embeddings the exits are distilled to the output, judged by its metric, with tau calibrated to --target');
  const target = o.target === undefined ? undefined : Number(o.target);
  if (target !== undefined && !Number.isFinite(target)) throw new ImperaError('BAD_ARGUMENT', `--target must be a number on the metric's scale, got '${o.target}'`);
  const { result, branches, values } = await trainOutputExits(g, cuts, data, {
    hidden: o.hidden,
    task: o.task,
    ...o.training,
    ...(target !== undefined ? { target } : {}),
    onProgress: (phase, d, t) => bar.update(d, t, phase),
  });
  const files: string[] = [];
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    const write = (name: string, bytes: string | Uint8Array) => {
      writeFileSync(join(o.out!, name), bytes);
      files.push(join(o.out!, name));
    };
    branches.forEach((b, k) => write(`exit${k}.onnx`, encodeModel(outputBranchModel(b, values[k]!))));
    write('exits-report.json', `${JSON.stringify({ model: g.model.source, ...result }, null, 2)}\n`);
  }
  return { result, files };
}

const value = (x: number | null, metric: string): string => (x === null || !Number.isFinite(x) ? '-' : metric.endsWith('-db') ? x.toFixed(1) : x.toFixed(3));

export function outputReportText(r: OutputExitsResult): string {
  const s = r.samples;
  const m = r.metric;
  const lines = [
    `output '${r.output.name}' [${r.output.shape.join(', ')}]: ${r.output.kind}${r.output.activation === 'none' ? '' : ` (${r.output.activation === 'sigmoid' ? 'Sigmoid' : 'Softmax'})`} · metric: ${m.label} against the full model (${m.reason})`,
    `exits distilled to the full model's output (no labels needed) · trained on ${fmtInt(s.train)}, validated on ${fmtInt(s.val)}, tau calibrated on ${fmtInt(s.cal)}, tested on ${fmtInt(s.test)} (${r.dataset})`,
    '',
    table(
      ['exit', 'cut', 'branch', 'weights', 'MACs', 'epochs', 's/epoch', `val ${m.label}`, `test ${m.label}`, '95 % CI'],
      r.exits.map((e, k) => [k, e.cut, e.design, fmtInt(e.weights), fmtInt(e.macs), `${e.training.bestEpoch}/${e.training.epochs}`, (e.training.seconds / e.training.epochs).toFixed(2), value(e.training.valMetric, m.name), value(e.test.value, m.name), `${value(e.test.ci[0], m.name)} - ${value(e.test.ci[1], m.name)}`]),
    ),
    '',
    ...policyLines(r),
    '',
    `time: features ${r.seconds.features.toFixed(1)} s, training ${r.seconds.training.toFixed(1)} s`,
  ];
  return lines.join('\n');
}

function policyLines(r: OutputExitsResult): string[] {
  const p = r.policy;
  if ('refused' in p) return [`no tau policy: ${p.refused}`];
  const m = r.metric;
  const dir = m.better === 'higher' ? '>=' : '<=';
  const at = (row: OutputPolicyRow) => `${pct(row.earlyShare)} % leave early, ${m.label} ${value(row.exited, m.name)} on them and ${value(row.overall, m.name)} overall`;
  const chosen = p.tau === null || !p.atTau ? `no tau keeps ${m.label} ${dir} ${p.target} on the samples leaving early in the calibration split (${r.samples.cal} samples)` : `tau ${p.tau} (calibrated on ${r.samples.cal} samples for ${m.label} ${dir} ${p.target} on those leaving early): on the test split ${at(p.atTau)}`;
  return [
    `confidence: ${p.confidence}; a sample leaves at the first exit whose confidence reaches tau`,
    chosen,
    '',
    `tau sweep on the test split: share leaving at each exit, ${m.label} on the samples leaving early and overall (the rest answered by the full model)`,
    table(
      ['tau', ...r.exits.map((_, i) => `exit ${i} %`), 'early %', `${m.label} exited`, `${m.label} overall`],
      p.sweep.map((row) => [row.tau, ...row.rates.map(pct), pct(row.earlyShare), value(row.exited, m.name), value(row.overall, m.name)]),
      Array<'right'>(r.exits.length + 4).fill('right'),
    ),
  ];
}
