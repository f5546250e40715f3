/** Rules keyed by (domain, op type): one rule per op, domains kept apart, a second registration refused. */
import { describe, expect, it } from 'vitest';
import { ImperaError } from '../../src/errors.js';
import { OpTable } from '../../src/onnx/op-table.js';

const table = () => OpTable.of<string>('a test rule', 'registerTest', [[[['Relu', 'Neg'], 'unary']]]);

describe('OpTable', () => {
  it('refuses a second rule for the same op with a one-line error naming the op and the fix', () => {
    const t = table();
    expect(() => t.register('Relu', 'other')).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_RULE', message: 'a test rule for op Relu is already registered', hint: 'pass { replace: true } to registerTest to replace it' }),
    );
    expect(() => t.register(['Abs', 'Neg'], 'other')).toThrow(ImperaError);
    expect(t.get('', 'Relu')).toBe('unary');
  });

  it('refuses two rule lists that both cover an op', () => {
    expect(() => OpTable.of('a test rule', 'registerTest', [[['Add', 'a'], ['Sub', 'b']], [['Sub', 'c']]])).toThrow(/a test rule for op Sub is already registered/);
  });

  it('replaces a rule only when asked to', () => {
    const t = table();
    t.register('Relu', 'mine', { replace: true });
    expect(t.get('', 'Relu')).toBe('mine');
    expect(t.get('', 'Neg')).toBe('unary');
  });

  it('keeps a custom-domain op apart from the standard op of the same name', () => {
    const t = table();
    t.register('Relu', 'custom', { domain: 'com.example' });
    expect(t.get('com.example', 'Relu')).toBe('custom');
    expect(t.get('', 'Relu')).toBe('unary');
    expect(t.get('com.example', 'Neg')).toBeUndefined();
    expect(() => t.register('Relu', 'again', { domain: 'com.example' })).toThrow(/a test rule for op Relu in domain 'com.example' is already registered/);
    expect(t.opTypes()).toEqual(['Neg', 'Relu']);
    expect(t.opTypes('com.example')).toEqual(['Relu']);
  });

  it("treats 'ai.onnx' as the default domain", () => {
    const t = table();
    expect(t.get('ai.onnx', 'Neg')).toBe('unary');
    expect(() => t.register('Neg', 'x', { domain: 'ai.onnx' })).toThrow(/already registered/);
  });
});
