/**
 * `impera bottleneck`: train a learned bottleneck at a cut with the backbone frozen, and write its folder
 * (bottlenecks/files.ts): the deployed pair `serve`, `edge` and `export-triton` run, and what the `learned:DIR`
 * codec reads.
 */
import { mkdirSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { DEFAULT_RATIO, parseRatio } from '../../bottlenecks/design.js';
import { bottleneckSummary, writeBottleneckDir } from '../../bottlenecks/files.js';
import { trainBottleneck, type TrainedBottleneck } from '../../bottlenecks/pipeline.js';
import { LOSSES, type BottleneckLoss } from '../../bottlenecks/train.js';
import { openDataset } from '../../data/dataset.js';
import { holdOut, labelledSplits, NAMED_SOURCES } from '../../data/policy.js';
import { ImperaError } from '../../errors.js';
import { fmtPoints as pct } from '../../util/format.js';
import { addDataOptions, addModelOptions, CUT_NAMING, datasetOptions, graphAndData, positiveInt, positiveNumber, printJson, printWarnings, resolveCuts, type DataOptions, type ModelOptions } from '../common.js';
import { progressBar } from '../progress.js';
import { fmtBytes, table } from '../table.js';

interface BottleneckCliOptions extends ModelOptions, DataOptions {
  at: string;
  data?: string;
  test?: string;
  ratio: string;
  bits: number;
  deflate: boolean;
  loss?: BottleneckLoss;
  epochs: number;
  train?: number;
  testSamples?: number;
  batchSize: number;
  lr: number;
  seed: number;
  out?: string;
  resume?: boolean;
  json?: boolean;
}

/** Training and test data: --test, else the source's own splits (data/policy.ts), else a held-out 20 % of the one set. */
function bottleneckData(o: BottleneckCliOptions, fallback: () => ReturnType<typeof openDataset>) {
  const options = datasetOptions(o);
  const splits = o.data ? labelledSplits(o.data, undefined, options) : null;
  const whole = splits ? splits.train() : fallback();
  if (o.test) return { train: whole, test: openDataset(o.test, options) };
  return splits?.test ? { train: whole, test: splits.test() } : holdOut(whole);
}

export function registerBottleneck(program: Command): void {
  addDataOptions(addModelOptions(program.command('bottleneck')))
    .description('train a learned bottleneck (autoencoder) at a cut with the model frozen; report quality and bytes, export the pair')
    .requiredOption('--at <cut>', `the cut, ${CUT_NAMING}; one tensor`)
    .option('--data <source>', `training data: a folder of images, an .npy or .npz file, or ${NAMED_SOURCES.join(', ')} (a named dataset trains on its training split and tests on its test split)`)
    .option('--test <source>', 'test data (default: the source\'s test split; a folder or file holds 20 % of its samples out for testing)')
    .option('--ratio <r>', 'latent elements over the cut tensor\'s, e.g. 1/64', '1/64')
    .option('--bits <n>', 'bits per latent value on the wire', positiveInt('--bits'), 8)
    .option('--no-deflate', 'send the packed latent without deflate')
    .addOption(new Option('--loss <loss>', 'ce: labels; kd: the full model\'s class (no labels); fidelity: squared error to the full model\'s outputs (default: ce, kd without labels, fidelity for outputs other than classes)').choices([...LOSSES]))
    .option('--epochs <n>', 'most epochs (early stopping on a 10 % validation split)', positiveInt('--epochs'), 10)
    .option('--train <n>', 'training samples (default: all that fit in memory)', positiveInt('--train'))
    .option('--test-samples <n>', 'test samples (default: all)', positiveInt('--test-samples'))
    .option('--batch-size <n>', 'mini-batch size', positiveInt('--batch-size'), 32)
    .option('--lr <rate>', 'Adam learning rate', positiveNumber('--lr'), 1e-3)
    .option('--seed <n>', 'seed of initialisation and shuffling', positiveInt('--seed'), 1)
    .option('--out <dir>', 'write head.onnx, tail.onnx, codec.json, split.json, model.onnx and bottleneck.json here; the training checkpoint too')
    .option('--resume', 'continue the interrupted run whose checkpoint is in --out')
    .option('--json', 'print the result as JSON')
    .action(async (model: string | undefined, o: BottleneckCliOptions) => {
      const ratio = parseRatio(o.ratio ?? `1/${1 / DEFAULT_RATIO}`);
      if (o.resume && !o.out) throw new ImperaError('BAD_ARGUMENT', '--resume needs --out, the folder holding the checkpoint', 'give the --out of the interrupted run');
      const { g, data } = await graphAndData(model, { ...o, ...(o.data ? { data: o.data } : {}) });
      const cuts = resolveCuts(g, o.at);
      if (cuts.length !== 1) throw new ImperaError('BAD_ARGUMENT', `--at names ${cuts.length} cuts: a bottleneck is trained at one`, 'name one cut');
      const sets = bottleneckData(o, () => data);
      if (o.out) mkdirSync(o.out, { recursive: true });
      const bar = progressBar('bottleneck', !o.json && process.stderr.isTTY === true);
      let result: TrainedBottleneck;
      try {
        result = await trainBottleneck(g, cuts[0]!, sets, {
          ratio,
          bits: o.bits,
          deflate: o.deflate,
          ...(o.loss ? { loss: o.loss } : {}),
          epochs: o.epochs,
          ...(o.train ? { trainSamples: o.train } : {}),
          ...(o.testSamples ? { testSamples: o.testSamples } : {}),
          batchSize: o.batchSize,
          learningRate: o.lr,
          seed: o.seed,
          ...(o.out ? { checkpointDir: o.out, resume: o.resume ?? false } : {}),
          onProgress: (stage, done, total, epoch) => bar.update(done, total, stage === 'train' ? `epoch ${epoch}` : stage),
        });
      } finally {
        bar.stop();
      }
      const out = { model: g.model.source, cutIndex: cuts[0]!.index, ...bottleneckSummary(result), warnings: [...g.warnings, ...result.warnings] };
      if (o.out) writeBottleneckDir(o.out, g, cuts[0]!, result, out);
      if (o.json) return printJson(out);
      printWarnings(out.warnings);
      const q = (f: TrainedBottleneck['quality']) => `${pct(f.value)} % [${pct(f.ci[0])}, ${pct(f.ci[1])}]`;
      const d = result.design;
      process.stdout.write(`bottleneck at ${result.cut} [${d.shape.slice(1).join('x')}] -> latent [${d.latentShape.slice(1).join('x')}] (${d.layout}, ${d.channels} -> ${d.hidden} -> ${d.latentChannels} channels, stride ${d.stride}), loss ${result.loss}\n`);
      process.stdout.write(`${table(['epoch', 'loss', 'validation', 's'], result.history.map((h) => [String(h.epoch), h.loss.toFixed(4), result.loss === 'fidelity' ? h.valScore.toExponential(2) : `${pct(h.valScore)} %`, h.seconds.toFixed(1)]))}\n`);
      process.stdout.write(`${table(['', result.quality.label, 'bytes/sample'], [
        ['full model', q(result.fullQuality), fmtBytes(result.rawBytes)],
        [`bottleneck ${result.codec.spec.name}`, q(result.quality), fmtBytes(result.bytesPerSample)],
      ])}\n`);
      process.stdout.write(`${result.trainSamples} training samples, best epoch ${result.bestEpoch} of ${result.epochs}; ${(result.rawBytes / result.bytesPerSample).toFixed(0)}x fewer bytes than float32${o.out ? `; wrote ${o.out}` : ''}\n`);
    });
}
