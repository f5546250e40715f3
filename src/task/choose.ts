/**
 * Which metric measures a model's quality: chosen from the outputs' shapes and the data (class scores with labels:
 * accuracy; without: top-1 agreement; sequence logits: sequence agreement; class scores per pixel: class-map mIoU;
 * probability maps: map IoU; anything else: relative L2 error), or set by the user and then checked: a metric that does not fit the output or the data
 * is refused with an error naming the one that does. The result is a `Task` that scores batches.
 */
import { ImperaError } from '../errors.js';
import type { Tensor } from '../onnx/tensor.js';
import { classificationMetrics, topClass } from './classification.js';
import { fidelityMetrics } from './fidelity.js';
import { mapMetrics } from './maps.js';
import { settingsOf, type MetricDef, type MetricSettings } from './metric.js';
import { sequenceMetrics } from './sequences.js';
import type { BuiltinMetric, DataInfo, MetricName, OutputInfo, ScoreBatch, Task, TaskOptions } from './types.js';
import { userTask } from './user.js';

export const BUILTIN_METRICS: readonly MetricDef[] = [...classificationMetrics, ...fidelityMetrics, ...mapMetrics, ...sequenceMetrics];

const defOf = (name: string): MetricDef | undefined => BUILTIN_METRICS.find((d) => d.name === name);
const metric = (name: BuiltinMetric): MetricDef => defOf(name)!;

/** Whether a metric's scores are 0/1 (shown as percentages, Wilson intervals) or real values. */
export const metricKind = (name: MetricName): 'rate' | 'mean' => defOf(name)?.kind ?? 'mean';

const shapeOf = (o: OutputInfo): string => `'${o.name}' [${o.dims.join(', ')}]`;

interface Choice {
  def: MetricDef;
  outputs: readonly OutputInfo[];
  reason: string;
}

/** A refusal of every built-in metric for an output of data-dependent length, naming what does fit. */
function variableLength(out: OutputInfo): ImperaError {
  return new ImperaError('METRIC', `output '${out.name}' has a data-dependent length (as a detector's boxes after NMS: each sample keeps its own number, [${out.dims.join(', ')}] on one run), and built-in metrics compare outputs of one shape element by element`, 'give a metric module that matches them (--metric-module FILE.mjs, or quality: {module: FILE.mjs} in a scenario; e.g. box F1 or mAP, docs/METRICS.md), or score fixed-size outputs only (--outputs)');
}

/** The metric the outputs and the data call for (the first scored output decides). */
function automatic(scored: readonly OutputInfo[], data: DataInfo, s: MetricSettings): Choice {
  const varying = scored.find((o) => o.variableLength);
  if (varying) throw variableLength(varying);
  const first = scored[0]!;
  const one = (name: BuiltinMetric, why: string): Choice => ({ def: metric(name), outputs: [first], reason: `chosen: ${shapeOf(first)} ${why}` });
  if (!metric('top1-agreement').misfit(first, data, s)) {
    if (!data.labelled) return one('top1-agreement', 'holds class scores and the data has no labels');
    const why = metric('accuracy').misfit(first, data, s);
    if (why) throw new ImperaError('METRIC', `${shapeOf(first)} holds class scores, but ${why}`, 'give data labelled with the model\'s classes, or set the metric to top1-agreement');
    return one('accuracy', `holds class scores and the data is labelled (${data.classes} classes)`);
  }
  if (!metric('sequence-agreement').misfit(first, data, s)) return one('sequence-agreement', 'holds sequence logits [N, T, K]: greedy decodes compared with the full model\'s');
  // by shape alone a feature map would pass: per-pixel classes only where the graph shows a classifier made them
  if (first.producer !== undefined && !metric('class-map-miou').misfit(first, data, s)) return one('class-map-miou', `holds class scores per pixel (made by ${first.producer}): argmax class maps compared with the full model's, mean IoU over classes`);
  if (!metric('map-iou').misfit(first, data, s)) return one('map-iou', `is a probability map: thresholded at ${s.threshold} and compared with the full model's`);
  return { def: metric('rel-l2'), outputs: scored, reason: `chosen: ${scored.map(shapeOf).join(', ')} ${scored.length > 1 ? 'are' : 'is'} neither class scores, sequence logits nor a probability map: fidelity to the full model's outputs` };
}

