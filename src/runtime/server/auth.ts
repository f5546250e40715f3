/**
 * Bearer-token authentication (RFC 6750): `Authorization: Bearer <token>`. Tokens are compared as SHA-256
 * digests with a constant-time comparison, against every configured token, so neither the position of the
 * first differing byte nor a token's length shows in the response time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

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
