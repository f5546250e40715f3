/** MatMul (NumPy broadcasting, 1-D operands) and Gemm (transA, transB, alpha, beta). */
import { attrFloat, attrInt } from '../../onnx/attributes.js';
import type { RuleList } from '../../onnx/op-table.js';
import type { GradContext, GradRule, ShapeFacts } from '../rule.js';

/** Swap the last two axes. */
function transposeLast(ctx: GradContext, x: string, rank: number): string {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return ctx.emit.op('Transpose', [x], { perm });
}

/** The gradient rules of this family, listed in registry.ts. */
export const matmulGradients: RuleList<GradRule> = [
  ['MatMul', {
    grad: (ctx) => {
      const e = ctx.emit;
      const [a, b] = [ctx.facts(ctx.x(0)), ctx.facts(ctx.x(1))];
      const y = ctx.facts(ctx.y(0));
      // promote 1-D operands as NumPy does, so both sides are matrices (batched)
      const A = a.shape.length === 1 ? e.unsqueeze(ctx.x(0), [0]) : ctx.x(0);
      const B = b.shape.length === 1 ? e.unsqueeze(ctx.x(1), [1]) : ctx.x(1);
      let dy = ctx.dy()!;
      if (a.shape.length === 1) dy = e.unsqueeze(dy, [-2]);
      if (b.shape.length === 1) dy = e.unsqueeze(dy, [-1]);
      const rankA = Math.max(2, a.shape.length);
      const rankB = Math.max(2, b.shape.length);
      // dA and dB before reduction: Y's batch dims, then each operand's (promoted) matrix dims
      const batch = y.shape.length - (a.shape.length === 1 ? 0 : 1) - (b.shape.length === 1 ? 0 : 1);
      const gradFacts = (f: ShapeFacts, mat: number[]): ShapeFacts => ({
        shape: [...y.shape.slice(0, batch), ...mat],
        batchScale: y.batchScale && f.batchScale ? [...y.batchScale.slice(0, batch), ...(f.shape.length === 1 ? [0, 0] : f.batchScale.slice(-2))] : undefined,
      });
      const aMat = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape.slice(-2);
      const bMat = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape.slice(-2);
      return [
        ctx.needs(0) ? ctx.sumTo(e.op('MatMul', [dy, transposeLast(ctx, B, rankB)]), gradFacts(a, aMat), ctx.x(0)) : undefined,
        ctx.needs(1) ? ctx.sumTo(e.op('MatMul', [transposeLast(ctx, A, rankA), dy]), gradFacts(b, bMat), ctx.x(1)) : undefined,
      ];
    },
  }],
  ['Gemm', {
    grad: (ctx) => {
      const e = ctx.emit;
      const p = ctx.node.proto;
      const [transA, transB] = [attrInt(p, 'transA', 0), attrInt(p, 'transB', 0)];
      const [alpha, beta] = [attrFloat(p, 'alpha', 1), attrFloat(p, 'beta', 1)];
      const dy = ctx.dy()!;
      const gemm = (x: string, z: string, tA: number, tB: number) => e.gemm(x, z, { transA: tA, transB: tB, alpha: { float: alpha } });
      // dA = alpha dY op(B)^T (transposed back when transA); dB = alpha op(A)^T dY (likewise)
      const da = ctx.needs(0) ? (transA ? gemm(ctx.x(1), dy, transB, 1) : gemm(dy, ctx.x(1), 0, 1 - transB)) : undefined;
      const db = ctx.needs(1) ? (transB ? gemm(dy, ctx.x(0), 1, transA) : gemm(ctx.x(0), dy, 1 - transA, 0)) : undefined;
      let dc: string | undefined;
      if (ctx.node.inputs[2] && ctx.needs(2)) {
        const scaled = beta === 1 ? dy : e.mul(dy, e.scalar(beta));
        dc = ctx.sumTo(scaled, ctx.facts(ctx.y(0)), ctx.x(2));
      }
      return [da, db, dc];
    },
  }],
];
