/** What every bench script shares: its command-line options, the zoo, and the machine line of its header. */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { TARGETS_INPUT } from '../src/autodiff/backward.js';
import { openDataset } from '../src/data/dataset.js';
import { DataType } from '../src/onnx/dtype.js';
import type { Feeds } from '../src/ort/session.js';
import { zooDir } from '../src/util/package.js';

export const ZOO = zooDir();

/** `--help`: the bench script's own header comment (what it measures, its options), then exit without running. */
function exitWithUsageOnHelp(argv: readonly string[]): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const header = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(argv[1]!, 'utf8'))?.[1] ?? '';
  process.stdout.write(`${header.split('\n').map((line) => line.replace(/^\s*\* ?/, '')).join('\n').trim()}\n`);
  process.exit(0);
}
// Every bench imports this module before it reads an option, so `--help` never starts a long run by accident.
exitWithUsageOnHelp(process.argv);

/** The value after `--NAME` on the command line, or the default. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}

/** Right-align a table cell to `width` characters. */
export const pad = (s: string | number, width: number): string => String(s).padStart(width);

/** The CPU model and the number of cores, as each bench's first line and docs/BENCHMARKS.md name the machine. */
export const machine = (): string => `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`;

/** The first `size` Fashion-MNIST test images as the zoo's models take them ([size, 3, 224, 224]), with their labels. */
export function zooImages(size: number): { x: Float32Array; labels: number[] } {
  const data = openDataset('fashion-mnist');
  const indices = [...Array(size).keys()];
  return { x: data.load(indices, { channels: 3, height: 224, width: 224 }), labels: indices.map((i) => data.label(i)) };
}

/** Feeds of a zoo model's backward graph (src/autodiff): the images and, per image, the class to explain. */
export const gradientFeeds = (x: Float32Array, labels: readonly number[]): Feeds => ({
  input: { dtype: DataType.FLOAT, dims: [labels.length, 3, 224, 224], data: x },
  [TARGETS_INPUT]: { dtype: DataType.INT64, dims: [labels.length], data: BigInt64Array.from(labels.map(BigInt)) },
});

/** Milliseconds of each of `runs` calls of `once`, after one warm-up call left out. */
export async function timeRuns(once: () => Promise<unknown>, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    await once();
    if (i > 0) times.push(performance.now() - t0);
  }
  return times;
}
