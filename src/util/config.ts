/**
 * What every reader of a user's config file needs: reading and parsing it with bounded work, where relative paths
 * start, and one line per invalid field.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isNode, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { ImperaError } from '../errors.js';

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

/** The folder a config file's relative paths start from. */
export const configDir = (file: string): string => dirname(resolve(file));

/** The first validation issue as `where.field.path: message` (just the message when neither is known). */
export function zodMessage(where: string, error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = [where, ...issue.path.map(String)].filter(Boolean).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** A problem with a config file, worded by its reader: `why` reads after "is" or ": ", the `line` where known. */
export type ConfigFailure = (why: string, line?: number) => ImperaError;

/** A parsed YAML or JSON config: its value, and the document and line counter that give fields' line numbers. */
export interface ParsedConfig {
  value: unknown;
  doc: Document;
  lines: LineCounter;
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

/** YAML (or JSON, which is YAML) text as a value; a syntax error, a repeated key or an alias bomb is `fail`. */
export function parseConfig(text: string, fail: ConfigFailure): ParsedConfig {
  const lines = new LineCounter();
  // logLevel 'error': yaml's warnings (a mapping used as a key) would print as a stray line; validation names the field
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, logLevel: 'error' });
  const syntax = doc.errors[0];
  const error = syntax ? { message: syntax.message, pos: syntax.pos[0] } : duplicateKey(doc);
  if (error) throw fail(`not valid YAML or JSON: ${error.message.split('\n')[0]}`, lines.linePos(error.pos).line);
  try {
    return { value: doc.toJS(), doc, lines };
  } catch (e) {
    // yaml refuses to expand more aliases than its maxAliasCount ("billion laughs"): a ReferenceError
    throw fail(`not valid YAML or JSON: ${(e as Error).message}`);
  }
}

/** A config file's size in bytes, or undefined when it cannot be read (readUserFile then says why). */
function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** Read and parse a user's YAML or JSON config file, refusing files over MAX_CONFIG_BYTES before reading them. */
export function readConfigFile(path: string, what: string, hint: string, fail: ConfigFailure): ParsedConfig {
  const size = sizeOf(path) ?? 0;
  if (size > MAX_CONFIG_BYTES) throw fail(`too large: ${(size / 2 ** 20).toFixed(1)} MiB (impera reads config files of at most ${MAX_CONFIG_BYTES / 2 ** 20} MiB)`);
  return parseConfig(readUserFile(path, what, hint), fail);
}
