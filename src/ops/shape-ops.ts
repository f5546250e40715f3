/**
 * Ops that move or reshape data without arithmetic (0 FLOPs): Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
 * Transpose, Concat, Split, Slice, Gather*, Expand, Tile, Pad, DepthToSpace, SpaceToDepth, Scatter*, Trilu.
 * The ones that appear in shape computations (Shape -> Gather -> Concat -> Reshape chains) also fold values.
 */
import { attrInt, attrInts, attrString } from '../onnx/attributes.js';
import { DataType, numel } from '../onnx/dtype.js';
import { broadcastShapes, mapBroadcast } from './broadcast.js';
import { knownValues } from './elementwise.js';
import type { RuleList } from '../onnx/op-table.js';
import { badNode, NeedsValueError, normAxis, type ConstValue, type OpContext, type OpRule, type TensorInfo } from './types.js';

const free = () => ({ macs: 0, flops: 0 });
const info = (dtype: DataType, shape: number[]): TensorInfo => ({ dtype, shape });

/** Row-major strides. */
const stridesOf = (dims: readonly number[]) => dims.map((_, i) => numel(dims.slice(i + 1)));

/** Gather values of `x` at the coordinates produced for each output element. */
function remap(x: ConstValue, outDims: number[], source: (coord: number[]) => number): ConstValue {
  const n = numel(outDims);
  const data = new Array<number>(n);
  const coord = new Array<number>(outDims.length).fill(0);
  for (let k = 0; k < n; k++) {
    data[k] = x.data[source(coord)]!;
    for (let d = coord.length - 1; d >= 0; d--) {
      if (++coord[d]! < outDims[d]!) break;
      coord[d] = 0;
    }
  }
  return { dtype: x.dtype, dims: outDims, data };
}

const input0 = (ctx: OpContext): ConstValue => {
  const v = ctx.value(0);
  if (!v) throw new NeedsValueError();
  return v;
};

/** A rule whose output is input 0's data under a new shape. */
function reshaping(shapeOf: (ctx: OpContext) => number[]): OpRule {
  return {
    infer: (ctx) => [info(ctx.input(0).dtype, shapeOf(ctx))],
    evaluate: (ctx) => [{ ...input0(ctx), dims: shapeOf(ctx) }],
    cost: free,
  };
}

function shapeSlice(ctx: OpContext): number[] {
  const s = ctx.input(0).shape;
  const r = s.length;
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  return s.slice(clamp(attrInt(ctx.node.proto, 'start', 0)), clamp(attrInt(ctx.node.proto, 'end', r)));
}

/** Axes from input 1 (opset >= 13) or the `axes` attribute. */
function axesArg(ctx: OpContext): number[] | undefined {
  if (ctx.node.inputs.length > 1 && ctx.node.inputs[1] !== '') return ctx.requireValue(1, 'axes');
  return attrInts(ctx.node.proto, 'axes');
}

function perm(ctx: OpContext): number[] {
  const r = ctx.input(0).shape.length;
  const p = attrInts(ctx.node.proto, 'perm') ?? [...Array(r).keys()].reverse();
  if (p.length !== r || new Set(p).size !== r || p.some((a) => a < 0 || a >= r)) throw badNode(ctx, `perm [${p}] is not a permutation of ${r} axes`);
  return p;
}

function concatAxis(ctx: OpContext): number {
  return normAxis(attrInt(ctx.node.proto, 'axis', 0), ctx.input(0).shape.length, ctx);
}

function splitSizes(ctx: OpContext): { axis: number; sizes: number[] } {
  const x = ctx.input(0).shape;
  const axis = normAxis(attrInt(ctx.node.proto, 'axis', 0), x.length, ctx);
  const d = x[axis]!;
  const n = ctx.node.outputs.length;
  const given = ctx.node.inputs.length > 1 && ctx.node.inputs[1] !== '' ? ctx.requireValue(1, 'split') : attrInts(ctx.node.proto, 'split');
  if (given) {
    if (given.length !== n || given.reduce((a, b) => a + b, 0) !== d) throw badNode(ctx, `split [${given}] does not divide axis ${axis} of size ${d} into ${n} outputs`);
    return { axis, sizes: given };
  }
  if (ctx.opset < 18 && d % n !== 0) throw badNode(ctx, `axis ${axis} of size ${d} does not split evenly into ${n} outputs`);
  const chunk = Math.ceil(d / n); // opset 18: the last chunk may be smaller
  return { axis, sizes: [...Array(n).keys()].map((i) => Math.max(0, Math.min(chunk, d - i * chunk))) };
}

