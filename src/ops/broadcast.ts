/** NumPy-style broadcasting, shared by every element-wise rule. */
import { numel } from '../onnx/dtype.js';
import type { ConstValue, OpContext } from './types.js';
import { badNode } from './types.js';

export function broadcastShapes(shapes: readonly (readonly number[])[], ctx: OpContext): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) throw badNode(ctx, `shapes ${shapes.map((s) => `[${s}]`).join(' and ')} cannot be broadcast together`);
      d = v;
    }
    // a 0-sized dim wins over 1 and must match others
    out.push(shapes.some((s) => s[s.length - rank + i] === 0) ? 0 : d);
  }
  return out;
}

/** Flat source index into `shape` for each flat index of `outShape` under broadcasting. */
function broadcastIndex(shape: readonly number[], outShape: readonly number[]): Int32Array {
  const n = numel(outShape);
  const idx = new Int32Array(n);
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = rank - shape.length + i;
    strides[o] = shape[i] === 1 ? 0 : s;
    s *= shape[i]!;
  }
  const coord = new Array<number>(rank).fill(0);
  for (let k = 0; k < n; k++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += coord[d]! * strides[d]!;
    idx[k] = off;
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d]! < outShape[d]!) break;
      coord[d] = 0;
    }
  }
  return idx;
}

/** Apply `fn` element-wise over broadcast inputs. */
export function mapBroadcast(inputs: readonly ConstValue[], outShape: readonly number[], fn: (...xs: number[]) => number): number[] {
  const maps = inputs.map((v) => broadcastIndex(v.dims, outShape));
  const n = numel(outShape);
  const out = new Array<number>(n);
  const args = new Array<number>(inputs.length);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < inputs.length; j++) args[j] = inputs[j]!.data[maps[j]![k]!]!;
    out[k] = fn(...args);
  }
  return out;
}
