/**
 * Ops that move data (Reshape family, Transpose, Concat, Split, Slice, Gather, Expand, Pad) and reductions. Their
 * gradients move dy back; where the backward op needs sizes (Split sizes, Pad amounts) they are constants of the
 * shapes, so the axes involved must not follow the batch.
 */
import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import type { RuleList } from '../../onnx/op-table.js';
import { axisOf, type GradContext, type GradRule } from '../rule.js';

const INT64_MAX = 2 ** 62; // large enough for Slice ends, exact in a double

/** Value of a constant input, or undefined when it is computed at run time. */
const constantInput = (ctx: Pick<GradContext, 'node' | 'facts'>, i: number): number[] | undefined =>
  ctx.node.inputs[i] ? ctx.facts(ctx.node.inputs[i]!).value?.data : undefined;

const followsBatch = (ctx: Pick<GradContext, 'facts'>, name: string, axis: number) => (ctx.facts(name).batchScale?.[axis] ?? 0) !== 0;

const reshapeBack: GradRule = { grad: (ctx) => [ctx.needs(0) ? ctx.emit.reshapeLike(ctx.dy()!, ctx.x(0)) : undefined] };

function splitNode(ctx: GradContext, x: string, sizes: number[], axis: number): string[] {
  const e = ctx.emit;
  return ctx.opset >= 13 ? e.node('Split', [x, e.ints(sizes)], { axis }, { outputs: sizes.length }) : e.node('Split', [x], { axis, split: sizes }, { outputs: sizes.length });
}

/**
 * A scatter-add of `dy` [.., M, ..] into zeros shaped like `like` at the M indices `flatIdx` along `axis`, where
 * indices may repeat and ScatterElements cannot add (opset < 16): dy moved to [M, R] and multiplied by the one-hot
 * [M, D] of the indices, transposed; row d of the product sums the rows of dy that index d (a detector's boxes
 * gathered by TopK or NMS indices, which no constant says are distinct).
 */
function oneHotScatter(ctx: GradContext, like: string, rank: number, flatIdx: string, dy: string, axis: number): string {
  const e = ctx.emit;
  const perm = [axis, ...[...Array(rank).keys()].filter((i) => i !== axis)];
  const moved = e.op('Transpose', [dy], { perm });
  const depth = e.slice(e.shapeOf(like), [axis], [axis + 1], [0]);
  const oneHot = e.op('OneHot', [flatIdx, depth, e.constant(ctx.facts(ctx.x(0)).dtype, [2], [0, 1])], { axis: -1 });
  const rows = e.op('MatMul', [e.op('Transpose', [oneHot], { perm: [1, 0] }), e.op('Flatten', [moved], { axis: 1 })]);
  const shape = e.op('Concat', [depth, e.slice(e.shapeOf(moved), [1], [INT64_MAX], [0])], { axis: 0 });
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return e.op('Transpose', [e.op('Reshape', [rows, shape])], { perm: inverse });
}

/**
 * GatherND's gradient below opset 16 (ScatterND adds from 16): its k-tuples of indices into data's first k dims
 * as one index into those dims flattened (negative ones wrapped), then a one-hot scatter along that axis.
 */
function gatherNdScatter(ctx: GradContext, k: number): string {
  const e = ctx.emit;
  const shape = e.shapeOf(ctx.x(0));
  const lead = (j: number) => e.op('Gather', [shape, e.ints([j])], { axis: 0 });
  const column = (j: number) => {
    const i = e.op('Gather', [ctx.x(1), e.ints([j])], { axis: -1 });
    return e.where(e.op('Less', [i, e.ints([0])]), e.add(i, lead(j)), i);
  };
  let flat = column(0);
  for (let j = 1; j < k; j++) flat = e.add(e.mul(flat, lead(j)), column(j));
  const rest = e.slice(shape, [k], [INT64_MAX], [0]);
  const rows = e.op('Concat', [e.ints([-1]), rest], { axis: 0 });
  const like = e.op('Reshape', [e.zerosLike(ctx.x(0)), rows]);
  const dy = e.op('Reshape', [ctx.dy()!, rows]);
  const rank = ctx.facts(ctx.x(0)).shape.length - k + 1;
  return e.op('Reshape', [oneHotScatter(ctx, like, rank, e.op('Reshape', [flat, e.ints([-1])]), dy, 0), shape]);
}

