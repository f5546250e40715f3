/** Protocol errors: the error code agrees with the HTTP status the server answers with. */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/runtime/protocol/errors.js';

describe('ProtocolError', () => {
  it.each([[400, 'BAD_REQUEST'], [404, 'BAD_REQUEST'], [429, 'BAD_REQUEST'], [499, 'BAD_REQUEST'], [500, 'SERVER_ERROR'], [502, 'SERVER_ERROR'], [503, 'SERVER_ERROR'], [504, 'SERVER_ERROR']])('status %i has code %s', (status, code) => {
    const e = new ProtocolError(status, 'what is wrong', 'how to fix it');
    expect(e).toMatchObject({ status, code, message: 'what is wrong' });
    expect(e.oneLine()).toBe('what is wrong (how to fix it)');
  });
});
