/** `impera split`: export head and tail (or k stages) along named cuts, and check they compose exactly. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { fitCodecs } from '../../codecs/calibrate.js';
import type { FittedCodec } from '../../codecs/fitted.js';
import { parseCodec } from '../../codecs/spec.js';
import { modelInputs, openDataset, type Dataset } from '../../data/dataset.js';
import { calibrationData, DEFAULT_CALIBRATION, DEFAULT_DATA } from '../../data/policy.js';
import { argmax } from '../../util/stats.js';
import { attachCodec, describeWire, runCodecPair } from '../../export/codec.js';
import type { ExportedPart } from '../../export/extract.js';
import { createSession, type Feeds } from '../../ort/session.js';
import { cutRecord } from '../../cuts/cuts.js';
import { randomSampleFeeds, sampleFeeds } from '../../data/samples.js';
import { ImperaError, isImperaError } from '../../errors.js';
import { splitModel, writeManifest, writeParts } from '../../export/split.js';
import { defaultTolerance, defaultVerifyShapes, mismatchText, referenceOutputs, verifyParts, verifyShapesAt, type OptimizationLevel, type VerifyReport } from '../../export/verify.js';
import { batchAxis, tensor, type Graph } from '../../graph/graph.js';
import { parseInputShapes } from '../../graph/input-shapes.js';
import { dtypeName } from '../../onnx/dtype.js';
import { addDataOptions, addModelOptions, CUT_NAMING, datasetOptions, loadGraph, positiveInt, positiveNumber, printJson, printWarnings, resolveCuts, type ModelOptions } from '../common.js';
import type { TensorInfo } from '../../ops/types.js';
import { fmtBytes, fmtCount, fmtInt, fmtShape, table } from '../table.js';

interface SplitOptions extends ModelOptions {
  at: string;
  out: string;
  verify?: boolean;
  samples: number;
  tolerance?: number;
  optimization: OptimizationLevel;
  verifyShapes?: string;
  codec?: string;
  calibration?: string;
  calibrationSamples: number;
  data?: string;
  preprocess?: string;
  labels?: string;
  json?: boolean;
}

interface CodecCheck {
  codec: string;
  source: string;
  samples: number;
  /** Samples whose predicted class equals the full model's. */
  agree: number;
  bytesMean: number;
}

/**
 * The first `count` samples of the user's data, else the default samples (data/samples.ts), at `inputs`' shapes
 * (the batch aside), and what they are.
 */
function verifyFeeds(g: Graph, inputs: ReadonlyMap<string, TensorInfo>, data: Dataset | undefined, count: number): { feeds: Feeds; source: string } {
  if (!data) return sampleFeeds(inputs, count, (name) => batchAxis(g, name));
  const n = Math.min(count, data.size);
  const specs = modelInputs(g).map((s) => ({ ...s, dims: s.dims.map((d, i) => (d < 0 ? d : inputs.get(s.name)!.shape[i]!)) }));
  return { feeds: data.feeds([...Array(n).keys()], specs), source: `the first ${n} samples of ${data.name}` };
}

