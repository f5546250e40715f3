/** Convolutions and pooling: Conv (grouped/depthwise, dilated), ConvTranspose, Max/Average/Lp pooling, global pools. */
import { attrInt, attrInts, attrString } from '../onnx/attributes.js';
import { DataType, numel } from '../onnx/dtype.js';
import type { NodeProto } from '../onnx/proto.js';
import type { RuleList } from '../onnx/op-table.js';
import { badNode, type OpContext, type OpRule } from './types.js';

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin and end padding per spatial axis. */
  padBegin: number[];
  padEnd: number[];
}

/** Kernel geometry of a Conv/Pool node with auto_pad resolved, as the ONNX specs define it. */
export function convWindow(p: NodeProto, spatial: readonly number[], kernel: readonly number[]): Window {
  const k = spatial.length;
  const strides = attrInts(p, 'strides') ?? new Array<number>(k).fill(1);
  const dilations = attrInts(p, 'dilations') ?? new Array<number>(k).fill(1);
  const pads = attrInts(p, 'pads') ?? new Array<number>(2 * k).fill(0);
  if (kernel.length !== k || strides.length !== k || dilations.length !== k || pads.length !== 2 * k) {
    throw new Error(`kernel/strides/dilations/pads do not match the ${k} spatial dims of the input`);
  }
  const autoPad = attrString(p, 'auto_pad', 'NOTSET');
  let padBegin = pads.slice(0, k);
  let padEnd = pads.slice(k);
  if (autoPad === 'VALID') {
    padBegin = padBegin.map(() => 0);
    padEnd = padEnd.map(() => 0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = spatial.map((d, i) => Math.max(0, (Math.ceil(d / strides[i]!) - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - d));
    const small = total.map((t) => Math.floor(t / 2));
    padBegin = autoPad === 'SAME_UPPER' ? small : total.map((t, i) => t - small[i]!);
    padEnd = total.map((t, i) => t - padBegin[i]!);
  }
  return { kernel: [...kernel], strides, dilations, padBegin, padEnd };
}

function window(ctx: OpContext, spatial: readonly number[], kernel: readonly number[]): Window {
  try {
    return convWindow(ctx.node.proto, spatial, kernel);
  } catch (e) {
    throw badNode(ctx, (e as Error).message);
  }
}

function outputSpatial(ctx: OpContext, spatial: readonly number[], w: Window, ceilMode = false): number[] {
  return spatial.map((d, i) => {
    const span = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
    const room = d + w.padBegin[i]! + w.padEnd[i]! - span;
    if (room < 0) throw badNode(ctx, `the kernel (${span}) is larger than the padded input (${d + w.padBegin[i]! + w.padEnd[i]!}) on spatial axis ${i}`);
    let out = (ceilMode ? Math.ceil(room / w.strides[i]!) : Math.floor(room / w.strides[i]!)) + 1;
    // with ceil_mode a window that would start in the end padding is dropped
    if (ceilMode && (out - 1) * w.strides[i]! >= d + w.padBegin[i]!) out--;
    return out;
  });
}

const conv: OpRule = {
  infer: (ctx) => {
    const x = ctx.input(0);
    const wt = ctx.input(1);
    const group = attrInt(ctx.node.proto, 'group', 1);
    if (x.shape.length < 3) throw badNode(ctx, `input must be [N, C, spatial...], got [${x.shape}]`);
    if (wt.shape[1]! * group !== x.shape[1]) throw badNode(ctx, `weight [${wt.shape}] with group ${group} expects ${wt.shape[1]! * group} input channels, input has ${x.shape[1]}`);
    const spatial = x.shape.slice(2);
    const w = window(ctx, spatial, attrInts(ctx.node.proto, 'kernel_shape') ?? wt.shape.slice(2));
    return [{ dtype: x.dtype, shape: [x.shape[0]!, wt.shape[0]!, ...outputSpatial(ctx, spatial, w)] }];
  },
  cost: (ctx, [y]) => {
    const wt = ctx.input(1);
    const macs = numel(y!.shape) * numel(wt.shape.slice(1)); // per output: (C/g) * prod(kernel)
    return { macs, flops: 2 * macs + (ctx.inputs[2] ? numel(y!.shape) : 0) };
  },
};

const pool: OpRule = {
  infer: (ctx) => {
    const x = ctx.input(0);
    const p = ctx.node.proto;
    const kernel = attrInts(p, 'kernel_shape');
    if (!kernel) throw badNode(ctx, 'kernel_shape is required');
    if (x.shape.length < 3) throw badNode(ctx, `input must be [N, C, spatial...], got [${x.shape}]`);
    const spatial = x.shape.slice(2);
    const w = window(ctx, spatial, kernel);
    const y = { dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...outputSpatial(ctx, spatial, w, attrInt(p, 'ceil_mode', 0) === 1)] };
    return ctx.node.outputs.length > 1 ? [y, { dtype: DataType.INT64, shape: [...y.shape] }] : [y];
  },
  cost: (ctx, [y]) => ({ macs: 0, flops: numel(y!.shape) * numel(attrInts(ctx.node.proto, 'kernel_shape')!) }),
};

/** The rules of this family, listed in registry.ts. */
export const convRules: RuleList<OpRule> = [
  ['Conv', conv],
  ['ConvTranspose', {
    infer: (ctx) => {
      const x = ctx.input(0);
      const wt = ctx.input(1);
      const p = ctx.node.proto;
      const group = attrInt(p, 'group', 1);
      if (wt.shape[0] !== x.shape[1]) throw badNode(ctx, `weight [${wt.shape}] expects ${wt.shape[0]} input channels, input has ${x.shape[1]}`);
      const spatial = x.shape.slice(2);
      const k = spatial.length;
      const kernel = attrInts(p, 'kernel_shape') ?? wt.shape.slice(2);
      const strides = attrInts(p, 'strides') ?? new Array<number>(k).fill(1);
      const dil = attrInts(p, 'dilations') ?? new Array<number>(k).fill(1);
      const outPad = attrInts(p, 'output_padding') ?? new Array<number>(k).fill(0);
      const given = attrInts(p, 'output_shape');
      let out: number[];
      if (given) out = given.slice(-k);
      else {
        const autoPad = attrString(p, 'auto_pad', 'NOTSET');
        const pads = autoPad === 'NOTSET' ? (attrInts(p, 'pads') ?? new Array<number>(2 * k).fill(0)) : new Array<number>(2 * k).fill(0);
        out = spatial.map((d, i) =>
          autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER'
            ? d * strides[i]!
            : strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + k]!,
        );
      }
      return [{ dtype: x.dtype, shape: [x.shape[0]!, wt.shape[1]! * group, ...out] }];
    },
    cost: (ctx, [y]) => {
      const x = ctx.input(0);
      const macs = numel(x.shape) * numel(ctx.input(1).shape.slice(1)); // per input: (M/g) * prod(kernel)
      return { macs, flops: 2 * macs + (ctx.inputs[2] ? numel(y!.shape) : 0) };
    },
  }],
  [['MaxPool', 'AveragePool', 'LpPool'], pool],
  [['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'], {
    infer: (ctx) => {
      const x = ctx.input(0);
      if (x.shape.length < 3) throw badNode(ctx, `input must be [N, C, spatial...], got [${x.shape}]`);
      return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)] }];
    },
    cost: (ctx) => ({ macs: 0, flops: numel(ctx.input(0).shape) }),
  }],
];
