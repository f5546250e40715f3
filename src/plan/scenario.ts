/**
 * The planner's scenario file (`impera.yaml`, or JSON): the model and data, the devices (an edge device and a
 * server, each a catalog device or a profile file, or a chain of edge nodes), the links, the workload, the QoS
 * constraints and objective, and what to explore. Validated with zod; an error names the file, the line and the
 * field, and what is allowed.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { computeSchema } from '../devices/resolve.js';
import { NAMED_SOURCES } from '../data/policy.js';
import { resolvePreprocess, type PreprocessInput } from '../data/preprocess-spec.js';
import { ImperaError, isImperaError } from '../errors.js';
import { linkConfigSchema } from '../net/link.js';
import { transportSchema } from '../net/transfer.js';
import type { BuiltinMetric } from '../task/types.js';
import { readConfigFile } from '../util/config.js';
import { BUILTIN_METRICS } from '../task/choose.js';

const positive = (what: string) => z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`);
const count = (what: string) => z.number({ error: `${what} must be a whole number` }).int(`${what} must be a whole number`).positive(`${what} must be at least 1`);
const fraction = (what: string) => z.number({ error: `${what} must be a number` }).gt(0, `${what} must be in (0, 1]`).max(1, `${what} must be in (0, 1] (a share, e.g. 0.9 for 90 %)`);

const oneOrMany = <T extends z.ZodTypeAny>(s: T) => z.union([s, z.array(s).min(1, 'give at least one')]);

const PERCENTILES = ['mean', 'p50', 'p95', 'p99'] as const;
// max-accuracy: the name max-quality had when the only metric was accuracy
const OBJECTIVES = ['max-quality', 'max-accuracy', 'min-latency', 'min-energy', 'min-bytes', 'max-throughput'] as const;
const PLACEMENTS = ['local', 'remote', 'split'] as const;

/** A cut as a scenario names it: its index as `impera inspect` numbers it, its tensors joined by '+', or { tensors: [...] }. */
const cutSpec = z.union([z.string(), z.number().int().nonnegative(), z.object({ tensors: z.array(z.string().min(1)).min(1, 'name at least one tensor') }).strict()]);

const exitsSchema = z
  .object({
    /** Exit cuts, input to output. */
    at: z.array(cutSpec).min(1, 'name at least one exit cut'),
    hidden: z.number().int().nonnegative().default(0),
    /** Max-softmax thresholds to explore. */
    taus: z.array(fraction('each tau')).min(1).default([0.9]),
    calibrate: z.boolean().default(true),
    /** Training images (default: all the training split leaves), validation and calibration images. */
    trainSamples: count('trainSamples').optional(),
    valSamples: count('valSamples').default(1000),
    calSamples: count('calSamples').default(1000),
  })
  .strict();

const METRIC_NAMES = BUILTIN_METRICS.map((d) => d.name) as [BuiltinMetric, ...BuiltinMetric[]];

/** How quality is measured (task/types.ts TaskOptions): the metric (default: chosen from the outputs and the data) and its settings. */
const qualitySchema = z
  .object({
    metric: z.union([z.enum(METRIC_NAMES), z.templateLiteral(['custom:', z.string().min(1)])], { error: `metric must be one of ${METRIC_NAMES.join(', ')}, or custom:NAME with module` }).optional(),
    /** Outputs scored (default: every output for fidelity metrics, the first for class and sequence metrics). */
    outputs: z.array(z.string().min(1)).min(1, 'name at least one output').optional(),
    /** Threshold of map metrics (default 0.5). */
    threshold: z.number({ error: 'threshold must be a number' }).optional(),
    /** Token id CTC uses as blank (default 0). */
    blank: z.number().int().nonnegative().optional(),
    /** A user's metric: a JS module (relative to this file) exporting `score` and `better`. */
    module: z.string().min(1).optional(),
  })
  .strict()
  .refine((q) => !q.metric?.startsWith('custom:') || q.module !== undefined, { message: 'a custom: metric needs module: (the JS file that scores it)', path: ['module'] });

