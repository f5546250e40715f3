#!/usr/bin/env node
/** The `impera` command line. Expected failures print one line and exit 1; usage errors exit 2. */
import { Command, CommanderError } from 'commander';
import { isImperaError } from '../errors.js';
import { VERSION } from '../util/package.js';
import { registerInspect } from './commands/inspect.js';
import { registerSplit } from './commands/split.js';
import { registerGrad } from './commands/grad.js';
import { registerSaliency } from './commands/saliency.js';
import { registerRank } from './commands/rank.js';
import { registerEval } from './commands/eval.js';
import { registerExits } from './commands/exits.js';
import { registerBottleneck } from './commands/bottleneck.js';
import { registerPlan } from './commands/plan.js';
import { registerSimulate } from './commands/simulate.js';
import { registerProfile } from './commands/profile.js';
import { registerDevices } from './commands/devices.js';
import { registerServe } from './commands/serve.js';
import { registerEdge } from './commands/edge.js';
import { registerBenchE2e } from './commands/bench-e2e.js';
import { registerExportTriton } from './commands/export-triton.js';

export function buildProgram(): Command {
  const program = new Command('impera')
    .description('Design and run split-computing deployments of ONNX models')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerInspect(program);
  registerSplit(program);
  registerGrad(program);
  registerSaliency(program);
  registerRank(program);
  registerEval(program);
  registerExits(program);
  registerBottleneck(program);
  registerPlan(program);
  registerSimulate(program);
  registerProfile(program);
  registerDevices(program);
  registerServe(program);
  registerEdge(program);
  registerExportTriton(program);
  registerBenchE2e(program);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (isImperaError(e)) {
      process.stderr.write(`impera: error: ${e.oneLine()}\n`);
      return 1;
    }
    const err = e as Error;
    process.stderr.write(`impera: internal error: ${err?.message ?? String(e)} (please report it; IMPERA_DEBUG=1 prints the stack)\n`);
    if (process.env.IMPERA_DEBUG) process.stderr.write(`${err?.stack}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
