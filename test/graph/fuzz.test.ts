/**
 * Fuzzing the graph analysis with fast-check: small valid models with random changes (attribute values, input and
 * initializer dims, op types, initializer values, inputs renamed or dropped) are analysed (without the ONNX Runtime
 * probe) to a graph or refused with an ImperaError - never a TypeError or another internal error. Seeded, so a
 * failure replays; the cases the fuzzer found are kept below as plain tests.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImperaError } from '../../src/errors.js';
import { analyzeModel } from '../../src/graph/analyze.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { encodeModel, inMemoryModel } from '../../src/onnx/io.js';
import { onnx } from '../../src/onnx/proto.js';
import { branches, chain, residual, shapeChain } from '../helpers/models.js';

const OPS = ['Constant', 'ConstantOfShape', 'Range', 'EyeLike', 'Conv', 'ConvTranspose', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Max', 'Sum', 'Mean', 'PRelu', 'BitShift', 'Equal', 'Where', 'Neg', 'Clip', 'Cast', 'CastLike', 'Identity', 'Dropout', 'MatMul', 'Gemm', 'Einsum', 'BatchNormalization', 'LayerNormalization', 'LRN', 'Hardmax', 'ReduceSum', 'ReduceMean', 'ReduceMax', 'Shape', 'Size', 'Transpose', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'GatherND', 'Expand', 'Tile', 'Pad', 'DepthToSpace', 'SpaceToDepth', 'Resize', 'Upsample', 'TopK', 'CumSum', 'OneHot', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Softmax', 'NoSuchOp'];
const bases = [chain(), residual(), branches(), shapeChain()].map((m) => encodeModel(m.proto));
const int = fc.oneof(fc.integer({ min: -4, max: 9 }), fc.constantFrom(0, 2 ** 31, 1e12, -(2 ** 31)));

type Change =
  | { kind: 'attribute'; ints: number[]; i: number }
  | { kind: 'dims'; dims: number[] }
  | { kind: 'op'; op: string }
  | { kind: 'values'; values: number[] }
  | { kind: 'input'; name: string };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('attribute' as const), ints: fc.array(int, { maxLength: 6 }), i: int }),
  fc.record({ kind: fc.constant('dims' as const), dims: fc.array(int, { maxLength: 5 }) }),
  fc.record({ kind: fc.constant('op' as const), op: fc.constantFrom(...OPS) }),
  fc.record({ kind: fc.constant('values' as const), values: fc.array(int, { maxLength: 6 }) }),
  fc.record({ kind: fc.constant('input' as const), name: fc.constantFrom('', 'x', 'no-such-tensor', 'y') }),
);

/** Apply a change to node `n` (and attribute / initializer `k`) of the graph, each index taken modulo its list. */
function apply(g: onnx.IGraphProto, n: number, k: number, c: Change): void {
  const node = g.node![n % g.node!.length]!;
  const inits = g.initializer!;
  if (c.kind === 'attribute' && node.attribute!.length) {
    const a = node.attribute![k % node.attribute!.length]!;
    if (a.ints?.length) a.ints = c.ints;
    else a.i = c.i;
  } else if (c.kind === 'dims') {
    if (k % 2 && inits.length) inits[k % inits.length]!.dims = c.dims;
    else g.input![0]!.type!.tensorType!.shape!.dim = c.dims.map((d) => ({ dimValue: d }));
  } else if (c.kind === 'op') node.opType = c.op;
  else if (c.kind === 'values' && inits.length) {
    // an int64 vector where a weight was: what shape, axes and index inputs read
    Object.assign(inits[k % inits.length]!, { dataType: onnx.TensorProto.DataType.INT64, dims: [c.values.length], rawData: new Uint8Array(BigInt64Array.from(c.values, BigInt).buffer), floatData: [] });
  } else if (c.kind === 'input' && node.input!.length) node.input![k % node.input!.length] = c.name;
}

async function analysed(proto: onnx.ModelProto): Promise<string> {
  try {
    await analyzeModel(inMemoryModel(proto), { probe: false });
    return 'analysed';
  } catch (e) {
    if (e instanceof ImperaError) return e.code;
    throw e;
  }
}

describe('graph analysis of weird models', () => {
  it('analyses or refuses with an ImperaError', async () => {
    const seen = new Map<string, number>();
    await fc.assert(fc.asyncProperty(fc.nat(bases.length - 1), fc.nat(), fc.nat(), fc.array(change, { minLength: 1, maxLength: 3 }), async (which, n, k, changes) => {
      const proto = onnx.ModelProto.decode(bases[which]!);
      for (const c of changes) apply(proto.graph!, n, k, c);
      const o = await analysed(proto);
      seen.set(o, (seen.get(o) ?? 0) + 1);
    }), { numRuns: 1500, seed: 3 });
    expect(seen.get('analysed')).toBeGreaterThan(0);
    expect(seen.get('SHAPE_INFERENCE')).toBeGreaterThan(0);
  }, 60_000);

  const single = (op: string, inputs: string[], opset = 17) => {
    const b = new ModelBuilder({ opset });
    b.input('x', 'float32', [1, 4]);
    b.op(op, inputs, {}, { output: 'y', name: 'n' });
    b.output('y', 'float32', [1, 4]);
    return b.build();
  };

  it('a Slice without starts and ends is a bad node (was a TypeError)', async () => {
    await expect(analyzeModel(inMemoryModel(single('Slice', ['x'])), { probe: false })).rejects.toThrow(/node 'n' \(Slice\): it has no starts or no ends/);
    await expect(analyzeModel(inMemoryModel(single('Slice', ['x'], 9)), { probe: false })).rejects.toThrow(/it has no starts or no ends/);
  });

  it('a broadcasting op without inputs is a bad node (was a TypeError)', async () => {
    await expect(analyzeModel(inMemoryModel(single('Sum', [''])), { probe: false })).rejects.toThrow(/node 'n' \(Sum\): it has no inputs/);
  });
});
