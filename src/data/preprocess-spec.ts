/**
 * How images become a model's input, as one typed object: the presets (`zoo`, `imagenet`), a scenario's
 * `data.preprocess` block and the CLI's compact `--preprocess` string (`resize=pad,size=640x640,order=bgr,...`) all
 * go through one zod schema here, so every way of saying it is validated alike and an error names the bad field.
 */
import { z } from 'zod';
import { ImperaError } from '../errors.js';

/** A fully resolved preprocessing: what `imageToInput` (preprocess.ts) applies to every image. */
export interface PreprocessSpec {
  /** stretch: bilinear to the target; pad: keep the ratio, fit inside, pad; crop: cover the target, centre crop; none: sizes must match. */
  resize: 'stretch' | 'pad' | 'crop' | 'none';
  /** Target width x height; undefined: the model's dims, dynamic ones from the data's first image. */
  size?: { width: number; height: number };
  /** Dynamic dims taken from the data are rounded up to a multiple of this (a detector's stride, e.g. 32). */
  multiple: number;
  /** crop: share of the resized shorter side kept (torchvision's 224/256 = 0.875); 1 resizes the shorter side to the target. */
  crop: number;
  /** pad: where the resized image sits, and the value (after normalisation) around it. */
  anchor: 'center' | 'topleft';
  pad: number;
  order: 'rgb' | 'bgr';
  layout: 'nchw' | 'nhwc';
  /** Pixels (0-255) times `scale`, then (x - mean[c]) / std[c]; one value is every channel's. */
  scale: number;
  mean: readonly number[];
  std: readonly number[];
  /** convert: gray copied to every channel, colour to luma for 1-channel models; copy: only the former; strict: neither. */
  gray: 'convert' | 'copy' | 'strict';
}

export const PRESETS = {
  /** As the zoo was trained: [0, 1], images must match the model unless resizing is asked for. */
  zoo: { resize: 'none', multiple: 1, crop: 1, anchor: 'center', pad: 0, order: 'rgb', layout: 'nchw', scale: 1 / 255, mean: [0], std: [1], gray: 'copy' },
  /** torchvision's ImageNet evaluation: shorter side to 256/224 of the target, centre crop, ImageNet mean/std. */
  imagenet: { resize: 'crop', multiple: 1, crop: 224 / 256, anchor: 'center', pad: 0, order: 'rgb', layout: 'nchw', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], gray: 'convert' },
} as const satisfies Record<string, PreprocessSpec>;

export type PresetName = keyof typeof PRESETS;

/** `1/255`, `0.5` or a number. */
const ratio = z.union([
  z.number(),
  z
    .string()
    .regex(/^\s*[-+]?[\d.]+(e[-+]?\d+)?\s*(\/\s*[\d.]+(e[-+]?\d+)?\s*)?$/i, 'must be a number or a fraction such as 1/255')
    .transform((s) => s.split('/').map(Number).reduce((a, b) => a / b)),
]);
const finite = ratio.refine((v) => Number.isFinite(v), 'must be a finite number');
const perChannel = z.union([finite.transform((v) => [v]), z.array(finite).min(1).max(4)]);
const size = z.union([
  z
    .string()
    .regex(/^\d+x\d+$/, 'must be WIDTHxHEIGHT, e.g. 640x640')
    .transform((s) => s.split('x').map(Number) as [number, number]),
  z.tuple([z.number().int(), z.number().int()]),
]);

/** What a user writes (scenario or compact string): a preset to start from and fields that override it. */
export const preprocessSchema = z
  .object({
    preset: z.enum(['zoo', 'imagenet']).optional(),
    resize: z.enum(['stretch', 'pad', 'crop', 'none']).optional(),
    size: size.refine(([w, h]) => w > 0 && h > 0, 'width and height must be positive').optional(),
    multiple: z.coerce.number().int().positive().optional(),
    crop: finite.refine((v) => v > 0 && v <= 1, 'must be in (0, 1]').optional(),
    anchor: z.enum(['center', 'topleft']).optional(),
    pad: finite.optional(),
    order: z.enum(['rgb', 'bgr']).optional(),
    layout: z.enum(['nchw', 'nhwc']).optional(),
    scale: finite.optional(),
    mean: perChannel.optional(),
    std: perChannel.refine((s) => s.every((v) => v !== 0), 'must not be 0').optional(),
    gray: z.enum(['convert', 'copy', 'strict']).optional(),
  })
  .strict();

export type PreprocessInput = z.input<typeof preprocessSchema>;

