/** What every reader of a user's config file needs: where relative paths start, and one line per invalid field. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { ImperaError } from '../errors.js';

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
