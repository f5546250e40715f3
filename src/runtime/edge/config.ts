/**
 * The runtime configuration `impera edge --config FILE` reads (YAML or JSON, format `impera-runtime/1`), and which
 * the planner's `--export` writes. Paths are relative to the file. docs/RUNTIME.md describes every field:
 *
 * ```yaml
 * format: impera-runtime/1
 * head: head.onnx              # runs on the device; its outputs are the cut tensors (wire tensors with a codec)
 * codec: codec.json            # optional: the codec inside the pair (impera split --codec)
 * tail: tail.onnx              # optional: the tail, for running locally when the server cannot
 * output: logits               # optional: the tail output that is the result (default: its first)
 * server:
 *   url: http://10.0.0.2:8000
 *   model: tail
 *   protocol: binary           # json | binary | websocket
 *   wire: packed               # packed: codec bytes (impera serve); tensors: wire tensors (any server, e.g. Triton)
 *   tokenEnv: IMPERA_TOKEN     # or token: ..., or tokenFile: ...
 *   ca: ca.pem                 # optional: trust this CA (TLS)
 * latencyBudgetMs: 200         # a frame not answered within this (from its start) falls back
 * fallback: local              # local | exit | none
 * exits:                       # optional: early exits the head computes, in depth order
 *   - output: exit1.logits
 *     threshold: 0.9           # the frame ends here when the exit's top softmax probability reaches this
 * reconnect: { initialMs: 200, maxMs: 5000 }
 * threads: 1
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ImperaError } from '../../errors.js';
import { configDir, readConfigFile, zodMessage } from '../../util/config.js';
import { PROTOCOLS } from './client.js';

export const RUNTIME_FORMAT = 'impera-runtime/1';

const positive = (what: string) => z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`);

export const runtimeSchema = z
  .object({
    format: z.literal(RUNTIME_FORMAT, { error: `format must be '${RUNTIME_FORMAT}'` }),
    head: z.string().min(1),
    codec: z.string().min(1).optional(),
    tail: z.string().min(1).optional(),
    output: z.string().min(1).optional(),
    server: z
      .object({
        url: z.url({ protocol: /^https?$/, error: 'server.url must be an http:// or https:// URL' }),
        model: z.string().min(1),
        version: z.string().min(1).optional(),
        protocol: z.enum(PROTOCOLS).default('binary'),
        wire: z.enum(['packed', 'tensors']).default('packed'),
        token: z.string().min(1).optional(),
        tokenEnv: z.string().min(1).optional(),
        tokenFile: z.string().min(1).optional(),
        ca: z.string().min(1).optional(),
      })
      .strict(),
    latencyBudgetMs: positive('latencyBudgetMs').default(1000),
    fallback: z.enum(['local', 'exit', 'none']).default('local'),
    exits: z.array(z.object({ output: z.string().min(1), threshold: z.number().gt(0).max(1, 'threshold is a probability in (0, 1]') }).strict()).default([]),
    reconnect: z.object({ initialMs: positive('reconnect.initialMs').default(200), maxMs: positive('reconnect.maxMs').default(5000) }).strict().default({ initialMs: 200, maxMs: 5000 }),
    threads: z.number().int().positive().default(1),
  })
  .strict();

export type RuntimeConfigFile = z.infer<typeof runtimeSchema>;

/** The configuration with paths resolved and the token read. */
export interface RuntimeConfig extends Omit<RuntimeConfigFile, 'server'> {
  server: Omit<RuntimeConfigFile['server'], 'tokenEnv' | 'tokenFile' | 'ca'> & { ca?: Buffer };
}

const configError = (file: string, why: string, hint = 'see docs/RUNTIME.md for the fields') => new ImperaError('BAD_RUNTIME_CONFIG', `runtime config '${file}': ${why}`, hint);

function readToken(file: string, s: RuntimeConfigFile['server'], dir: string): string | undefined {
  const given = [s.token, s.tokenEnv, s.tokenFile].filter((x) => x !== undefined).length;
  if (given > 1) throw configError(file, 'server: give one of token, tokenEnv, tokenFile');
  if (s.tokenEnv) {
    const v = process.env[s.tokenEnv];
    if (!v) throw configError(file, `server.tokenEnv: the environment variable ${s.tokenEnv} is not set`, `export ${s.tokenEnv}=<token>`);
    return v;
  }
  if (s.tokenFile) {
    const path = resolve(dir, s.tokenFile);
    if (!existsSync(path)) throw configError(file, `server.tokenFile: '${path}' does not exist`);
    return readFileSync(path, 'utf8').trim();
  }
  return s.token;
}

/** Validate a parsed configuration; `file` names it in errors and relative paths start from its folder. */
export function resolveRuntimeConfig(raw: unknown, file: string): RuntimeConfig {
  const parsed = runtimeSchema.safeParse(raw);
  if (!parsed.success) throw configError(file, zodMessage('', parsed.error));
  const c = parsed.data;
  const dir = configDir(file);
  const path = (field: string, p: string) => {
    const full = resolve(dir, p);
    if (!existsSync(full)) throw configError(file, `${field}: '${full}' does not exist`);
    return full;
  };
  if (c.codec && c.server.wire === 'packed' && c.server.protocol === 'json') {
    throw configError(file, 'server: packed wire bytes cannot travel as JSON (BYTES elements are text in JSON)', "use protocol 'binary' or 'websocket', or wire 'tensors'");
  }
  if (c.fallback === 'exit' && !c.exits.length) throw configError(file, "fallback is 'exit' but no exits are configured", "configure exits, or use fallback 'local' or 'none'");
  if (c.fallback === 'local' && !c.tail) throw configError(file, "fallback is 'local' but no tail is given to run locally", "give tail: tail.onnx, or use fallback 'none'");
  const { url, model, version, protocol, wire, ca } = c.server;
  const server = { url, model, ...(version ? { version } : {}), protocol, wire };
  const token = readToken(file, c.server, dir);
  return {
    ...c,
    head: path('head', c.head),
    ...(c.codec ? { codec: path('codec', c.codec) } : {}),
    ...(c.tail ? { tail: path('tail', c.tail) } : {}),
    server: { ...server, ...(token ? { token } : {}), ...(ca ? { ca: readFileSync(path('server.ca', ca)) } : {}) },
  };
}

export function loadRuntimeConfig(file: string): RuntimeConfig {
  return resolveRuntimeConfig(readConfigFile(file, 'runtime config', 'check the path', (why, line) => configError(line ? `${file}:${line}` : file, why)).value, file);
}
