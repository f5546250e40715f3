/**
 * The one writer of ONNX nodes: every stage that emits ONNX (model builder, backward graphs, codecs, exit
 * branches, Grad-CAM, exported parts) goes through it. It gives fresh names, stores constants as initializers
 * (shared when equal) or Constant nodes, and writes the ops whose form depends on the opset (axes, bounds and
 * pads as attribute or input; equivalents of ops newer than the model, from Round to Where), so callers stay short
 * and work at the opset of the model the nodes go into, 7 to the newest (test/onnx/opsets.test.ts runs them all).
 */
import { makeAttribute, type AttrValue } from './attributes.js';
import { DataType, dtypeOf } from './dtype.js';
import { onnx } from './proto.js';
import { makeTensorProto, typedArrayFrom, type TypedArray } from './tensor.js';

export interface NodeOptions {
  /** Output names, or how many outputs to give fresh names (default 1). */
  outputs?: readonly string[] | number;
  /** Node name (default: its first output when named by the caller, else a fresh name). */
  name?: string;
  domain?: string;
}

export interface OpOptions extends Omit<NodeOptions, 'outputs'> {
  /** Name of the single output (default: a fresh name). */
  output?: string;
}

/** The largest k <= 126 with |bound| 2^k finite in float32 (a HardSigmoid's beta must not overflow: inf - inf). */
function scaleFor(bound: number): number {
  let k = 126;
  while (Math.abs(bound) * 2 ** k >= 2 ** 127) k--;
  return k;
}

export class Emitter {
  readonly nodes: onnx.NodeProto[] = [];
  readonly initializers: onnx.TensorProto[] = [];
  private counter = 0;
  private readonly shapes = new Map<string, string>();
  private readonly constants = new Map<string, string>();

  /**
   * `opset`: the default-domain opset of the model the nodes go into; `prefix`: the namespace of fresh names,
   * so emitted names do not collide with the model's own ('' for none).
   */
  constructor(
    readonly opset: number,
    private readonly prefix: string,
  ) {}

  fresh(hint: string): string {
    return `${this.prefix ? `${this.prefix}/` : ''}${hint}_${this.counter++}`;
  }

