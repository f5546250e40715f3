/** `impera split`: export head and tail (or k stages) along named cuts, and check they compose exactly. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
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
import { sampleFeeds } from '../../data/samples.js';
import { ImperaError } from '../../errors.js';
import { splitModel, writeManifest, writeParts } from '../../export/split.js';
import { referenceOutputs, verifyParts, type VerifyReport } from '../../export/verify.js';
import { tensor, type Graph } from '../../graph/graph.js';
import { dtypeName } from '../../onnx/dtype.js';
import { addDataOptions, addModelOptions, CUT_NAMING, datasetOptions, loadGraph, positiveInt, positiveNumber, printJson, printWarnings, resolveCuts, type ModelOptions } from '../common.js';
import { fmtBytes, fmtCount, fmtInt, fmtShape, table } from '../table.js';

interface SplitOptions extends ModelOptions {
  at: string;
  out: string;
  verify?: boolean;
  samples: number;
  tolerance: number;
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

/** The first `count` samples of the user's data, else the default samples (data/samples.ts), and what they are. */
function verifyFeeds(g: Graph, data: Dataset | undefined, count: number): { feeds: Feeds; source: string } {
  if (!data) return sampleFeeds(g.inputShapes, count);
  const n = Math.min(count, data.size);
  return { feeds: data.feeds([...Array(n).keys()], modelInputs(g)), source: `the first ${n} samples of ${data.name}` };
}

/** Run the exported pair with the wire format between them and compare predictions with the full model. */
async function checkCodecPair(g: Graph, parts: readonly [ExportedPart, ExportedPart], codec: FittedCodec, data: Dataset | undefined, count: number): Promise<CodecCheck> {
  const { feeds, source } = verifyFeeds(g, data, count);
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
    .option('--verify', 'run full model and parts in ONNX Runtime and compare outputs')
    .option('--data <source>', 'data to verify on and fit the codec on: an image folder, an .npy or .npz file (default: the built-in sample for the example models, seeded random inputs otherwise)')
    .option('--samples <n>', 'inputs to verify on (the first of --data, or default samples)', positiveInt('--samples'), 8)
    .option('--tolerance <x>', 'largest allowed |diff| relative to the output magnitude', positiveNumber('--tolerance'), 1e-5)
    .option('--codec <spec>', 'put a codec between head and tail (e.g. int8, pca:c/4+int8+deflate); one cut only')
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
      let verify: (VerifyReport & { source: string }) | undefined;
      let codecCheck: CodecCheck | undefined;
      if (options.verify && codec) codecCheck = await checkCodecPair(g, [parts[0]!, parts[1]!], codec, data, options.samples);
      else if (options.verify) {
        const { feeds, source } = verifyFeeds(g, data, options.samples);
        verify = { ...(await verifyParts(g, parts, feeds, { tolerance: options.tolerance })), source };
      }
      const wire = codec ? describeWire(codec) : undefined;
      const io = (n: string) => {
        const w = wire?.tensors.find((t) => t.wire === n);
        return w ? { name: n, dtype: w.dtype, wireElements: w.wireElements } : { name: n, dtype: dtypeName(tensor(g, n).dtype), shape: [...tensor(g, n).shape], bytes: tensor(g, n).bytes };
      };
      const manifest = {
        model: g.model.source,
        cuts: cuts.map(cutRecord),
        parts: parts.map((p, i) => ({ name: p.name, file: files[i]!, inputs: p.inputs.map(io), outputs: p.outputs.map(io), dynamicBatch: p.dynamicBatch, cost: stages[i]!.cost })),
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
          p.dynamicBatch ? 'dynamic' : `fixed ${g.batch?.size ?? ''}`.trim(),
        ]);
        process.stdout.write(`${cutLines.join('\n')}\n${table(['part', 'file', 'inputs', 'outputs', 'nodes', 'MACs', 'params', 'batch'], rows)}\n`);
        if (verify) process.stdout.write(`${verifyText(verify)}\n`);
        if (codecCheck) process.stdout.write(`verify on ${codecCheck.source}: with codec ${codecCheck.codec} the pair predicts as the full model on ${codecCheck.agree} of ${codecCheck.samples} samples; ${fmtInt(codecCheck.bytesMean)} bytes per sample on the wire\n`);
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
