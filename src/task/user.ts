/**
 * A user's own metric: a JavaScript module (`.js`/`.mjs`) exporting `score(split, full, label)` and `better`,
 * loaded by dynamic import and called once per sample with that sample's outputs ([1, ...] tensors; a model that runs
 * one sample at a time gives its outputs as they are, a detector's [K, 4] boxes included). Every way it
 * can fail (missing file, no `score`, a throw, a NaN or infinite return) is a one-line METRIC error naming it.
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ImperaError } from '../errors.js';
import type { Tensor } from '../onnx/tensor.js';
import type { MetricName, OutputInfo, ScoreBatch, Task, TaskOptions, UserMetricModule } from './types.js';

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

async function loadModule(file: string, baseDir: string): Promise<UserMetricModule> {
  const path = resolve(baseDir, file);
  if (!existsSync(path)) throw new ImperaError('METRIC', `metric module '${file}' not found (looked for ${path})`, 'give the path of a .js or .mjs file exporting score(split, full, label)');
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new ImperaError('METRIC', `metric module '${file}' could not be loaded: ${firstLine(e)}`);
  }
  const m = (loaded.default && typeof loaded.default === 'object' ? loaded.default : loaded) as Partial<UserMetricModule>;
  if (typeof m.score !== 'function') throw new ImperaError('METRIC', `metric module '${file}' exports no score function`, 'export function score(split, full, label) returning a number per sample');
  if (m.better !== 'higher' && m.better !== 'lower') throw new ImperaError('METRIC', `metric module '${file}' must export better = 'higher' or 'lower', got ${JSON.stringify(m.better)}`);
  return m as UserMetricModule;
}

/** Sample i of every output in `names`, as [1, ...] tensors; a batch of one as it is (a detector's [K, 4] boxes, which have no batch axis). */
function sampleTensors(outputs: Record<string, Tensor>, names: readonly string[], n: number, i: number): Record<string, Tensor> {
  return Object.fromEntries(
    names.map((name) => {
      const t = outputs[name]!;
      if (n === 1) return [name, t];
      const per = t.data.length / n;
      return [name, { dtype: t.dtype, dims: [1, ...t.dims.slice(1)], data: t.data.subarray(i * per, (i + 1) * per) } as Tensor];
    }),
  );
}

/** The user's metric as a Task over `outputs` (default: every output of the model). */
export async function userTask(file: string, outputs: readonly OutputInfo[], options: TaskOptions, reason: string): Promise<Task> {
  const m = await loadModule(file, options.baseDir ?? process.cwd());
  const names = outputs.map((o) => o.name);
  const name: MetricName = `custom:${file}`;
  const score = async (batch: Omit<ScoreBatch, 'split'> & { split?: Record<string, Tensor> }): Promise<number[]> => {
    const scores: number[] = [];
    for (let i = 0; i < batch.n; i++) {
      const full = sampleTensors(batch.full, names, batch.n, i);
      const split = batch.split ? sampleTensors(batch.split, names, batch.n, i) : full;
      let value: unknown;
      try {
        value = await m.score(split, full, batch.labels ? batch.labels[i]! : null);
      } catch (e) {
        throw new ImperaError('METRIC', `metric module '${file}' threw on a sample: ${firstLine(e)}`);
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new ImperaError('METRIC', `metric module '${file}' returned ${String(value)} for a sample, not a finite number`);
      scores.push(value);
    }
    return scores;
  };
  return {
    metric: { name, label: m.name ?? basename(file), better: m.better, kind: 'mean', needsLabels: false, outputs: names },
    reason,
    score,
    scoreFull: (batch) => score({ n: batch.n, full: batch.full, labels: batch.labels }),
  };
}
