/** Matrix products: MatMul (NumPy broadcasting), Gemm (transA/transB, alpha, beta), Einsum. */
import { numel } from '../onnx/dtype.js';
import { attrInt, attrString } from '../onnx/attributes.js';
import { broadcastShapes } from './broadcast.js';
import type { RuleList } from '../onnx/op-table.js';
import { badNode, type OpContext, type OpRule } from './types.js';

/** Batch shape, M, K, N of a MatMul, with 1-D operands promoted as NumPy does. */
function matmulDims(ctx: OpContext) {
  const a = ctx.input(0).shape;
  const b = ctx.input(1).shape;
  if (a.length === 0 || b.length === 0) throw badNode(ctx, 'MatMul operands must have rank >= 1');
  const A = a.length === 1 ? [1, a[0]!] : a;
  const B = b.length === 1 ? [b[0]!, 1] : b;
  const [m, k] = A.slice(-2) as [number, number];
  const [k2, n] = B.slice(-2) as [number, number];
  if (k !== k2) throw badNode(ctx, `inner dimensions differ: [${a}] x [${b}]`);
  const batch = broadcastShapes([A.slice(0, -2), B.slice(0, -2)], ctx);
  const out = [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
  return { batch, m, k, n, out };
}

function gemmDims(ctx: OpContext) {
  const a = ctx.input(0).shape;
  const b = ctx.input(1).shape;
  if (a.length !== 2 || b.length !== 2) throw badNode(ctx, `Gemm needs 2-D operands, got [${a}] and [${b}]`);
  const [m, k] = attrInt(ctx.node.proto, 'transA', 0) ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
  const [k2, n] = attrInt(ctx.node.proto, 'transB', 0) ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
  if (k !== k2) throw badNode(ctx, `inner dimensions differ: [${a}] x [${b}] (transA/transB applied)`);
  return { m, k, n };
}

/** Letter -> size map and output letters of an einsum equation; '.' stands for the ellipsis dims. */
function einsum(ctx: OpContext) {
  const eq = attrString(ctx.node.proto, 'equation', '').replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ctx.inputs.length) throw badNode(ctx, `equation '${eq}' has ${terms.length} operands, the node ${ctx.inputs.length}`);
  const sizes = new Map<string, number>();
  let ellipsis: number[] = [];
  terms.forEach((term, i) => {
    const shape = ctx.input(i).shape;
    const letters = term.split('...');
    const named = letters.join('').length;
    const ell = shape.length - named;
    const labels = [...letters[0]!, ...(letters.length > 1 ? new Array<string>(ell).fill('.') : []), ...(letters[1] ?? '')];
    if (labels.length !== shape.length) throw badNode(ctx, `operand ${i} '${term}' does not match its rank ${shape.length}`);
    const ellDims: number[] = [];
    labels.forEach((l, j) => {
      if (l === '.') ellDims.push(shape[j]!);
      else if (sizes.has(l) && sizes.get(l) !== shape[j] && shape[j] !== 1) throw badNode(ctx, `label '${l}' has sizes ${sizes.get(l)} and ${shape[j]}`);
      else if (!sizes.has(l) || sizes.get(l) === 1) sizes.set(l, shape[j]!);
    });
    if (ellDims.length) ellipsis = broadcastShapes([ellipsis, ellDims], ctx);
  });
  const counts = new Map<string, number>();
  for (const l of lhs.replace(/\.\.\.|,/g, '')) counts.set(l, (counts.get(l) ?? 0) + 1);
  const outLabels = rhs ?? (lhs.includes('...') ? '...' : '') + [...counts].filter(([, c]) => c === 1).map(([l]) => l).sort().join('');
  const out = outLabels.split('...').flatMap((part, i) => [...(i > 0 ? ellipsis : []), ...[...part].map((l) => sizes.get(l)!)]);
  return { out, work: numel([...sizes.values()]) * numel(ellipsis) };
}

/** The rules of this family, listed in registry.ts. */
export const matmulRules: RuleList<OpRule> = [
  ['MatMul', {
    infer: (ctx) => [{ dtype: ctx.input(0).dtype, shape: matmulDims(ctx).out }],
    cost: (ctx) => {
      const { batch, m, k, n } = matmulDims(ctx);
      const macs = numel(batch) * m * k * n;
      return { macs, flops: 2 * macs };
    },
  }],
  ['Gemm', {
    infer: (ctx) => {
      const { m, n } = gemmDims(ctx);
      return [{ dtype: ctx.input(0).dtype, shape: [m, n] }];
    },
    cost: (ctx) => {
      const { m, k, n } = gemmDims(ctx);
      const macs = m * k * n;
      return { macs, flops: 2 * macs + (ctx.inputs[2] ? m * n : 0) };
    },
  }],
  ['Einsum', {
    infer: (ctx) => [{ dtype: ctx.input(0).dtype, shape: einsum(ctx).out }],
    cost: (ctx) => {
      const macs = einsum(ctx).work;
      return { macs, flops: 2 * macs };
    },
  }],
];
