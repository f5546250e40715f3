/** What every reader of a user's config file needs: where relative paths start, and one line per invalid field. */
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';

/** The folder a config file's relative paths start from. */
export const configDir = (file: string): string => dirname(resolve(file));

/** The first validation issue as `where.field.path: message` (just the message when neither is known). */
export function zodMessage(where: string, error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = [where, ...issue.path.map(String)].filter(Boolean).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