  /** Add a node; returns its outputs. */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string[] {
    const outputs = typeof opts.outputs === 'object' ? [...opts.outputs] : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(opType));
    this.nodes.push(
      onnx.NodeProto.create({
        name: opts.name ?? outputs[0],
        opType,
        domain: opts.domain ?? '',
        input: [...inputs],
        output: outputs,
        attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
      }),
    );
    return outputs;
  }

  /** Add a single-output node; returns the output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): string {
    const { output, ...rest } = opts;
    return this.node(opType, inputs, attrs, { ...rest, ...(output !== undefined ? { outputs: [output] } : {}) })[0]!;
  }

  /** A named initializer; returns its name. */
  initializer(name: string, dtype: DataType | string, dims: readonly number[], values: TypedArray | readonly number[]): string {
    const dt = dtypeOf(dtype);
    this.initializers.push(makeTensorProto(name, dt, dims, ArrayBuffer.isView(values) ? values : typedArrayFrom(dt, values)));
    return name;
  }

  /** A constant tensor stored as an initializer (small ones shared when equal). */
  constant(dtype: DataType | string, dims: readonly number[], values: readonly number[]): string {
    const dt = dtypeOf(dtype);
    const key = `${dt}:${dims}:${values}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.initializer(this.fresh('const'), dt, dims, values);
    if (values.length <= 16) this.constants.set(key, name);
    return name;
  }

  /** A constant tensor stored in a Constant node (part of the graph's nodes, e.g. for parts that copy nodes). */
  constantNode(dtype: DataType | string, dims: readonly number[], values: readonly number[], output = this.fresh('const')): string {
    const dt = dtypeOf(dtype);
    return this.op('Constant', [], { value: makeTensorProto(output, dt, dims, typedArrayFrom(dt, values)) }, { output });
  }

  scalar(value: number, dtype: DataType = DataType.FLOAT): string {
    return this.constant(dtype, [], [value]);
  }

  ints(values: readonly number[]): string {
    return this.constant(DataType.INT64, [values.length], values);
  }

  /** Shape(x), emitted once per tensor. */
  shapeOf(x: string): string {
    let s = this.shapes.get(x);
    if (!s) {
      s = this.op('Shape', [x]);
      this.shapes.set(x, s);
    }
    return s;
  }

  reshapeLike(x: string, like: string): string {
    return this.op('Reshape', [x, this.shapeOf(like)]);
  }

  /** Float zeros of x's shape (ConstantOfShape from opset 9; before, x > x cast to float: false even for NaN). */
  zerosLike(x: string): string {
    if (this.opset < 9) return this.op('Cast', [this.op('Greater', [x, x])], { to: DataType.FLOAT });
    return this.op('ConstantOfShape', [this.shapeOf(x)], { value: makeTensorProto('zero', DataType.FLOAT, [1], Float32Array.of(0)) });
  }

  /** x broadcast to the shape of `like` (same rank, x's dims 1 or equal): Expand from opset 8, Tile before. */
  expandLike(x: string, like: string): string {
    if (this.opset >= 8) return this.op('Expand', [x, this.shapeOf(like)]);
    return this.op('Tile', [x, this.op('Div', [this.shapeOf(like), this.shapeOf(x)])]);
  }

  private axesOp(opType: string, x: string, axes: readonly number[], attrs: Record<string, AttrValue>, inputSince: number): string {
    return this.opset >= inputSince ? this.op(opType, [x, this.ints(axes)], attrs) : this.op(opType, [x], { ...attrs, axes: [...axes] });
  }

  /** Any Reduce* op; axes move from attribute to input at opset 13 (ReduceSum) or 18 (the others). */
  reduce(opType: string, x: string, axes: readonly number[], keepdims: boolean): string {
    return this.axesOp(opType, x, axes, { keepdims: keepdims ? 1 : 0 }, opType === 'ReduceSum' ? 13 : 18);
  }

  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    return this.axesOp('ReduceSum', x, axes, { keepdims: keepdims ? 1 : 0 }, 13);
  }

  reduceMean(x: string, axes: readonly number[], keepdims: boolean): string {
    return this.axesOp('ReduceMean', x, axes, { keepdims: keepdims ? 1 : 0 }, 18);
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return this.axesOp('Unsqueeze', x, axes, {}, 13);
  }

  squeeze(x: string, axes: readonly number[]): string {
    return this.axesOp('Squeeze', x, axes, {}, 13);
  }

  /** Slice along axes with constant bounds (attributes before opset 10, which has no steps). */
  slice(x: string, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps?: readonly number[]): string {
    if (this.opset < 10) {
      if (steps?.some((s) => s !== 1)) throw new Error(`Slice with steps needs opset 10 (the model has ${this.opset})`);
      return this.op('Slice', [x], { starts: [...starts], ends: [...ends], axes: [...axes] });
    }
    const inputs = [x, this.ints(starts), this.ints(ends), this.ints(axes), ...(steps ? [this.ints(steps)] : [])];
    return this.op('Slice', inputs);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }

  neg(a: string): string {
    return this.op('Neg', [a]);
  }

  /** Element-wise sum of several tensors (one node). */
  sum(xs: readonly string[]): string {
    return xs.length === 1 ? xs[0]! : this.op('Sum', xs);
  }

  /**
   * data with updates added at indices along axis (repeated indices add up from opset 16; before, last wins).
   * ScatterElements from opset 11, Scatter (the same op, under its first name) at 9 and 10; none before.
   */
  scatterAdd(data: string, indices: string, updates: string, axis: number): string {
    if (this.opset < 9) throw new Error(`a scatter needs opset 9 (the model has ${this.opset})`);
    if (this.opset < 11) return this.op('Scatter', [data, indices, updates], { axis });
    return this.op('ScatterElements', [data, indices, updates], { axis, ...(this.opset >= 16 ? { reduction: 'add' } : {}) });
  }

  /**
   * Round half to even, as Round (opset 11). Before: floor(x) + [frac > 1/2] + [frac = 1/2] * (floor(x) mod 2),
   * every step exact in float (frac = x - floor(x) is; the parity is f - 2 floor(f / 2)), so bit-identical.
   */
  round(x: string): string {
    if (this.opset >= 11) return this.op('Round', [x]);
    const half = this.scalar(0.5);
    const f = this.op('Floor', [x]);
    const frac = this.sub(x, f);
    const up = this.op('Greater', [frac, half]);
    const tie = this.op('Not', [this.op('Or', [up, this.op('Less', [frac, half])])]);
    const odd = this.sub(f, this.mul(this.op('Floor', [this.mul(f, half)]), this.scalar(2)));
    const asFloat = (b: string) => this.op('Cast', [b], { to: DataType.FLOAT });
    return this.add(this.add(f, asFloat(up)), this.mul(asFloat(tie), odd));
  }

  /** Clip to constant bounds: inputs from opset 11, attributes before. */
  clip(x: string, min: number, max: number): string {
    return this.opset >= 11 ? this.op('Clip', [x, this.scalar(min), this.scalar(max)]) : this.op('Clip', [x], { min: { float: min }, max: { float: max } });
  }

  /** cond ? a : b element-wise (Where from opset 9; before, a * c + b * (1 - c) with c the cast condition). */
  where(condition: string, a: string, b: string): string {
    if (this.opset >= 9) return this.op('Where', [condition, a, b]);
    const c = this.op('Cast', [condition], { to: DataType.FLOAT });
    return this.add(this.mul(a, c), this.mul(b, this.sub(this.scalar(1), c)));
  }

  /** Sign of a float tensor (Sign from opset 9; before, [x > 0] - [x < 0]). */
  sign(x: string): string {
    if (this.opset >= 9) return this.op('Sign', [x]);
    const asFloat = (b: string) => this.op('Cast', [b], { to: DataType.FLOAT });
    return this.sub(asFloat(this.op('Greater', [x, this.scalar(0)])), asFloat(this.op('Less', [x, this.scalar(0)])));
  }

  /** A x B without bias: Gemm's C is optional from opset 11; before, a zero scalar. */
  gemm(a: string, b: string, attrs: Record<string, AttrValue>): string {
    return this.op('Gemm', [a, b, ...(this.opset < 11 ? [this.scalar(0)] : [])], attrs);
  }

  /** Float one-hot rows [N, classes] of int64 labels [N] (OneHot from opset 9; before, labels = 0..classes-1). */
  oneHot(labels: string, classes: number): string {
    if (this.opset >= 9) return this.op('OneHot', [labels, this.constant(DataType.INT64, [], [classes]), this.constant(DataType.FLOAT, [2], [0, 1])], { axis: -1 });
    const ids = this.constant(DataType.INT64, [1, classes], Array.from({ length: classes }, (_, i) => i));
    return this.op('Cast', [this.op('Equal', [this.unsqueeze(labels, [1]), ids])], { to: DataType.FLOAT });
  }

  /** dy where the boolean mask holds, 0 elsewhere (a multiply by the cast mask: faster than Where in ORT). */
  mask(dy: string, condition: string): string {
    return this.op('Mul', [dy, this.op('Cast', [condition], { to: DataType.FLOAT })]);
  }

  /**
   * The float indicator [x > above] * [x < below] (either bound may be left out) as HardSigmoids, or undefined
   * when a bound is too large for the form (|bound| >= 2^40) or none is given. Unlike compare + Cast,
   * HardSigmoid keeps ONNX Runtime's blocked NCHWc layout, so a ReLU mask costs no layout reorders. Exact for every finite x: a first stage per bound computes
   * clip(±2^k (x - bound), 0, 1) (scaling by 2^k is exact and the rounded sum keeps the sign of x - bound, so it
   * is 0 exactly when x is not beyond the bound and at least 2^(k-149) when it is; x alone overflowing gives ±inf,
   * still on the right side); their product is then lifted by 2^127 to 1 (k >= 86 per bound suffices).
   */
  indicator(x: string, bounds: { above?: number; below?: number }): string | undefined {
    const sides = ([[1, bounds.above], [-1, bounds.below]] as const).flatMap(([sign, bound]) => (bound === undefined ? [] : [{ sign, bound, k: scaleFor(bound) }]));
    if (!sides.length || sides.some((s) => s.k < 86)) return undefined;
    const stages = sides.map(({ sign, bound, k }) => this.op('HardSigmoid', [x], { alpha: { float: sign * 2 ** k }, beta: { float: -sign * bound * 2 ** k } }));
    return this.op('HardSigmoid', [stages.length === 2 ? this.mul(stages[0]!, stages[1]!) : stages[0]!], { alpha: { float: 2 ** 127 }, beta: { float: 0 } });
  }

  /** Give a tensor produced by an emitted node a final name, everywhere it is used; false if not emitted here. */
  rename(from: string, to: string): boolean {
    if (!this.nodes.some((n) => n.output.includes(from))) return false;
    for (const n of this.nodes) {
      n.input = n.input.map((i) => (i === from ? to : i));
      n.output = n.output.map((o) => (o === from ? to : o));
    }
    return true;
  }
}
