/**
 * Bearer-token authentication (RFC 6750): `Authorization: Bearer <token>`. Tokens are compared as SHA-256
 * digests with a constant-time comparison, against every configured token, so neither the position of the
 * first differing byte nor a token's length shows in the response time. A token no client can send (empty,
 * with spaces, control or non-ASCII characters) is refused at start: it would lock everyone out silently.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ImperaError } from '../../errors.js';

/** What fits in `Authorization: Bearer <token>` and arrives unchanged: printable ASCII without spaces. */
const SENDABLE = /^[\x21-\x7e]+$/;

/** Refuse tokens nobody could authenticate with; `sources` names where each came from (default: its position). */
export function checkTokens(tokens: readonly string[], sources: readonly string[] = []): void {
  tokens.forEach((token, i) => {
    if (SENDABLE.test(token)) return;
    const why = token === '' ? 'is empty' : 'has a space, a control or a non-ASCII character';
    throw new ImperaError('BAD_ARGUMENT', `the bearer token ${sources[i] ?? `number ${i + 1}`} ${why}, so no client could authenticate`, 'use printable ASCII without spaces, e.g. the output of `openssl rand -hex 32`');
  });
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** A check of an Authorization header against the tokens (no tokens: everything passes). */
export function bearerCheck(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  const expected = tokens.map(digest);
  return (authorization) => {
    if (!expected.length) return true;
    const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    const given = digest(m?.[1] ?? '');
    let ok = false;
    for (const e of expected) ok = timingSafeEqual(e, given) || ok;
    return ok && m !== null;
  };
}