/** Per-axis start, step and count of a Slice, clamped as the ONNX spec says. */
function sliceSpec(ctx: OpContext): { start: number[]; step: number[]; count: number[] } {
  const x = ctx.input(0).shape;
  const fromInputs = ctx.node.inputs.length > 1;
  const opt = (i: number) => (ctx.node.inputs.length > i && ctx.node.inputs[i] !== '' ? ctx.requireValue(i, ['', 'starts', 'ends', 'axes', 'steps'][i]!) : undefined);
  const starts = fromInputs ? opt(1) : attrInts(ctx.node.proto, 'starts');
  const ends = fromInputs ? opt(2) : attrInts(ctx.node.proto, 'ends');
  if (!starts || !ends) throw badNode(ctx, 'it has no starts or no ends');
  const axes = (fromInputs ? opt(3) : attrInts(ctx.node.proto, 'axes')) ?? starts.map((_, i) => i);
  const steps = (fromInputs ? opt(4) : undefined) ?? starts.map(() => 1);
  const start = x.map(() => 0);
  const step = x.map(() => 1);
  const count = [...x];
  axes.forEach((a0, j) => {
    const a = normAxis(a0, x.length, ctx);
    const d = x[a]!;
    const s = steps[j]!;
    if (s === 0) throw badNode(ctx, 'slice step 0 is not allowed');
    let b = starts[j]! < 0 ? starts[j]! + d : starts[j]!;
    let e = ends[j]! < 0 ? ends[j]! + d : ends[j]!;
    if (s > 0) {
      b = Math.min(d, Math.max(0, b));
      e = Math.min(d, Math.max(0, e));
    } else {
      b = Math.min(d - 1, Math.max(-1, b));
      e = Math.min(d - 1, Math.max(-1, e));
    }
    start[a] = b;
    step[a] = s;
    count[a] = Math.max(0, Math.ceil((e - b) / s));
  });
  return { start, step, count };
}

function blockRearrange(toSpace: boolean): OpRule {
  return {
    infer: (ctx) => {
      const [n, c, h, w] = ctx.input(0).shape as [number, number, number, number];
      const b = attrInt(ctx.node.proto, 'blocksize', 1);
      return [info(ctx.input(0).dtype, toSpace ? [n, c / (b * b), h * b, w * b] : [n, c * b * b, h / b, w / b])];
    },
    cost: free,
  };
}

/** Output shape of Resize (opset 10-19) and Upsample: from `sizes`, else floor(input x scales). */
function resizeShape(ctx: OpContext): number[] {
  const x = ctx.input(0).shape;
  const n = ctx.node.inputs.length;
  const present = (i: number) => n > i && ctx.node.inputs[i] !== '' && (ctx.inputs[i] ? numel(ctx.inputs[i]!.shape) : 0) > 0;
  const isResize = ctx.node.opType === 'Resize';
  const axes = (attrInts(ctx.node.proto, 'axes') ?? [...x.keys()]).map((a) => normAxis(a, x.length, ctx));
  const out = [...x];
  if (isResize && ctx.opset >= 11 && present(3)) {
    const sizes = ctx.requireValue(3, 'sizes');
    const policy = attrString(ctx.node.proto, 'keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') {
      axes.forEach((a, j) => (out[a] = sizes[j]!));
      return out;
    }
    // opset 18: one scale for every listed axis, the largest that fits inside `sizes` or the smallest that covers them
    const ratios = axes.map((a, j) => sizes[j]! / x[a]!);
    const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
    axes.forEach((a) => (out[a] = Math.floor(scale * x[a]! + 0.5)));
    return out;
  }
  const scalesIndex = isResize ? (ctx.opset >= 11 ? 2 : 1) : 1;
  const scales = n > scalesIndex && present(scalesIndex) ? ctx.requireValue(scalesIndex, 'scales') : attrFloatsScales(ctx);
  if (!scales) throw badNode(ctx, 'neither scales nor sizes are given');
  axes.forEach((a, j) => (out[a] = Math.floor(x[a]! * scales[j]!)));
  return out;
}

