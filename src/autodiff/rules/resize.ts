/**
 * Resize and Upsample over H and W (nearest or linear): y = A_h x A_w^T per image, with A the interpolation
 * matrix of each axis (ONNX's coordinate transformations and rounding, as ONNX Runtime computes them in float32),
 * so dx = A_h^T dy A_w: two MatMuls with constant matrices. Nearest upsampling that repeats each pixel in a block
 * (a feature pyramid's x2) is cheaper as a sum over blocks: an AveragePool times the block size.
 */
import { attrFloats, attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import { DataType } from '../../onnx/dtype.js';
import type { RuleList } from '../../onnx/op-table.js';
import type { GradContext, GradRule } from '../rule.js';

type Facts = Pick<GradContext, 'node' | 'opset' | 'facts' | 'x' | 'y'>;

interface Interpolation {
  mode: 'nearest' | 'linear';
  coordinates: string;
  rounding: string;
  /** Per spatial axis (H, W): input and output lengths and the scale the coordinates use. */
  axes: { from: number; to: number; scale: number }[];
}

const COORDINATES = new Set(['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn']);

const constantInput = (ctx: Facts, index: number): number[] | undefined => {
  const name = ctx.node.inputs[index];
  const values = name ? ctx.facts(name).value?.data : undefined;
  return values?.length ? [...values] : undefined;
};

/**
 * The scale per axis of x that the coordinates use, where the node fixes one: its scales (input or attribute, over
 * opset 18's `axes` when given), or the one scale of sizes kept to the aspect ratio (opset 18's
 * keep_aspect_ratio_policy); undefined for an axis whose output size alone sets it.
 */
function givenScales(ctx: Facts, rank: number): (number | undefined)[] {
  const p = ctx.node.proto;
  const modern = ctx.node.opType === 'Resize' && ctx.opset >= 11;
  const axes = (attrInts(p, 'axes') ?? [...Array(rank).keys()]).map((a) => (a < 0 ? a + rank : a));
  const perAxis = (values: readonly number[]) => Array.from({ length: rank }, (_, a) => (axes.includes(a) ? values[axes.indexOf(a)] : undefined));
  const scales = constantInput(ctx, modern ? 2 : 1) ?? attrFloats(p, 'scales');
  if (scales) return perAxis(scales);
  const policy = attrString(p, 'keep_aspect_ratio_policy', 'stretch');
  const sizes = modern ? constantInput(ctx, 3) : undefined;
  if (policy === 'stretch' || !sizes) return [];
  const x = ctx.facts(ctx.x(0)).shape;
  const ratios = axes.map((a, j) => sizes[j]! / x[a]!);
  return perAxis(axes.map(() => (policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios))));
}

