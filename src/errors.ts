/**
 * Errors a user can act on. Every failure impera expects (bad paths, bad models, bad arguments) is an
 * ImperaError with a stable code, a message saying what is wrong and a hint saying how to fix it; the CLI
 * prints them as one line and exits non-zero. Anything else is a bug and keeps its stack trace.
 */
export type ErrorCode =
  | 'FILE_NOT_FOUND'
  | 'NOT_ONNX'
  | 'TRUNCATED_MODEL'
  | 'INVALID_MODEL'
  | 'DYNAMIC_SHAPE'
  | 'BAD_INPUT_SHAPE'
  | 'SHAPE_INFERENCE'
  | 'UNKNOWN_CUT'
  | 'INVALID_CUT'
  | 'BAD_ARGUMENT'
  | 'VERIFY_FAILED'
  | 'DATASET'
  | 'METRIC'
  | 'PROFILE_INVALID'
  | 'PROFILE_MISMATCH'
  | 'UNKNOWN_DEVICE'
  | 'CATALOG_INVALID'
  | 'DOES_NOT_FIT'
  | 'BAD_LINK'
  | 'UNKNOWN_PRESET'
  | 'BAD_TRACE'
  | 'BAD_SCENARIO'
  | 'NS3_MISSING'
  | 'NS3_FAILED'
  | 'NO_GRADIENT'
  | 'DUPLICATE_RULE'
  | 'BAD_CODEC'
  | 'BAD_REQUEST'
  | 'BAD_REPOSITORY'
  | 'BAD_RUNTIME_CONFIG'
  | 'BAD_SWITCHING_PLAN'
  | 'SERVER_ERROR'
  | 'SERVER_UNREACHABLE'
  | 'SHAPER_FAILED'
  | 'CPU_QUOTA_FAILED';

export class ImperaError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'ImperaError';
    this.code = code;
    this.hint = hint;
  }

  /** The one line the CLI prints. */
  oneLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export const isImperaError = (e: unknown): e is ImperaError => e instanceof ImperaError;
