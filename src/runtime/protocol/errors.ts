/**
 * A request the server refuses, with the HTTP status it answers with. The protocol's error object is
 * `{"error": "<message>"}` (inference_rest.md, "Inference Response JSON Error Object"); the hint is appended to
 * the message so a client sees what to change. The error code follows the status: a 4xx is the request's fault
 * (BAD_REQUEST), a 5xx the server's (SERVER_ERROR).
 */
import { ImperaError, type ErrorCode } from '../../errors.js';

const codeOfStatus = (status: number): ErrorCode => (status >= 500 ? 'SERVER_ERROR' : 'BAD_REQUEST');

export class ProtocolError extends ImperaError {
  readonly status: number;
  /** For 429 and 503: when to try again, in seconds (the Retry-After header). */
  readonly retryAfterS: number | undefined;
  /** The id of the request that failed, when it could be read (the stream answers errors by id). */
  requestId: string | undefined;

  constructor(status: number, message: string, hint?: string, retryAfterS?: number) {
    super(codeOfStatus(status), message, hint);
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

export const isProtocolError = (e: unknown): e is ProtocolError => e instanceof ProtocolError;
