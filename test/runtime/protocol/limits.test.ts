/** The JSON limits checked on raw bytes before parsing: depth and tensor count as a parser would see them, id kept. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/runtime/protocol/errors.js';
import { checkJsonLimits, type JsonLimits } from '../../../src/runtime/protocol/limits.js';

const bytes = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const refusal = (text: string, limits: JsonLimits): ProtocolError | undefined => {
  try {
    checkJsonLimits(bytes(text), limits);
    return undefined;
  } catch (e) {
    return e as ProtocolError;
  }
};

/** The oracle: nesting depth of a parsed value (a scalar is 0, [] and {} are 1). */
const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);

describe('checkJsonLimits', () => {
  it('measures depth as the parsed value has it, whatever strings hold (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 8 })), (value) => {
        const depth = depthOf(value);
        expect(() => checkJsonLimits(bytes(value), { maxDepth: depth, maxTensors: 1e9 })).not.toThrow();
        expect(refusal(JSON.stringify(value), { maxDepth: depth - 1, maxTensors: 1e9 })?.message).toBe(`the JSON nests deeper than ${depth - 1} levels`);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a million-deep array with a 400 and the id that came before it', () => {
    const e = refusal(`{"id": "deep-\\"1[", "inputs": [{"data": ${'['.repeat(1_000_000)}`, { maxDepth: 32, maxTensors: 8 });
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e).toMatchObject({ status: 400, requestId: 'deep-"1[' });
    expect(e!.oneLine()).toMatch(/nests deeper than 32 levels \(.*send large tensors as binary data\)/);
  });

  it('counts the tensors listed under "inputs" and "outputs", not objects deeper down or under other keys', () => {
    const tensor = { name: 'x', shape: [1], datatype: 'FP32', data: [1], parameters: { a: 1 } };
    const limits = { maxDepth: 32, maxTensors: 3 };
    expect(refusal(JSON.stringify({ id: 'a', parameters: { inputs: [{}, {}, {}, {}] }, inputs: [tensor, tensor, tensor], outputs: [{ name: 'y' }, { name: 'z' }, { name: 'w' }] }), limits)).toBeUndefined();
    expect(refusal(JSON.stringify({ id: 'many', inputs: Array(4).fill(tensor) }), limits)).toMatchObject({ status: 400, requestId: 'many', message: 'the request lists more than 3 tensors under "inputs"' });
    expect(refusal(JSON.stringify({ inputs: [tensor], outputs: Array(4).fill({ name: 'y' }) }), limits)?.message).toBe('the request lists more than 3 tensors under "outputs"');
  });

  it('lets malformed JSON through for the parser to report', () => {
    for (const text of ['', '{"inputs": [', '}}}]]', '"unterminated', 'nul']) expect(refusal(text, { maxDepth: 2, maxTensors: 1 })).toBeUndefined();
  });
});