/** Run the exported pair with the wire format between them and compare predictions with the full model. */
async function checkCodecPair(g: Graph, parts: readonly [ExportedPart, ExportedPart], codec: FittedCodec, data: Dataset | undefined, count: number): Promise<CodecCheck> {
  const { feeds, source } = verifyFeeds(g, g.inputShapes, data, count);
  const [expected] = await referenceOutputs(g, feeds);
  const sessions = [await createSession(parts[0].proto, g.model.dir), await createSession(parts[1].proto, g.model.dir)] as const;
  try {
    const { outputs, bytes } = await runCodecPair(parts, sessions, codec, feeds);
    const out = g.outputs[0]!.name!;
    const classes = tensor(g, out).shape[1]!;
    const predict = (t: Float32Array, n: number) => argmax(t.subarray(n * classes, (n + 1) * classes));
    const samples = bytes.length;
    const agree = Array.from({ length: samples }, (_, n) => predict(outputs[out]!.data as Float32Array, n) === predict(expected![out]!.data as Float32Array, n)).filter(Boolean).length;
    return { codec: codec.spec.name, source, samples, agree, bytesMean: bytes.reduce((a, b) => a + b, 0) / samples };
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}

export function registerSplit(program: Command): void {
  addDataOptions(addModelOptions(program.command('split')))
    .description('export the head and tail (or k stages) of a model as standalone ONNX models')
    .requiredOption('--at <cuts>', `cut(s) ${CUT_NAMING}; ',' separates cuts for k stages`)
    .requiredOption('--out <dir>', 'folder for the parts and split.json')
    .option('--verify', 'run the full model and the parts in ONNX Runtime and compare every cut tensor and output')
    .option('--data <source>', 'data to verify on and fit the codec on: an image folder, an .npy or .npz file (default: the built-in sample for the example models, seeded random inputs otherwise)')
    .option('--samples <n>', 'inputs to verify on (the first of --data, or default samples)', positiveInt('--samples'), 8)
    .option('--tolerance <x>', `largest allowed |diff| relative to a tensor's magnitude (default ${defaultTolerance('disabled')} with optimisations disabled, ${defaultTolerance('all')} otherwise)`, positiveNumber('--tolerance'))
    .addOption(new Option('--optimization <level>', "ONNX Runtime graph optimisations on both sides while verifying: 'disabled' checks the split itself (float sums in the same order); a runtime's level fuses kernels across the cut in the full model only, so results differ by rounding").choices(['disabled', 'basic', 'extended', 'all']).default('disabled'))
    .option('--verify-shapes <shapes>', "input shapes to verify at, ';' between shapes, '+' between inputs as NAME=dims (default: the analysed shape and, where the parts keep dynamic dims other than the batch, those dims a few steps larger); the batch is --samples")
    .option('--codec <spec>', 'put a codec between head and tail (e.g. int8, pca:c/4+int8+deflate, learned:DIR from impera bottleneck); one cut only')
    .option('--calibration <source>', `images to fit the codec on (default: --data, else '${DEFAULT_CALIBRATION}', else the built-in sample)`)
    .option('--calibration-samples <n>', 'images to fit the codec on', positiveInt('--calibration-samples'), 256)
    .option('--json', 'print the result as JSON')
    .action(async (model: string | undefined, options: SplitOptions) => {
      const data = options.data ? openDataset(options.data, datasetOptions(options)) : undefined;
      const g = await loadGraph(model, options, data && (() => data));
      const cuts = resolveCuts(g, options.at);
      const { stages, parts: plain } = splitModel(g, cuts);
      let parts = plain;
      let codec: FittedCodec | undefined;
      let calibration: Dataset | undefined;
      const warnings = [...g.warnings];
      if (options.codec) {
        const spec = parseCodec(options.codec);
        if (cuts.length !== 1) throw new ImperaError('BAD_ARGUMENT', '--codec works with one cut (head and tail)', 'split at a single cut');
        calibration = calibrationData(options.calibration ?? options.data, { what: 'the built-in sample images', data: () => openDataset(DEFAULT_DATA) }, warnings, 'pass --calibration with other images', undefined, datasetOptions(options));
        codec = (await fitCodecs(g, cuts, [spec], calibration!, { samples: options.calibrationSamples })).get(cuts[0]!.id)![0]!;
        parts = attachCodec(g, [plain[0]!, plain[1]!], codec);
      }
      const files = writeParts(g, parts, options.out);
      if (codec) writeFileSync(join(options.out, 'codec.json'), `${JSON.stringify(describeWire(codec), null, 2)}\n`);
      let verify: SplitVerify | undefined;
      let codecCheck: CodecCheck | undefined;
      if (options.verify && codec) codecCheck = await checkCodecPair(g, [parts[0]!, parts[1]!], codec, data, options.samples);
      else if (options.verify) verify = await verifyAtShapes(g, parts, data, options);
      const wire = codec ? describeWire(codec) : undefined;
      const io = (n: string) => {
        const w = wire?.tensors.find((t) => t.wire === n);
        return w ? { name: n, dtype: w.dtype, wireElements: w.wireElements } : { name: n, dtype: dtypeName(tensor(g, n).dtype), shape: [...tensor(g, n).shape], bytes: tensor(g, n).bytes };
      };
      const manifest = {
        model: g.model.source,
        cuts: cuts.map(cutRecord),
        parts: parts.map((p, i) => ({ name: p.name, file: files[i]!, inputs: p.inputs.map(io), outputs: p.outputs.map(io), dynamicBatch: p.dynamicBatch, dynamicDims: p.dynamicDims, cost: stages[i]!.cost })),
        ...(wire ? { codec: wire } : {}),
        ...(verify ? { verify } : {}),
        ...(codecCheck ? { codecCheck } : {}),
        // which data each check used, so a report never hides that it ran on the built-in sample
        data: { verify: verify?.source ?? codecCheck?.source ?? null, calibration: calibration?.name ?? null },
      };
      writeManifest(options.out, manifest);
      if (options.json) printJson(manifest);
      else {
        printWarnings(warnings);
        const cutLines = cuts.map((c) => `cut ${c.index >= 0 ? `#${c.index} ` : ''}${c.detail.map((t) => `${t.name} (${fmtShape(t.shape)})`).join(' + ')}: ${fmtInt(c.bytes)} B`);
        const rows = manifest.parts.map((p) => [
          p.name,
          p.file,
          p.inputs.map((t) => t.name).join(', '),
          p.outputs.map((t) => t.name).join(', '),
          p.cost.nodes,
          fmtCount(p.cost.macs),
          fmtBytes(p.cost.paramBytes),
          dynamicText(g, p.dynamicDims),
        ]);
        process.stdout.write(`${cutLines.join('\n')}\n${table(['part', 'file', 'inputs', 'outputs', 'nodes', 'MACs', 'params', 'dynamic dims'], rows)}\n`);
        if (verify) process.stdout.write(`${verifyText(verify)}\n`);
        if (codecCheck) process.stdout.write(`verify on ${codecCheck.source}: with codec ${codecCheck.codec} the pair predicts as the full model on ${codecCheck.agree} of ${codecCheck.samples} samples; ${fmtInt(codecCheck.bytesMean)} bytes per sample on the wire\n`);
      }
      const failed = verify?.reports.find((r) => !r.ok);
      if (failed) {
        const hint =
          failed.optimization === 'disabled'
            ? 'with optimisations off, parts and model run the same kernels in the same order: a random op, or one whose result depends on the size it runs at, makes them differ'
            : 'at this level ONNX Runtime fuses kernels across the cut in the full model only; verify with --optimization disabled to check the split itself, or allow for the rounding with --tolerance';
        throw new ImperaError('VERIFY_FAILED', `at ${shapeText(failed.shapes)}, ${mismatchText(failed)}`, hint);
      }
    });
}

interface SplitVerify {
  ok: boolean;
  /** The samples of the first shape. */
  source: string;
  /** Per shape, with the samples it ran on. */
  reports: (VerifyReport & { source: string })[];
}

/**
 * Verify the parts at each shape asked for, or at the analysed shape and a second resolution. The user's data
 * feeds every shape; where it cannot come at the second resolution (arrays of one size), seeded random inputs do,
 * and the report says so.
 */
async function verifyAtShapes(g: Graph, parts: readonly ExportedPart[], data: Dataset | undefined, options: SplitOptions): Promise<SplitVerify> {
  const inputNames = [...g.inputShapes.keys()];
  const shapes = options.verifyShapes
    ? options.verifyShapes.split(';').map((set) => verifyShapesAt(g, parts, parseInputShapes(set.split('+'), inputNames)))
    : defaultVerifyShapes(g, parts);
  const reports: SplitVerify['reports'] = [];
  for (const [i, inputs] of shapes.entries()) {
    let samples: { feeds: Feeds; source: string };
    try {
      samples = verifyFeeds(g, inputs, data, options.samples);
    } catch (e) {
      if (i === 0 || options.verifyShapes || !isImperaError(e)) throw e;
      // not the built-in example's images: they are that example's data, never stand-ins for a user's
      const fallback = randomSampleFeeds(inputs, options.samples, (name) => batchAxis(g, name));
      samples = { feeds: fallback.feeds, source: `${fallback.source}, as ${data!.name} does not come at this size (${e.message})` };
    }
    reports.push({ ...(await verifyParts(g, parts, samples.feeds, { optimization: options.optimization, ...(options.tolerance ? { tolerance: options.tolerance } : {}) })), source: samples.source });
  }
  return { ok: reports.every((r) => r.ok), source: reports[0]!.source, reports };
}

const shapeText = (shapes: Record<string, number[]>): string => Object.entries(shapes).map(([name, dims]) => `${name} ${dims.join('x')}`).join(', ');

/** The dims a part keeps dynamic, or what it is fixed at. */
function dynamicText(g: Graph, kept: readonly string[]): string {
  if (!g.dynamicDims.length) return 'none';
  const fixed = g.dynamicDims.filter((d) => !kept.includes(d.symbol)).map((d) => `${d.symbol}=${d.size}`);
  return [kept.length ? kept.join(', ') : '', fixed.length ? `fixed ${fixed.join(', ')}` : ''].filter(Boolean).join('; ');
}

function verifyText(v: SplitVerify): string {
  const first = v.reports[0]!;
  const head = `verify on ${v.source} with ONNX Runtime optimisations ${first.optimization} on both sides (tolerance ${first.tolerance.toExponential(0)} relative): ${v.ok ? 'parts compose exactly' : 'MISMATCH'} at ${v.reports.map((r) => shapeText(r.shapes)).join(' and ')}`;
  const lines = v.reports.flatMap((r) => [
    `  at ${shapeText(r.shapes)}${r.source === v.source ? '' : ` on ${r.source}`}:`,
    ...r.checks.map((o) => `    ${o.kind === 'cut' ? 'cut' : 'output'} ${o.name}: max |diff| ${o.maxAbsDiff.toExponential(2)} = ${o.relative.toExponential(2)} of max |value| ${o.maxAbs.toPrecision(4)}, relative L2 ${o.relativeL2.toExponential(2)} ${o.relative <= r.tolerance ? 'ok' : 'FAIL'}`),
  ]);
  return [head, ...lines].join('\n');
}