/** Ends at least this large take an axis to its end whatever its size (PyTorch writes INT64_MAX, tf2onnx INT32_MAX). */
const OPEN_END = 2 ** 31 - 1;

/**
 * Per sliced axis: where the slice starts, how many elements it takes, its step (ONNX clamping), and whether it
 * takes the whole axis at any size (start 0, an open end, step 1: PyTorch's `x[:, ...]` on the batch).
 */
function sliceAxes(ctx: Pick<GradContext, 'node' | 'facts' | 'x' | 'opset'>): { axis: number; start: number; count: number; step: number; whole: boolean }[] | string {
  const shape = ctx.facts(ctx.x(0)).shape;
  const fromInputs = ctx.node.inputs.length > 1;
  const starts = fromInputs ? constantInput(ctx, 1) : attrInts(ctx.node.proto, 'starts');
  const ends = fromInputs ? constantInput(ctx, 2) : attrInts(ctx.node.proto, 'ends');
  if (!starts || !ends) return 'Slice with bounds computed at run time';
  const axes = (fromInputs ? constantInput(ctx, 3) : attrInts(ctx.node.proto, 'axes')) ?? starts.map((_, i) => i);
  const steps = (fromInputs ? constantInput(ctx, 4) : undefined) ?? starts.map(() => 1);
  return axes.map((a0, j) => {
    const axis = axisOf(a0, shape.length);
    const d = shape[axis]!;
    const step = steps[j]!;
    const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v < 0 ? v + d : v));
    const [lo, hi] = step > 0 ? [0, d] : [-1, d - 1];
    const start = clamp(starts[j]!, lo, step > 0 ? d : d - 1);
    const end = clamp(ends[j]!, lo, hi);
    return { axis, start, step, count: Math.max(0, Math.ceil((end - start) / step)), whole: starts[j] === 0 && ends[j]! >= OPEN_END && step === 1 };
  });
}

function padNode(ctx: GradContext, x: string, begin: number[], end: number[]): string {
  const e = ctx.emit;
  return ctx.opset >= 11 ? e.op('Pad', [x, e.ints([...begin, ...end])]) : e.op('Pad', [x], { pads: [...begin, ...end] });
}

/** Reduced axes of a reduction (ReduceSum, ReduceMean, ReduceMax, ReduceMin), or 'none' when the node is the identity. */
function reducedAxes(ctx: Pick<GradContext, 'node' | 'facts' | 'x'>): number[] | 'none' | undefined {
  const rank = ctx.facts(ctx.x(0)).shape.length;
  const given = ctx.node.inputs[1] ? constantInput(ctx, 1) : (attrInts(ctx.node.proto, 'axes') ?? []);
  if (!given) return undefined;
  if (given.length === 0) return attrInt(ctx.node.proto, 'noop_with_empty_axes', 0) ? 'none' : [...Array(rank).keys()];
  return [...new Set(given.map((a) => axisOf(a, rank)))].sort((a, b) => a - b);
}

/**
 * A Pad's begin and end amounts for every axis ([b0, b1, ..., e0, e1, ...]); opset 18's axes input pads only the
 * axes it lists. Undefined when the amounts or axes are computed at run time.
 */
function padAmounts(ctx: Pick<GradContext, 'node' | 'opset' | 'facts' | 'x'>): number[] | undefined {
  const pads = ctx.opset >= 11 ? constantInput(ctx, 1) : attrInts(ctx.node.proto, 'pads');
  if (!pads || !ctx.node.inputs[3]) return pads;
  const listed = constantInput(ctx, 3);
  if (!listed) return undefined;
  const rank = ctx.facts(ctx.x(0)).shape.length;
  const full = new Array<number>(2 * rank).fill(0);
  listed.forEach((a, j) => {
    const axis = axisOf(a, rank);
    full[axis] = pads[j]!;
    full[axis + rank] = pads[j + listed.length]!;
  });
  return full;
}