/** The compact syntax, for --help and error hints. */
export const COMPACT_SYNTAX =
  "zoo, imagenet, or KEY=VALUE pairs separated by commas, optionally after a preset: resize=stretch|pad|crop|none, size=WxH, multiple=N, crop=F, anchor=center|topleft, pad=V, order=rgb|bgr, layout=nchw|nhwc, scale=1/255, mean=M[,M,M], std=S[,S,S], gray=convert|copy|strict (e.g. resize=pad,size=640x640,mean=0.5,0.5,0.5,std=0.5,0.5,0.5)";

const KEYS = Object.keys(preprocessSchema.shape);

/**
 * `imagenet`, `resize=pad,size=640x640,mean=0.5,0.5,0.5`, or `zoo,order=bgr`: a leading bare word is a preset,
 * and a bare value after a key's value continues that key's list (mean and std take one value per channel).
 */
export function parseCompactPreprocess(text: string, where = '--preprocess'): PreprocessInput {
  const out: Record<string, string | string[]> = {};
  let last: string | undefined;
  text.split(',').map((t) => t.trim()).forEach((token, i) => {
    const eq = token.indexOf('=');
    if (eq < 0 && i === 0 && token in PRESETS) {
      out.preset = token;
      return;
    }
    if (eq < 0) {
      const prev = last === undefined ? undefined : out[last];
      if (last !== 'mean' && last !== 'std') throw bad(where, token === '' ? 'has an empty item' : `has '${token}' without a KEY=`, COMPACT_SYNTAX);
      out[last] = [...(Array.isArray(prev) ? prev : [prev!]), token];
      return;
    }
    const key = token.slice(0, eq).trim();
    if (!KEYS.includes(key) || key === 'preset') throw bad(where, `has an unknown field '${key}'`, `fields: ${KEYS.filter((k) => k !== 'preset').join(', ')}`);
    if (key in out) throw bad(where, `sets '${key}' twice`);
    out[key] = token.slice(eq + 1).trim();
    last = key;
  });
  return out as PreprocessInput;
}

function bad(where: string, what: string, hint = COMPACT_SYNTAX): ImperaError {
  return new ImperaError('BAD_ARGUMENT', `${where} ${what}`, hint);
}

/** Validate and resolve a preprocessing given as a preset name, a compact string or an object (a scenario's block). */
export function resolvePreprocess(given: string | PreprocessInput | undefined, where = '--preprocess'): PreprocessSpec {
  if (given === undefined) return PRESETS.zoo;
  const raw = typeof given === 'string' ? parseCompactPreprocess(given, where) : given;
  const parsed = preprocessSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    // a field that takes a string or a number reports the string's own complaint, not the union's "invalid input"
    const inner = first.code === 'invalid_union' ? first.errors.flat().find((i) => i.code !== 'invalid_type') : undefined;
    const issue = inner ? { ...inner, path: first.path } : first;
    const field = issue.path[0] === undefined ? '' : ` field '${String(issue.path[0])}'`;
    const value = issue.path[0] === undefined ? '' : ` ('${String((raw as Record<string, unknown>)[issue.path[0] as string])}')`;
    const message = issue.code === 'unrecognized_keys' ? `has an unknown field '${issue.keys[0]}'` : `${field.trim()}${value} ${issue.message.toLowerCase()}`;
    throw bad(where, message);
  }
  const { preset, size: wh, mean, std, ...fields } = parsed.data;
  const base: PreprocessSpec = PRESETS[preset ?? 'zoo'];
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  // a spec that says anything about geometry or values is not the zoo's strict default: resize and convert unless told
  const custom = preset === undefined && Object.keys(parsed.data).length > 0 ? { resize: 'stretch' as const, gray: 'convert' as const } : {};
  const spec: PreprocessSpec = {
    ...base,
    ...custom,
    ...defined,
    ...(wh ? { size: { width: wh[0], height: wh[1] } } : {}),
    ...(mean ? { mean } : {}),
    ...(std ? { std } : {}),
  };
  if (spec.mean.length !== spec.std.length && spec.mean.length > 1 && spec.std.length > 1) throw bad(where, `gives ${spec.mean.length} means and ${spec.std.length} stds`, 'give one value, or one per channel, for each');
  return spec;
}

/** One line naming a spec, for reports: the preset when it is one, else its fields. */
export function describePreprocess(spec: PreprocessSpec): string {
  const preset = (Object.keys(PRESETS) as PresetName[]).find((p) => JSON.stringify(PRESETS[p]) === JSON.stringify(spec));
  if (preset) return preset;
  const size = spec.size ? `,size=${spec.size.width}x${spec.size.height}` : '';
  const round = (v: number) => Number(v.toPrecision(6));
  return `resize=${spec.resize}${size},order=${spec.order},layout=${spec.layout},scale=${round(spec.scale)},mean=${spec.mean.map(round).join(',')},std=${spec.std.map(round).join(',')}`;
}
