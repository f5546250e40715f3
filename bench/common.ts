/** What every bench script shares: its command-line options, the zoo, and the machine line of its header. */
import { availableParallelism, cpus } from 'node:os';
import { zooDir } from '../src/util/package.js';

export const ZOO = zooDir();

/** The value after `--NAME` on the command line, or the default. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}

/** The CPU model and the number of cores, as each bench's first line and docs/BENCHMARKS.md name the machine. */
export const machine = (): string => `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`;