function reduceRule(mean: boolean): GradRule {
  return {
    unsupported: (ctx) => {
      const axes = reducedAxes(ctx);
      if (!axes) return 'a reduction over axes computed at run time';
      if (mean && axes !== 'none' && axes.some((a) => followsBatch(ctx, ctx.x(0), a))) return 'ReduceMean over the batch axis';
      return undefined;
    },
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const axes = reducedAxes(ctx)!;
      if (axes === 'none') return [ctx.dy()!, undefined];
      let dy = ctx.dy()!;
      if (!attrInt(ctx.node.proto, 'keepdims', 1)) dy = e.unsqueeze(dy, axes);
      if (mean) dy = e.mul(dy, e.scalar(1 / axes.reduce((n, a) => n * ctx.facts(ctx.x(0)).shape[a]!, 1)));
      return [e.expandLike(dy, ctx.x(0)), undefined];
    },
  };
}

/**
 * ReduceMax / ReduceMin: dy goes to the elements equal to the extreme, shared evenly among ties (PyTorch's amax and
 * amin); a detector's best class score per anchor. Ties are found with Less / Greater, which take floats at every opset.
 */
function extremeRule(max: boolean): GradRule {
  return {
    unsupported: (ctx) => (reducedAxes(ctx) ? undefined : 'a reduction over axes computed at run time'),
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const axes = reducedAxes(ctx)!;
      if (axes === 'none') return [ctx.dy()!, undefined];
      const keep = attrInt(ctx.node.proto, 'keepdims', 1) !== 0;
      const [y, dy] = keep ? [ctx.y(0), ctx.dy()!] : [e.unsqueeze(ctx.y(0), axes), e.unsqueeze(ctx.dy()!, axes)];
      const beyond = e.op(max ? 'Less' : 'Greater', [ctx.x(0), y]);
      const hits = e.op('Cast', [e.op('Not', [beyond])], { to: ctx.facts(ctx.x(0)).dtype });
      return [e.mul(hits, e.op('Div', [dy, e.reduceSum(hits, axes, true)])), undefined];
    },
  };
}

