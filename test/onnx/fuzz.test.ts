/**
 * Fuzzing the ONNX reader with fast-check: mutations of a small valid model (truncations, byte flips, spliced
 * ranges, appended fields with random varints, tensor fields set to random values, random bytes) either load or fail
 * with an ImperaError - never a TypeError, RangeError or "internal error" - and every tensor of a model that loads
 * is read as the graph analysis reads it. A case that hung would fail the test's time limit. Seeded, so a failure
 * replays.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImperaError, type ErrorCode } from '../../src/errors.js';
import { allTensors, encodeModel, modelFromBytes, saveModel } from '../../src/onnx/io.js';
import { onnx } from '../../src/onnx/proto.js';
import { externalLocation, isExternal, readTensor } from '../../src/onnx/tensor.js';
import { chain } from '../helpers/models.js';

const TIME_LIMIT_MS = 60_000;
const SEED = 14;

/** The folder every case is written to: chain() with its larger weights in `model.onnx.data`. */
const dir = mkdtempSync(join(tmpdir(), 'impera-fuzz-'));
saveModel(chain(), join(dir, 'model.onnx'), { externalData: { minBytes: 64 } });
const external = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
const inline = encodeModel(chain().proto);
const bases = fc.constantFrom(inline, external);

/** Load `bytes` as a model in `dir` and read every tensor: 'loaded', or the ImperaError's code; anything else throws. */
function outcome(bytes: Uint8Array): 'loaded' | ErrorCode {
  try {
    const model = modelFromBytes(bytes, dir, 'case.onnx');
    for (const t of allTensors(model.proto.graph!)) {
      // an external tensor that loaded lies inside the model's folder
      if (isExternal(t)) expect(isAbsolute(externalLocation(t).location) || normalize(externalLocation(t).location).startsWith('..')).toBe(false);
      if (t.dataType !== onnx.TensorProto.DataType.STRING) readTensor(t, model.dir);
    }
    return 'loaded';
  } catch (e) {
    if (e instanceof ImperaError) return e.code;
    throw e;
  }
}

/** A protobuf varint (up to 64 bits). */
function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  do {
    out.push(Number(v & 0x7fn) | (v > 0x7fn ? 0x80 : 0));
    v >>= 7n;
  } while (v > 0n);
  return out;
}

/** A well-formed field of any number and wire type: the decoder must skip or read it. */
const field = fc.tuple(fc.integer({ min: 1, max: 2 ** 29 - 1 }), fc.constantFrom(0, 1, 2, 5), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array({ maxLength: 64 })).map(([number, wire, value, payload]) => {
  const tag = varint(BigInt(number * 8 + wire));
  const body = wire === 0 ? varint(value) : wire === 1 ? new Array(8).fill(0).map((_, i) => Number((value >> BigInt(8 * i)) & 0xffn)) : wire === 5 ? [1, 2, 3, 4] : [...varint(BigInt(payload.length)), ...payload];
  return Buffer.from([...tag, ...body]);
});

const dim = fc.oneof(fc.integer({ min: -3, max: 8 }), fc.constantFrom(0, 2 ** 31, 2 ** 32 + 1, 1e12, Number.MAX_SAFE_INTEGER), fc.maxSafeInteger());
const entryValue = fc.oneof(fc.constantFrom('model.onnx.data', 'model.onnx', '.', '..', '../model.onnx.data', '/etc/passwd', '', '0', '-1', '1e3', '4294967296'), fc.nat().map(String), fc.string({ maxLength: 12 }));
const entry = fc.record({ key: fc.constantFrom('location', 'offset', 'length', 'checksum', 'other'), value: entryValue });

/** A change to one TensorProto of the model: the fields the reader sizes and locates data by. */
const tensorChange = fc.oneof(
  fc.record({ dims: fc.array(dim, { maxLength: 5 }) }),
  fc.record({ dataType: fc.integer({ min: -1, max: 30 }) }),
  fc.record({ dataLocation: fc.constantFrom(0, 1, 2), externalData: fc.array(entry, { maxLength: 5 }) }),
  fc.record({ externalData: fc.array(entry, { maxLength: 5 }) }),
  fc.record({ rawData: fc.uint8Array({ maxLength: 64 }), dims: fc.array(dim, { maxLength: 3 }) }),
  fc.record({ floatData: fc.array(fc.float(), { maxLength: 16 }), rawData: fc.constant(new Uint8Array(0)) }),
);

const fuzz = (arb: fc.Arbitrary<Uint8Array>, numRuns: number) => {
  const seen = new Map<string, number>();
  fc.assert(fc.property(arb, (bytes) => {
    const o = outcome(bytes);
    seen.set(o, (seen.get(o) ?? 0) + 1);
  }), { numRuns, seed: SEED });
  return seen;
};

describe('the ONNX reader on mutated models', () => {
  it('loads the unmutated models', () => {
    expect(outcome(inline)).toBe('loaded');
    expect(outcome(external)).toBe('loaded');
  });

  it('truncations fail as truncated or not ONNX', () => {
    const seen = fuzz(bases.chain((b) => fc.nat({ max: b.length - 1 }).map((n) => b.subarray(0, n))), 600);
    expect([...seen.keys()].every((o) => o === 'TRUNCATED_MODEL' || o === 'NOT_ONNX' || o === 'loaded')).toBe(true);
    expect(seen.get('TRUNCATED_MODEL')).toBeGreaterThan(0);
  }, TIME_LIMIT_MS);

  it('flipped bytes load or fail with an ImperaError', () => {
    const flips = bases.chain((b) => fc.array(fc.tuple(fc.nat({ max: b.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((changes) => {
      const out = new Uint8Array(b);
      for (const [at, value] of changes) out[at] = value;
      return out;
    }));
    const seen = fuzz(flips, 1500);
    expect(seen.size).toBeGreaterThan(2);
  }, TIME_LIMIT_MS);

  it('deleted or repeated ranges load or fail with an ImperaError', () => {
    const splices = bases.chain((b) => fc.tuple(fc.nat({ max: b.length - 1 }), fc.nat({ max: 64 }), fc.boolean()).map(([at, n, repeat]) => {
      const range = b.subarray(at, at + n);
      return Buffer.concat([b.subarray(0, at), ...(repeat ? [range, range] : []), b.subarray(at + n)]);
    }));
    fuzz(splices, 800);
  }, TIME_LIMIT_MS);

  it('appended fields with random numbers, wire types and varints load or fail with an ImperaError', () => {
    fuzz(fc.tuple(bases, fc.array(field, { minLength: 1, maxLength: 4 })).map(([b, fields]) => Buffer.concat([b, ...fields])), 600);
  }, TIME_LIMIT_MS);

  it('tensors with random dims, element types, payloads and external-data keys load or fail with an ImperaError', () => {
    const changed = fc.tuple(bases, fc.nat(), tensorChange).map(([b, which, change]) => {
      const proto = onnx.ModelProto.decode(b);
      const inits = proto.graph!.initializer!;
      Object.assign(inits[which % inits.length]!, change);
      return encodeModel(proto);
    });
    const seen = fuzz(changed, 1500);
    expect(seen.get('INVALID_MODEL')).toBeGreaterThan(0);
    expect(seen.get('loaded')).toBeGreaterThan(0);
  }, TIME_LIMIT_MS);

  it('random bytes are not ONNX, or fail with an ImperaError', () => {
    fuzz(fc.uint8Array({ maxLength: 256 }), 500);
  }, TIME_LIMIT_MS);
});