function attrFloatsScales(ctx: OpContext): number[] | undefined {
  const a = ctx.node.proto.attribute?.find((at) => at.name === 'scales');
  return a ? [...(a.floats ?? [])] : undefined;
}

/** The rules of this family, listed in registry.ts. */
export const shapeRules: RuleList<OpRule> = [
  ['Shape', {
    infer: (ctx) => [info(DataType.INT64, [shapeSlice(ctx).length])],
    evaluate: (ctx) => [{ dtype: DataType.INT64, dims: [shapeSlice(ctx).length], data: shapeSlice(ctx) }],
    cost: free,
  }],
  ['Size', {
    infer: () => [info(DataType.INT64, [])],
    evaluate: (ctx) => [{ dtype: DataType.INT64, dims: [], data: [numel(ctx.input(0).shape)] }],
    cost: free,
  }],
  ['Reshape', reshaping((ctx) => {
      const x = ctx.input(0).shape;
      const target = ctx.requireValue(1, 'target shape');
      const allowZero = attrInt(ctx.node.proto, 'allowzero', 0) === 1;
      const out = target.map((d, i) => (d === 0 && !allowZero ? x[i]! : d));
      const known = numel(out.filter((d) => d !== -1));
      const n = numel(x);
      if (out.filter((d) => d === -1).length > 1) throw badNode(ctx, `target shape [${target}] has more than one -1`);
      const result = out.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
      if (numel(result) !== n || !result.every(Number.isInteger)) throw badNode(ctx, `cannot reshape [${x}] (${n} elements) to [${target}]`);
      return result;
    })],
  ['Flatten', reshaping((ctx) => {
      const x = ctx.input(0).shape;
      const axis = attrInt(ctx.node.proto, 'axis', 1);
      const a = axis < 0 ? axis + x.length : axis;
      if (a < 0 || a > x.length) throw badNode(ctx, `axis ${axis} is out of range for rank ${x.length}`);
      return [numel(x.slice(0, a)), numel(x.slice(a))];
    })],
  ['Squeeze', reshaping((ctx) => {
      const x = ctx.input(0).shape;
      const axes = axesArg(ctx)?.map((a) => normAxis(a, x.length, ctx));
      if (axes?.some((a) => x[a] !== 1)) throw badNode(ctx, `cannot squeeze axes [${axes}] of shape [${x}]: they are not 1`);
      return x.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
    })],
  ['Unsqueeze', reshaping((ctx) => {
      const x = ctx.input(0).shape;
      const raw = axesArg(ctx);
      if (!raw) throw badNode(ctx, 'axes are required');
      const rank = x.length + raw.length;
      const axes = new Set(raw.map((a) => normAxis(a, rank, ctx)));
      const rest = [...x];
      return [...Array(rank).keys()].map((i) => (axes.has(i) ? 1 : rest.shift()!));
    })],
  ['Transpose', {
    infer: (ctx) => [info(ctx.input(0).dtype, perm(ctx).map((a) => ctx.input(0).shape[a]!))],
    evaluate: (ctx) => {
      const x = input0(ctx);
      const p = perm(ctx);
      const st = stridesOf(x.dims);
      return [remap(x, p.map((a) => x.dims[a]!), (c) => c.reduce((s, v, i) => s + v * st[p[i]!]!, 0))];
    },
    cost: free,
  }],
  ['Concat', {
    infer: (ctx) => {
      const axis = concatAxis(ctx);
      const shapes = ctx.inputs.map((_, i) => ctx.input(i).shape);
      const out = [...shapes[0]!];
      for (const s of shapes.slice(1)) {
        if (s.length !== out.length || s.some((d, i) => i !== axis && d !== out[i])) throw badNode(ctx, `inputs [${shapes.join('], [')}] differ outside axis ${axis}`);
        out[axis]! += s[axis]!;
      }
      return [info(ctx.input(0).dtype, out)];
    },
    evaluate: (ctx) => {
      const axis = concatAxis(ctx);
      const vals = knownValues(ctx);
      const outer = numel(vals[0]!.dims.slice(0, axis));
      const data: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const v of vals) {
          const chunk = numel(v.dims.slice(axis));
          data.push(...v.data.slice(o * chunk, (o + 1) * chunk));
        }
      }
      const dims = [...vals[0]!.dims];
      dims[axis] = vals.reduce((s, v) => s + v.dims[axis]!, 0);
      return [{ dtype: vals[0]!.dtype, dims, data }];
    },
    cost: free,
  }],
  ['Split', {
    infer: (ctx) => {
      const { axis, sizes } = splitSizes(ctx);
      return sizes.map((s) => info(ctx.input(0).dtype, ctx.input(0).shape.map((d, i) => (i === axis ? s : d))));
    },
    evaluate: (ctx) => {
      const x = input0(ctx);
      const { axis, sizes } = splitSizes(ctx);
      const st = stridesOf(x.dims);
      let start = 0;
      return sizes.map((s) => {
        const off = start;
        start += s;
        return remap(x, x.dims.map((d, i) => (i === axis ? s : d)), (c) => c.reduce((acc, v, i) => acc + (i === axis ? v + off : v) * st[i]!, 0));
      });
    },
    cost: free,
  }],
  ['Slice', {
    infer: (ctx) => [info(ctx.input(0).dtype, sliceSpec(ctx).count)],
    evaluate: (ctx) => {
      const x = input0(ctx);
      const { start, step, count } = sliceSpec(ctx);
      const st = stridesOf(x.dims);
      return [remap(x, count, (c) => c.reduce((s, v, i) => s + (start[i]! + v * step[i]!) * st[i]!, 0))];
    },
    cost: free,
  }],
  ['Gather', {
    infer: (ctx) => {
      const x = ctx.input(0).shape;
      const axis = normAxis(attrInt(ctx.node.proto, 'axis', 0), x.length, ctx);
      return [info(ctx.input(0).dtype, [...x.slice(0, axis), ...ctx.input(1).shape, ...x.slice(axis + 1)])];
    },
    evaluate: (ctx) => {
      const [x, idx] = knownValues(ctx) as [ConstValue, ConstValue];
      const axis = normAxis(attrInt(ctx.node.proto, 'axis', 0), x.dims.length, ctx);
      const d = x.dims[axis]!;
      const st = stridesOf(x.dims);
      const outDims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      const ist = stridesOf(idx.dims);
      const k = idx.dims.length;
      return [
        remap(x, outDims, (c) => {
          const flat = c.slice(axis, axis + k).reduce((s, v, i) => s + v * ist[i]!, 0);
          let j = idx.data[flat]!;
          if (j < 0) j += d;
          if (j < 0 || j >= d) throw badNode(ctx, `index ${idx.data[flat]} is out of range for axis of size ${d}`);
          const src = [...c.slice(0, axis), j, ...c.slice(axis + k)];
          return src.reduce((s, v, i) => s + v * st[i]!, 0);
        }),
      ];
    },
    cost: free,
  }],
  ['GatherElements', { infer: (ctx) => [info(ctx.input(0).dtype, [...ctx.input(1).shape])], cost: free }],
  ['GatherND', {
    infer: (ctx) => {
      const data = ctx.input(0).shape;
      const idx = ctx.input(1).shape;
      const batch = attrInt(ctx.node.proto, 'batch_dims', 0);
      return [info(ctx.input(0).dtype, [...idx.slice(0, -1), ...data.slice(batch + idx[idx.length - 1]!)])];
    },
    cost: free,
  }],
  [['ScatterND', 'ScatterElements', 'Scatter', 'Trilu', 'ReverseSequence'], { infer: (ctx) => [info(ctx.input(0).dtype, [...ctx.input(0).shape])], cost: free }],
  ['Expand', {
    infer: (ctx) => [info(ctx.input(0).dtype, broadcastShapes([ctx.input(0).shape, ctx.requireValue(1, 'shape')], ctx))],
    evaluate: (ctx) => {
      const x = input0(ctx);
      const shape = broadcastShapes([x.dims, ctx.requireValue(1, 'shape')], ctx);
      return [{ dtype: x.dtype, dims: shape, data: mapBroadcast([x], shape, (v) => v) }];
    },
    cost: free,
  }],
  ['Tile', {
    infer: (ctx) => {
      const reps = ctx.requireValue(1, 'repeats');
      return [info(ctx.input(0).dtype, ctx.input(0).shape.map((d, i) => d * reps[i]!))];
    },
    evaluate: (ctx) => {
      const x = input0(ctx);
      const reps = ctx.requireValue(1, 'repeats');
      const st = stridesOf(x.dims);
      return [remap(x, x.dims.map((d, i) => d * reps[i]!), (c) => c.reduce((s, v, i) => s + (v % x.dims[i]!) * st[i]!, 0))];
    },
    cost: free,
  }],
  ['Pad', {
    infer: (ctx) => {
      const x = ctx.input(0).shape;
      const r = x.length;
      const pads = ctx.node.inputs.length > 1 ? ctx.requireValue(1, 'pads') : (attrInts(ctx.node.proto, 'pads') ?? []);
      const axes = (ctx.node.inputs.length > 3 && ctx.node.inputs[3] !== '' ? ctx.requireValue(3, 'axes') : [...Array(r).keys()]).map((a) => normAxis(a, r, ctx));
      if (pads.length !== 2 * axes.length) throw badNode(ctx, `pads [${pads}] must have 2 x ${axes.length} entries`);
      const out = [...x];
      axes.forEach((a, j) => (out[a] = x[a]! + pads[j]! + pads[j + axes.length]!));
      return [info(ctx.input(0).dtype, out)];
    },
    cost: free,
  }],
  ['DepthToSpace', blockRearrange(true)],
  ['SpaceToDepth', blockRearrange(false)],
  ['Resize', {
    infer: (ctx) => [info(ctx.input(0).dtype, resizeShape(ctx))],
    cost: (ctx, [y]) => {
      const mode = attrString(ctx.node.proto, 'mode', 'nearest');
      const spatial = ctx.input(0).shape.filter((d, i) => d !== y!.shape[i]).length;
      const taps = mode === 'nearest' ? 0 : mode === 'cubic' ? 4 ** spatial : 2 ** spatial;
      return { macs: 0, flops: 2 * taps * numel(y!.shape) };
    },
  }],
  ['Upsample', {
    infer: (ctx) => [info(ctx.input(0).dtype, resizeShape(ctx))],
    cost: (_ctx, [y]) => ({ macs: 0, flops: numel(y!.shape) }),
  }],
  ['TopK', {
    infer: (ctx) => {
      const x = ctx.input(0);
      const axis = normAxis(attrInt(ctx.node.proto, 'axis', -1), x.shape.length, ctx);
      const k = ctx.node.inputs.length > 1 ? ctx.requireValue(1, 'k')[0]! : attrInt(ctx.node.proto, 'k', 1);
      const shape = x.shape.map((d, i) => (i === axis ? k : d));
      return [info(x.dtype, shape), info(DataType.INT64, [...shape])];
    },
    cost: (ctx) => ({ macs: 0, flops: numel(ctx.input(0).shape) }),
  }],
  ['CumSum', { infer: (ctx) => [info(ctx.input(0).dtype, [...ctx.input(0).shape])], cost: (ctx) => ({ macs: 0, flops: numel(ctx.input(0).shape) }) }],
  ['OneHot', {
    infer: (ctx) => {
      const idx = ctx.input(0).shape;
      const depth = ctx.requireValue(1, 'depth')[0]!;
      const axis = attrInt(ctx.node.proto, 'axis', -1);
      const a = axis < 0 ? axis + idx.length + 1 : axis;
      return [info(ctx.input(2).dtype, [...idx.slice(0, a), depth, ...idx.slice(a)])];
    },
    cost: free,
  }],
];
