/**
 * What every reader of a user's config file needs: one way to read, parse (YAML or JSON) and validate a file with
 * bounded work and errors naming the file, the line and the field; where its relative paths start; one line per
 * invalid field.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isNode, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { ImperaError, type ErrorCode } from '../errors.js';

/** The largest config file impera parses: far above any real one, and parsed in about a second. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** A user's file as text; missing or unreadable, an error naming it as `what` (a folder is not a corrupt file). */
export function readUserFile(path: string, what: string, hint: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ImperaError('FILE_NOT_FOUND', missing ? `${what} '${path}' does not exist` : `${what} '${path}' cannot be read (${(e as Error).message})`, hint);
  }
}

/** A kind of config file, as its errors name it. */
export interface ConfigFileKind {
  /** What the file is: 'scenario', 'device catalog'. */
  what: string;
  /** The error code of a file that exists but is not valid. */
  code: ErrorCode;
  /** What to do when the file is missing or cannot be read. */
  missingHint: string;
  /** What to do when its content is not valid. */
  invalidHint: string;
}

/** A parsed file and the line each of its values is on. */
interface ParsedConfig {
  value: unknown;
  lineOf: (path: readonly PropertyKey[]) => number | null;
}

/**
 * Read a config file (YAML, or JSON, which is YAML too), validate it with `schema` and return the valid value.
 * An empty file is an empty mapping. Errors name the file, the line and the field:
 * `scenario 'a.yaml' line 7: qos.latency.ms: latency.ms must be a number`.
 */
export function readConfigFile<S extends z.ZodType>(path: string, schema: S, kind: ConfigFileKind): z.output<S> {
  const size = sizeOf(path) ?? 0;
  if (size > MAX_CONFIG_BYTES) {
    throw new ImperaError(kind.code, `${kind.what} '${path}' is too large: ${(size / 2 ** 20).toFixed(1)} MiB (impera reads config files of at most ${MAX_CONFIG_BYTES / 2 ** 20} MiB)`, kind.invalidHint);
  }
  const text = readUserFile(path, kind.what, kind.missingHint);
  const parsed = parseConfigText(text, path, kind);
  const checked = schema.safeParse(parsed.value);
  if (checked.success) return checked.data;
  const issue = checked.error.issues[0]!;
  const line = parsed.lineOf(issue.path);
  throw new ImperaError(kind.code, `${kind.what} '${path}'${line ? ` line ${line}` : ''}: ${issueMessage(issue, parsed.value)}`, kind.invalidHint);
}

/** JSON files take the fast JSON parser (profiles are large) and are parsed again for line numbers only on an error. */
function parseConfigText(text: string, path: string, kind: ConfigFileKind): ParsedConfig {
  if (/\.json$/i.test(path)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new ImperaError(kind.code, `${kind.what} '${path}' is not valid JSON: ${(e as Error).message}`, kind.invalidHint);
    }
    return { value, lineOf: (p) => linesOf(text).lineOf(p) };
  }
  const doc = linesOf(text);
  const invalid = (line: number | undefined, message: string) =>
    new ImperaError(kind.code, `${kind.what} '${path}' is not valid YAML or JSON${line ? ` (line ${line})` : ''}: ${message}`, kind.invalidHint);
  if (doc.error) throw invalid(doc.error.line, doc.error.message);
  const repeated = duplicateKey(doc.doc);
  if (repeated) throw invalid(doc.counter.linePos(repeated.pos).line, repeated.message);
  try {
    return { value: doc.doc.toJS() ?? {}, lineOf: doc.lineOf };
  } catch (e) {
    // yaml refuses to expand more aliases than its maxAliasCount ("billion laughs"): a ReferenceError
    throw invalid(undefined, (e as Error).message.split('\n')[0]!);
  }
}

function linesOf(text: string): { doc: Document; counter: LineCounter; error?: { line: number; message: string }; lineOf: ParsedConfig['lineOf'] } {
  const counter = new LineCounter();
  // uniqueKeys off: yaml's own check is quadratic in a mapping's keys (duplicateKey is linear); logLevel 'error':
  // its warnings (a mapping used as a key) would print as a stray line, and validation names the field anyway
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: false, logLevel: 'error' });
  const e = doc.errors[0];
  const error = e ? { line: e.linePos?.[0]?.line ?? counter.linePos(e.pos[0]).line, message: e.message.split('\n')[0]! } : undefined;
  return { doc, counter, ...(error ? { error } : {}), lineOf: (path) => lineOf(doc, counter, path) };
}

/** The line (1-based) of the value at `path` in the document, or of the nearest parent that exists. */
function lineOf(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number | null {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return counter.linePos(node.range[0]).line;
  }
  return null;
}

/**
 * A validation issue as `field.path (entry id): what is wrong`, in words a user reads: unknown fields named,
 * the allowed values listed, a missing field called missing. `raw` is the validated value, to name the entry.
 */
function issueMessage(issue: z.core.$ZodIssue, raw: unknown): string {
  const field = issue.path.map(String).join('.') || '(top level)';
  const id = entryId(raw, issue.path);
  return `${field}${id ? ` (${id})` : ''}: ${issueText(issue)}`;
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  if (issue.code === 'invalid_value' && 'values' in issue) return `must be one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (/received undefined/.test(issue.message)) return 'missing';
  return issue.message;
}

/** The id of the list entry an issue is in (catalog devices have ids), to name it. */
function entryId(raw: unknown, path: readonly PropertyKey[]): string | undefined {
  const at = path.findIndex((p) => typeof p === 'number');
  if (at < 0) return undefined;
  let entry: unknown = raw;
  for (const p of path.slice(0, at + 1)) entry = (entry as Record<PropertyKey, unknown> | undefined)?.[p as string];
  const id = (entry as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** The folder a config file's relative paths start from. */
export const configDir = (file: string): string => dirname(resolve(file));

/** The first validation issue as `where.field.path: message` (just the message when neither is known). */
export function zodMessage(where: string, error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = [where, ...issue.path.map(String)].filter(Boolean).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** The first key that repeats within one mapping, found in time linear in the document (yaml's own check is quadratic). */
function duplicateKey(doc: Document): { message: string; pos: number } | undefined {
  let found: { message: string; pos: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        const name = isScalar(key) ? key.value : String(key);
        if (seen.has(name)) {
          found = { message: `the key '${String(name)}' appears twice in one mapping`, pos: isNode(key) ? (key.range?.[0] ?? 0) : 0 };
          return visit.BREAK;
        }
        seen.add(name);
      }
      return undefined;
    },
  });
  return found;
}

/** A config file's size in bytes, or undefined when it cannot be read (readUserFile then says why). */
function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
