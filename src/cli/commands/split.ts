/** `impera split`: export head and tail (or k stages) along named cuts, and check they compose exactly. */
import type { Command } from 'commander';
import { cutRecord, findCuts, resolveCut } from '../../cuts/cuts.js';
import { sampleFeeds } from '../../data/samples.js';
import { ImperaError } from '../../errors.js';
import { splitModel, writeManifest, writeParts } from '../../export/split.js';
import { verifyParts, type VerifyReport } from '../../export/verify.js';
import { tensor } from '../../graph/graph.js';
import { dtypeName } from '../../onnx/dtype.js';
import { addModelOptions, loadGraph, positiveInt, printJson, printWarnings, type ModelOptions } from '../common.js';
import { fmtBytes, fmtCount, fmtInt, fmtShape, table } from '../format.js';

interface SplitOptions extends ModelOptions {
  at: string;
  out: string;
  width: number;
  verify?: boolean;
  samples: number;
  tolerance: number;
  json?: boolean;
}

const positiveNumber = (v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new ImperaError('BAD_ARGUMENT', `--tolerance must be a positive number, got '${v}'`);
  return n;
};

export function registerSplit(program: Command): void {
  addModelOptions(program.command('split'))
    .description('export the head and tail (or k stages) of a model as standalone ONNX models')
    .requiredOption('--at <cuts>', "cut(s) by index or tensor name from `impera inspect`; '+' joins the tensors of one cut, ',' separates cuts for k stages")
    .requiredOption('--out <dir>', 'folder for the parts and split.json')
    .option('--width <n>', 'widest cut to consider when naming cuts by index (must match inspect)', positiveInt('--width'), 2)
    .option('--verify', 'run full model and parts in ONNX Runtime and compare outputs')
    .option('--samples <n>', 'inputs to verify on (Fashion-MNIST test images when the model takes images)', positiveInt('--samples'), 8)
    .option('--tolerance <x>', 'largest allowed |diff| relative to the output magnitude', positiveNumber, 1e-5)
    .option('--json', 'print the result as JSON')
    .action(async (model: string | undefined, options: SplitOptions) => {
      const g = await loadGraph(model, options);
      const all = findCuts(g, { maxWidth: options.width });
      const cuts = options.at.split(',').map((spec) => resolveCut(g, all, spec));
      const { stages, parts } = splitModel(g, cuts);
      const files = writeParts(g, parts, options.out);
      let verify: (VerifyReport & { source: string }) | undefined;
      if (options.verify) {
        const { feeds, source } = sampleFeeds(g.inputShapes, options.samples);
        verify = { ...(await verifyParts(g, parts, feeds, { tolerance: options.tolerance })), source };
      }
      const io = (n: string) => ({ name: n, dtype: dtypeName(tensor(g, n).dtype), shape: [...tensor(g, n).shape], bytes: tensor(g, n).bytes });
      const manifest = {
        model: g.model.source,
        cuts: cuts.map(cutRecord),
        parts: parts.map((p, i) => ({ name: p.name, file: files[i]!, inputs: p.inputs.map(io), outputs: p.outputs.map(io), dynamicBatch: p.dynamicBatch, cost: stages[i]!.cost })),
        ...(verify ? { verify } : {}),
      };
      writeManifest(options.out, manifest);
      if (options.json) printJson(manifest);
      else {
        printWarnings(g.warnings);
        const cutLines = cuts.map((c) => `cut ${c.index >= 0 ? `#${c.index} ` : ''}${c.detail.map((t) => `${t.name} (${fmtShape(t.shape)})`).join(' + ')}: ${fmtInt(c.bytes)} B`);
        const rows = manifest.parts.map((p) => [
          p.name,
          p.file,
          p.inputs.map((t) => t.name).join(', '),
          p.outputs.map((t) => t.name).join(', '),
          p.cost.nodes,
          fmtCount(p.cost.macs),
          fmtBytes(p.cost.paramBytes),
          p.dynamicBatch ? 'dynamic' : `fixed ${g.batch?.size ?? ''}`.trim(),
        ]);
        process.stdout.write(`${cutLines.join('\n')}\n${table(['part', 'file', 'inputs', 'outputs', 'nodes', 'MACs', 'params', 'batch'], rows)}\n`);
        if (verify) process.stdout.write(`${verifyText(verify)}\n`);
      }
      if (verify && !verify.ok) {
        throw new ImperaError('VERIFY_FAILED', `the parts do not compose to the full model within ${options.tolerance} (relative)`, 'please report this with the model');
      }
    });
}

function verifyText(v: VerifyReport & { source: string }): string {
  const lines = v.outputs.map((o) => `  ${o.name}: max |diff| ${o.maxAbsDiff.toExponential(2)} = ${o.relative.toExponential(2)} of max |output| ${o.maxAbs.toPrecision(4)} ${o.relative <= v.tolerance ? 'ok' : 'FAIL'}`);
  return [`verify on ${v.source} (tolerance ${v.tolerance.toExponential(0)} relative): ${v.ok ? 'parts compose exactly' : 'MISMATCH'}`, ...lines].join('\n');
}