/** The user's metric, checked against what it reads; refused with the automatic choice named. */
function explicit(name: string, scored: readonly OutputInfo[], data: DataInfo, s: MetricSettings, given: boolean): Choice {
  const def = defOf(name);
  if (!def) throw new ImperaError('METRIC', `unknown metric '${name}'`, `use one of ${BUILTIN_METRICS.map((d) => d.name).join(', ')}, or custom:<file.mjs>`);
  if (!def.readsAll && given && scored.length > 1) throw new ImperaError('METRIC', `${name} reads one output, and ${scored.length} were named`, 'name one output, or use a fidelity metric (rel-l2, cosine, snr-db, psnr-db) for several');
  const outputs = def.readsAll ? scored : [scored[0]!];
  const varying = outputs.find((o) => o.variableLength);
  if (varying) throw variableLength(varying);
  for (const out of outputs) {
    const why = def.misfit(out, data, s);
    if (why) {
      let fits: string;
      try {
        fits = `the metric that fits is ${automatic([out], data, s).def.name}`;
      } catch {
        fits = 'the metric that fits is top1-agreement';
      }
      throw new ImperaError('METRIC', `${name} does not fit ${shapeOf(out)}: ${why}`, fits);
    }
  }
  return { def, outputs, reason: `set: ${name} on ${outputs.map(shapeOf).join(', ')}` };
}

/** A built-in metric as a Task: scores averaged over the outputs it reads. */
function builtinTask(c: Choice, s: MetricSettings): Task {
  const { def } = c;
  const names = c.outputs.map((o) => o.name);
  const score = async (batch: ScoreBatch): Promise<number[]> => {
    if (def.needsLabels && !batch.labels) throw new ImperaError('METRIC', `${def.name} needs labels, and this data has none`, 'use top1-agreement');
    const per = names.map((o) => {
      if (!batch.split[o] || !batch.full[o]) throw new Error(`the batch lacks output '${o}' that ${def.name} reads`);
      return def.score(batch.split[o], batch.full[o], batch.n, batch.labels, s);
    });
    return Array.from({ length: batch.n }, (_, i) => per.reduce((sum, p) => sum + p[i]!, 0) / per.length);
  };
  const classes = classificationMetrics.includes(def);
  const seen = { samples: 0, vacuous: 0 };
  return {
    metric: { name: def.name, label: def.label(s), better: def.better, kind: def.kind, needsLabels: def.needsLabels, outputs: names },
    reason: c.reason,
    score,
    scoreFull: (batch) => {
      seen.samples += batch.n;
      if (def.vacuous) seen.vacuous += Math.max(...names.map((o) => def.vacuous!(batch.full[o]!, batch.n, s)));
      return score({ n: batch.n, split: batch.full, full: batch.full, labels: batch.labels });
    },
    notes: () => (seen.vacuous > 0 && def.vacuousNote ? [`on ${seen.vacuous} of ${seen.samples} samples ${def.vacuousNote(s)}`] : []),
    ...(classes ? { predict: (outputs: Record<string, Tensor>, n: number) => topClass(outputs[names[0]!]!, n) } : {}),
  };
}

/**
 * The task for a model's `outputs` (batch-first dims) and its data. `options.metric` or `options.module` set the
 * metric (`custom:<file>` is a module too), `options.outputs` the outputs scored; otherwise the choice is automatic.
 */
export async function chooseTask(outputs: readonly OutputInfo[], data: DataInfo, options: TaskOptions = {}): Promise<Task> {
  const scored = (options.outputs ?? outputs.map((o) => o.name)).map((name) => {
    const out = outputs.find((o) => o.name === name);
    if (!out) throw new ImperaError('METRIC', `the model has no output '${name}'`, `its outputs: ${outputs.map((o) => o.name).join(', ')}`);
    return out;
  });
  if (!scored.length) throw new ImperaError('METRIC', 'no output to score', 'name at least one output');
  const module = options.module ?? (options.metric?.startsWith('custom:') ? options.metric.slice('custom:'.length) : undefined);
  if (module) return userTask(module, scored, options, `set: the user's metric module '${module}'`);
  const s = settingsOf(options);
  const choice = options.metric ? explicit(options.metric, scored, data, s, options.outputs !== undefined) : automatic(scored, data, s);
  return builtinTask(choice, s);
}