/** What the node computes, or why it has no gradient rule. */
function interpolation(ctx: Facts): Interpolation | string {
  const p = ctx.node.proto;
  const op = ctx.node.opType;
  const mode = attrString(p, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') return `${op} in '${mode}' mode (nearest and linear have gradient rules)`;
  if (attrInt(p, 'antialias', 0)) return `${op} with antialias`;
  const [x, y] = [ctx.facts(ctx.x(0)).shape, ctx.facts(ctx.y(0)).shape];
  if (x.length !== 4 || x[0] !== y[0] || x[1] !== y[1]) return `${op} from [${x}] to [${y}] (only H and W of [N, C, H, W] have a gradient rule)`;
  const modern = op === 'Resize' && ctx.opset >= 11;
  const coordinates = modern ? attrString(p, 'coordinate_transformation_mode', 'half_pixel') : 'asymmetric';
  if (!COORDINATES.has(coordinates)) return `${op} with ${coordinates} coordinates`;
  const scales = givenScales(ctx, x.length);
  const axes = [2, 3].map((a) => ({ from: x[a]!, to: y[a]!, scale: scales[a] ?? y[a]! / x[a]! }));
  // before opset 11 nearest rounds down when upsampling and up when downsampling (ORT's "simple" mode)
  const rounding = modern ? attrString(p, 'nearest_mode', 'round_prefer_floor') : 'simple';
  return { mode: mode === 'nearest' ? 'nearest' : 'linear', coordinates, rounding, axes };
}

/** Where output position o reads from along an axis, in float32 as ONNX Runtime computes it. */
function sourceCoordinate(o: number, axis: Interpolation['axes'][number], coordinates: string): number {
  const f = Math.fround;
  const scale = f(axis.scale);
  switch (coordinates) {
    case 'half_pixel':
      return f(f(f(o + 0.5) / scale) - 0.5);
    case 'pytorch_half_pixel':
      return axis.to > 1 ? f(f(f(o + 0.5) / scale) - 0.5) : 0;
    case 'align_corners':
      return axis.to > 1 ? f(f(o * (axis.from - 1)) / (axis.to - 1)) : 0;
    case 'tf_half_pixel_for_nn':
      return f(f(o + 0.5) / scale);
    default: // asymmetric
      return f(o / scale);
  }
}

function nearestIndex(x: number, rounding: string, scale: number): number {
  switch (rounding) {
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'round_prefer_ceil':
      return Math.floor(x + 0.5);
    case 'simple':
      return scale < 1 ? Math.ceil(x) : Math.floor(x);
    default: // round_prefer_floor
      return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
  }
}

/** The interpolation matrix of one axis, [to, from] row-major: y = A x along that axis. */
function axisMatrix(spec: Interpolation, axis: Interpolation['axes'][number]): number[] {
  const a = new Array<number>(axis.to * axis.from).fill(0);
  const clamp = (i: number) => Math.min(axis.from - 1, Math.max(0, i));
  for (let o = 0; o < axis.to; o++) {
    const x = sourceCoordinate(o, axis, spec.coordinates);
    if (spec.mode === 'nearest') {
      a[o * axis.from + clamp(nearestIndex(x, spec.rounding, axis.scale))] = 1;
      continue;
    }
    const at = Math.min(axis.from - 1, Math.max(0, x));
    const lo = Math.floor(at);
    const w = at - lo;
    a[o * axis.from + lo]! += 1 - w;
    a[o * axis.from + clamp(lo + 1)]! += w;
  }
  return a;
}

/** Whole block sizes when every input pixel is repeated in its own block (nearest upsampling by whole factors). */
function blocks(spec: Interpolation, matrices: number[][]): number[] | undefined {
  if (spec.mode !== 'nearest') return undefined;
  const factors = spec.axes.map((a) => a.to / a.from);
  if (factors.some((f) => !Number.isInteger(f))) return undefined;
  const repeats = spec.axes.every((axis, k) => Array.from({ length: axis.to }, (_, o) => matrices[k]![o * axis.from + Math.floor(o / factors[k]!)] === 1).every(Boolean));
  return repeats ? factors : undefined;
}

const resize: GradRule = {
  unsupported: (ctx) => {
    const spec = interpolation(ctx);
    return typeof spec === 'string' ? spec : undefined;
  },
  grad: (ctx) => {
    if (!ctx.needs(0)) return [undefined];
    const e = ctx.emit;
    const spec = interpolation(ctx) as Interpolation;
    const [h, w] = spec.axes.map((axis) => axisMatrix(spec, axis)) as [number[], number[]];
    const dy = ctx.dy()!;
    const block = blocks(spec, [h, w]);
    if (block) return [e.mul(e.op('AveragePool', [dy], { kernel_shape: block, strides: block }), e.scalar(block[0]! * block[1]!))];
    const [ah, aw] = spec.axes;
    const hT = Array.from({ length: ah!.from * ah!.to }, (_, k) => h[(k % ah!.to) * ah!.from + Math.floor(k / ah!.to)]!);
    const alongW = e.op('MatMul', [dy, e.constant(DataType.FLOAT, [aw!.to, aw!.from], w)]);
    return [e.op('MatMul', [e.constant(DataType.FLOAT, [ah!.from, ah!.to], hT), alongW])];
  },
};

/** The gradient rules of this family, listed in registry.ts. */
export const resizeGradients: RuleList<GradRule> = [[['Resize', 'Upsample'], resize]];