/** The gradient rules of this family, listed in registry.ts. */
export const shapeGradients: RuleList<GradRule> = [
  [['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze'], reshapeBack],
  ['Transpose', {
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const rank = ctx.facts(ctx.x(0)).shape.length;
      const perm = attrInts(ctx.node.proto, 'perm') ?? [...Array(rank).keys()].reverse();
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return [ctx.emit.op('Transpose', [ctx.dy()!], { perm: inverse })];
    },
  }],
  ['Concat', {
    unsupported: (ctx) => {
      const axis = axisOf(attrInt(ctx.node.proto, 'axis', 0), ctx.facts(ctx.x(0)).shape.length);
      return ctx.node.inputs.some((n) => followsBatch(ctx, n, axis)) ? 'Concat along the batch axis' : undefined;
    },
    grad: (ctx) => {
      const axis = axisOf(attrInt(ctx.node.proto, 'axis', 0), ctx.facts(ctx.x(0)).shape.length);
      const sizes = ctx.node.inputs.map((n) => ctx.facts(n).shape[axis]!);
      const parts = splitNode(ctx, ctx.dy()!, sizes, axis);
      return parts.map((p, i) => (ctx.needs(i) ? p : undefined));
    },
  }],
  ['Split', {
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const axis = axisOf(attrInt(ctx.node.proto, 'axis', 0), ctx.facts(ctx.x(0)).shape.length);
      const pieces = ctx.node.outputs.map((o, k) => ctx.dy(k) ?? e.zerosLike(o));
      return [e.op('Concat', pieces, { axis })];
    },
  }],
  ['Slice', {
    unsupported: (ctx) => {
      const spec = sliceAxes(ctx);
      if (typeof spec === 'string') return spec;
      if (spec.some((s) => Math.abs(s.step) !== 1)) return 'Slice with a step other than 1 or -1';
      if (spec.some((s) => !s.whole && followsBatch(ctx, ctx.x(0), s.axis))) return 'Slice along the batch axis';
      return undefined;
    },
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const shape = ctx.facts(ctx.x(0)).shape;
      const spec = sliceAxes(ctx) as Exclude<ReturnType<typeof sliceAxes>, string>;
      let dy = ctx.dy()!;
      const begin = shape.map(() => 0);
      const end = shape.map(() => 0);
      for (const s of spec) {
        if (s.step < 0) dy = e.slice(dy, [-1], [-INT64_MAX], [s.axis], [-1]); // put the elements back in order
        const first = s.step > 0 ? s.start : s.start - s.count + 1;
        begin[s.axis] = first;
        end[s.axis] = shape[s.axis]! - first - s.count;
      }
      return [padNode(ctx, dy, begin, end)];
    },
  }],
  ['Gather', {
    // a scatter exists from opset 9 (repeated indices add up with reduction 'add' from 16; before, a one-hot product)
    opsetNeeded: () => 9,
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const e = ctx.emit;
      const data = ctx.facts(ctx.x(0));
      const axis = axisOf(attrInt(ctx.node.proto, 'axis', 0), data.shape.length);
      const indexRank = ctx.facts(ctx.x(1)).shape.length;
      // flatten the indices to one axis so dy has data's rank, then scatter-add along `axis`
      const flatIdx = e.op('Reshape', [ctx.x(1), e.ints([-1])]);
      const before = e.slice(e.shapeOf(ctx.y(0)), [0], [axis], [0]);
      const after = e.slice(e.shapeOf(ctx.y(0)), [axis + indexRank], [INT64_MAX], [0]);
      const dy = e.op('Reshape', [ctx.dy()!, e.op('Concat', [before, e.ints([-1]), after], { axis: 0 })]);
      const indices = constantInput(ctx, 1);
      if (ctx.opset < 16 && !(indices && new Set(indices).size === indices.length)) return [oneHotScatter(ctx, ctx.x(0), data.shape.length, flatIdx, dy, axis), undefined];
      const idxShape = [...Array(data.shape.length).keys()].map((i) => (i === axis ? -1 : 1));
      const idx = e.op('Expand', [e.op('Reshape', [flatIdx, e.ints(idxShape)]), e.shapeOf(dy)]);
      return [e.scatterAdd(e.zerosLike(ctx.x(0)), idx, dy, axis), undefined];
    },
  }],
  ['GatherND', {
    // a detector's boxes[mask] (NonZero + GatherND); ScatterND adds repeated indices from opset 16, a one-hot product before
    unsupported: (ctx) => (attrInt(ctx.node.proto, 'batch_dims', 0) !== 0 ? 'GatherND with batch_dims has no gradient rule' : undefined),
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const k = ctx.facts(ctx.x(1)).shape.at(-1)!;
      if (ctx.opset < 16) return [gatherNdScatter(ctx, k), undefined];
      return [ctx.emit.op('ScatterND', [ctx.emit.zerosLike(ctx.x(0)), ctx.x(1), ctx.dy()!], { reduction: 'add' }), undefined];
    },
  }],
  ['Expand', {
    grad: (ctx) => [ctx.needs(0) ? ctx.sumTo(ctx.dy()!, ctx.facts(ctx.y(0)), ctx.x(0)) : undefined, undefined],
  }],
  ['Pad', {
    unsupported: (ctx) => {
      if (attrString(ctx.node.proto, 'mode', 'constant') !== 'constant') return `Pad in ${attrString(ctx.node.proto, 'mode', '')} mode`;
      const pads = padAmounts(ctx);
      if (!pads) return 'Pad with amounts or axes computed at run time';
      if (pads.some((p) => p < 0)) return 'Pad with negative amounts (cropping)';
      return undefined;
    },
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const shape = ctx.facts(ctx.x(0)).shape;
      const pads = padAmounts(ctx)!;
      const axes = shape.map((_, i) => i);
      const starts = axes.map((i) => pads[i]!);
      const ends = axes.map((i) => (followsBatch(ctx, ctx.x(0), i) ? INT64_MAX : pads[i]! + shape[i]!));
      return [ctx.emit.slice(ctx.dy()!, starts, ends, axes)];
    },
  }],
  ['ReduceSum', reduceRule(false)],
  ['ReduceMean', reduceRule(true)],
  ['ReduceMax', extremeRule(true)],
  ['ReduceMin', extremeRule(false)],
  ['TopK', {
    // the values' gradient back where they were taken; TopK's indices are distinct in each slice, so a scatter that does not add is enough
    grad: (ctx) => {
      if (!ctx.needs(0) || !ctx.dy(0)) return [undefined, undefined];
      const axis = axisOf(attrInt(ctx.node.proto, 'axis', -1), ctx.facts(ctx.x(0)).shape.length);
      return [ctx.emit.scatterAdd(ctx.emit.zerosLike(ctx.x(0)), ctx.y(1), ctx.dy(0)!, axis), undefined];
    },
  }],
];