/** A floor ('min') on a higher-is-better metric or a ceiling ('max') on a lower-is-better one, in the metric's units. */
const qualityQosSchema = z
  .object({ min: z.number({ error: 'quality.min must be a number' }).optional(), max: z.number({ error: 'quality.max must be a number' }).optional() })
  .strict()
  .refine((q) => (q.min === undefined) !== (q.max === undefined), 'give one of min (higher-is-better metrics) or max (lower-is-better metrics)');

/** A scenario's preprocessing, checked by data/preprocess-spec.ts's own reading so its errors name the bad field. */
const preprocessField = z.union([z.string().min(1), z.record(z.string(), z.unknown())]).superRefine((v, ctx) => {
  try {
    resolvePreprocess(v as PreprocessInput, 'preprocess');
  } catch (e) {
    if (!isImperaError(e)) throw e;
    ctx.addIssue({ code: 'custom', message: e.message });
  }
});

const dataSchema = z.object({ source: z.string().min(1), preprocess: preprocessField.optional(), labels: z.string().min(1).optional() }).strict();

export const planScenarioSchema = z
  .object({
    name: z.string().min(1).optional(),
    /** ONNX model, relative to this file (default: the built-in MobileNetV2 example). */
    model: z.string().min(1).optional(),
    /** Input shape for dynamic dims, e.g. [1, 3, 224, 224]. */
    inputShape: z.array(count('each dim')).optional(),
    /** Values of inputs, e.g. {sr: 16000}: the model is planned specialised to them (an If on them folded; graph/specialise.ts). */
    inputValues: z.record(z.string(), z.union([z.number(), z.array(z.number()).min(1)])).optional(),
    /**
     * Data: a folder of images (class sub-folders when labelled), an .npy/.npz file (relative to this file) or a named
     * dataset (data/policy.ts); or `{source, preprocess, labels}` with a preprocessing (a preset, a compact string or
     * its fields, docs/DATA.md). Without data accuracy is an estimate.
     */
    data: z.preprocess((v) => (typeof v === 'string' ? { source: v } : v), dataSchema).optional(),
    /** Images for accuracy and saliency (default 200). */
    samples: count('samples').default(200),
    /** Images codecs are fitted on (default: data/policy.ts's calibration data if installed, else `data`). */
    calibration: z.string().min(1).optional(),
    /** Run the saliency pass (I-SPLIT) whose peaks are candidate cuts (default true; skipped anyway when explore.cuts lists the cuts). */
    saliency: z.boolean().default(true),
    /**
     * Rank the saliency layers by `predicted`, the training-free bottleneck predictor (docs/BOTTLENECKS.md), and take
     * its peaks as candidate cuts in place of the CUI's (the CUI stays reported). Off by default: it costs one tail
     * run per layer and batch; cached like every analysis.
     */
    rank: z.object({ samples: count('rank.samples').default(64), ratio: fraction('rank.ratio').default(1 / 64) }).strict().optional(),
    /**
     * Train learned bottlenecks (docs/BOTTLENECKS.md) at the `train` candidate cuts with the highest `predicted` and
     * weigh each as a codec beside explore.codecs; needs data. Minutes per cut on a CPU; cached per model, cut,
     * design, training data, seed and epochs.
     */
    bottleneck: z
      .object({
        train: count('bottleneck.train'),
        ratio: fraction('bottleneck.ratio').default(1 / 64),
        epochs: count('bottleneck.epochs').default(5),
        samples: count('bottleneck.samples').default(1000),
        bits: count('bottleneck.bits').max(16, 'bottleneck.bits must be at most 16').default(8),
        deflate: z.boolean().default(true),
        seed: count('bottleneck.seed').default(1),
        learningRate: z.number({ error: 'bottleneck.learningRate must be a number' }).positive('bottleneck.learningRate must be positive').default(2e-3),
        batchSize: count('bottleneck.batchSize').default(32),
      })
      .strict()
      .optional(),
    /**
     * How quality and bytes of cut x codec are measured: 'adaptive' (in rounds on growing samples, each stopped once
     * it cannot matter; the finalists and the Pareto front measured on every sample) or 'exhaustive' (each on every sample).
     */
    evaluation: z.enum(['adaptive', 'exhaustive']).default('adaptive'),
    /** Without labelled data: the model's known accuracy, scaled by the measured agreement of each configuration. */
    modelAccuracy: fraction('modelAccuracy').optional(),
    /** How quality is measured: the metric and its settings (default: chosen from the outputs and the data). */
    quality: qualitySchema.optional(),
    devices: z
      .object({
        /** The edge device, or several to compare. */
        edge: oneOrMany(computeSchema).optional(),
        server: computeSchema.optional(),
        /** A chain of edge nodes the model is split across (multi-device partitioning). */
        chain: z.array(computeSchema).min(2, 'a chain has at least two devices').optional(),
      })
      .strict()
      .refine((d) => d.edge !== undefined || d.chain !== undefined, 'give devices.edge (and devices.server), or devices.chain'),
    links: z
      .object({
        /** Edge -> server link (a preset name, RATE/DELAY, a link file, preset with overrides, all fields, or a trace), or several to compare. */
        uplink: oneOrMany(linkConfigSchema).optional(),
        /** Links between consecutive chain devices. */
        chain: z.array(linkConfigSchema).optional(),
      })
      .strict()
      .default({}),
    transport: transportSchema.default({ protocol: 'tcp' }),
    // prefault: an absent section is parsed as {}, so the field defaults apply (and are written once)
    workload: z.object({ fps: positive('workload.fps').default(10), devices: count('workload.devices').default(1) }).strict().prefault({}),
    server: z.object({ workers: count('server.workers').default(1) }).strict().prefault({}),
    qos: z
      .object({
        latency: z.object({ ms: positive('latency.ms'), at: z.enum(PERCENTILES).default('p95') }).strict().optional(),
        /** A bound on the task's metric. */
        quality: qualityQosSchema.optional(),
        /** Alias of quality: {min} when the metric is accuracy. */
        accuracy: fraction('accuracy').optional(),
        edgeMemoryMB: positive('edgeMemoryMB').optional(),
        energyJ: positive('energyJ').optional(),
        bytes: positive('bytes').optional(),
        throughputFps: positive('throughputFps').optional(),
      })
      .strict()
      .default({}),
    objective: z.enum(OBJECTIVES).default('max-quality'),
    /** max-quality: qualities this close to the best count as equal, in the metric's units (default: for shares 0.5 points or one sample if more, else 0). */
    qualityTolerance: z.number().min(0).optional(),
    /** Alias of qualityTolerance for accuracy. */
    accuracyTolerance: z.number().min(0).max(0.2, 'accuracyTolerance is a share: 0.005 = half a point').optional(),
    explore: z
      .object({
        /** 'candidates' (bytes minima along depth and saliency peaks), 'all' single-tensor cuts, 'peaks', 'pareto' (the cuts of up to 2 tensors on the front of bytes vs head FLOPs), or a list. */
        cuts: z.union([z.enum(['candidates', 'all', 'peaks', 'pareto']), z.array(cutSpec).min(1)]).default('candidates'),
        codecs: z.array(z.string().min(1)).min(1).default(['fp32', 'fp16', 'int8+deflate', 'int4+deflate', 'pca:c/4+int8+deflate']),
        placements: z.array(z.enum(PLACEMENTS)).min(1).default([...PLACEMENTS]),
        exits: exitsSchema.optional(),
        /** Finalists refined by the discrete-event simulation. */
        finalists: z.number().int().nonnegative().default(8),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type PlanScenarioConfig = z.infer<typeof planScenarioSchema>;

export interface PlanScenario {
  config: PlanScenarioConfig;
  /** The file it came from (null: built in code), and the folder relative paths resolve against. */
  file: string | null;
  baseDir: string;
  name: string;
}

/** Constraints that cannot all hold, found before any work. */
function checkConstraints(c: PlanScenarioConfig, where: string): void {
  const fail = (field: string, what: string, hint?: string) => {
    throw new ImperaError('BAD_SCENARIO', `${where}: ${field}: ${what}`, hint);
  };
  if (c.qos.throughputFps !== undefined && c.qos.throughputFps > c.workload.fps) {
    fail('qos.throughputFps', `asks for ${c.qos.throughputFps} fps but each device produces only workload.fps = ${c.workload.fps}`, 'lower qos.throughputFps or raise workload.fps');
  }
  if (c.objective === 'min-energy' && c.devices.chain) fail('objective', 'min-energy applies to one edge device, not a chain', 'choose min-latency or max-throughput for a chain, or plan one edge device and a server');
  if (c.devices.chain) {
    const links = c.links.chain?.length ?? 0;
    if (links !== c.devices.chain.length - 1) fail('links.chain', `a chain of ${c.devices.chain.length} devices needs ${c.devices.chain.length - 1} links, got ${links}`, 'links.chain[j] joins devices.chain[j] and devices.chain[j + 1]');
  }
  if (c.devices.edge !== undefined && c.explore.placements.some((p) => p !== 'local') && c.devices.server === undefined) {
    fail('devices.server', `placements ${c.explore.placements.filter((p) => p !== 'local').join(', ')} need a server`, "add devices.server, or explore only placements: ['local']");
  }
  if (c.devices.edge !== undefined && c.devices.server !== undefined && c.links.uplink === undefined) fail('links.uplink', 'the edge device needs a link to the server (a preset such as wifi, lte, 5g, ethernet, or link fields)');
  if (c.qos.accuracy !== undefined && c.qos.quality) fail('qos.accuracy', 'give qos.quality or qos.accuracy (its alias for accuracy), not both');
  if (c.qos.accuracy !== undefined && c.quality?.metric !== undefined && c.quality.metric !== 'accuracy') fail('qos.accuracy', `the scenario's metric is ${c.quality.metric}, not accuracy`, 'constrain it with qos: {quality: {min: ...}} (or {max: ...} for a lower-is-better metric)');
  if (c.qualityTolerance !== undefined && c.accuracyTolerance !== undefined) fail('accuracyTolerance', 'give qualityTolerance or accuracyTolerance (its alias), not both');
  if (c.explore.cuts === 'peaks' && !c.data) fail('explore.cuts', "'peaks' needs saliency, which needs data", 'give data, or explore cuts: candidates');
  if (c.explore.cuts === 'peaks' && !c.saliency) fail('explore.cuts', "'peaks' needs saliency, which saliency: false turns off", 'remove saliency: false, or explore cuts: candidates');
  if (c.explore.exits && !c.data) fail('explore.exits', 'exit branches are trained on labelled data', `give data: a folder with one sub-folder of images per class, or ${NAMED_SOURCES.join(', ')}`);
  if (c.explore.exits && c.devices.chain) fail('explore.exits', 'exits are explored for an edge device and a server, not a chain', 'remove explore.exits, or plan devices.edge and devices.server instead of a chain');
}

/** Read a scenario file (YAML or JSON). */
export function readPlanScenario(path: string): PlanScenario {
  const config = readConfigFile(path, planScenarioSchema, {
    what: 'scenario',
    code: 'BAD_SCENARIO',
    missingHint: 'write one (see examples/plan/impera.yaml), or run `impera plan` with no file for the built-in example',
    invalidHint: 'see examples/plan/impera.yaml and `impera plan --help`',
  });
  checkConstraints(config, `scenario '${path}'`);
  return { config, file: resolve(path), baseDir: dirname(resolve(path)), name: config.name ?? path };
}
