/**
 * Hostile requests for the inference server, every one wrong by construction, so the only right answer is a 4xx:
 * garbage bodies, valid requests cut short, a wrong token, malformed JSON, wrong datatypes, shapes and names,
 * binary sizes and an Inference-Header-Content-Length that disagree with the body, unknown models and methods,
 * oversized headers, JSON nested thousands deep, more tensors than the server takes. Seeded, so a failing case can
 * be replayed. The server tests and `bench:serve` fire them while correct requests keep flowing. Stream messages
 * that must be refused with their id kept, and `impera serve` arguments that must be refused at start, complete
 * them. And the server's worker processes, found from the server's pid, so the same tests and bench can kill one
 * under load (Linux /proc).
 */
import { HEADER_LENGTH, joinBody } from '../runtime/protocol/body.js';
import { encodeRequest } from '../runtime/protocol/messages.js';
import { frameMessage } from '../runtime/protocol/stream.js';
import type { InferTensor } from '../runtime/protocol/tensor.js';
import { seededRandom } from '../util/random.js';
import { readdirSync, readFileSync } from 'node:fs';

export interface RawRequest {
  /** What is wrong with it (the case's family). */
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface HostileTarget {
  model: string;
  /** A correct request's inputs (the generator corrupts copies of it). */
  inputs: InferTensor[];
  /** The server's token, if it has one (requests carry it unless the case is about the token). */
  token?: string;
}

type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const randomBytes = (rand: Rand, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));

const WRONG_DATATYPES = ['FP33', 'fp32', '', 'STRING', 'INT128', 'BF16', 'UINT1'];

/** The JSON header and binary payload of a correct binary request, to corrupt. */
function correct(t: HostileTarget): { json: Record<string, unknown>; binary: Buffer } {
  const body = encodeRequest({ inputs: t.inputs }, { binaryInputs: true });
  const all = joinBody(body);
  return { json: JSON.parse(all.subarray(0, body.headerLength).toString('utf8')), binary: all.subarray(body.headerLength) };
}

/** One broken request of a randomly chosen family. */
export function hostileRequest(t: HostileTarget, rand: Rand): RawRequest {
  const path = `/v2/models/${encodeURIComponent(t.model)}/infer`;
  const auth: Record<string, string> = t.token ? { authorization: `Bearer ${t.token}` } : {};
  const { json, binary } = correct(t);
  const input = (json.inputs as Record<string, unknown>[])[0]!;
  const binaryRequest = (header: unknown, data: Buffer, headerLength?: number): Pick<RawRequest, 'headers' | 'body'> => {
    const h = Buffer.from(JSON.stringify(header));
    return { headers: { ...auth, 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(headerLength ?? h.length) }, body: Buffer.concat([h, data]) };
  };
  const withInput = (change: Record<string, unknown>) => ({ ...json, inputs: [{ ...input, ...change }] });
  const cases: (() => RawRequest)[] = [
    () => ({ kind: 'garbage body', method: 'POST', path, headers: { ...auth, 'content-type': 'application/json' }, body: randomBytes(rand, int(rand, 0, 2048)) }),
    () => {
      const text = Buffer.from(JSON.stringify(json));
      return { kind: 'malformed JSON', method: 'POST', path, headers: { ...auth, 'content-type': 'application/json' }, body: text.subarray(0, int(rand, 0, text.length - 2)) };
    },
    () => ({ kind: 'truncated binary', method: 'POST', path, ...binaryRequest(json, binary.subarray(0, int(rand, 0, binary.length - 1))) }),
    () => ({ kind: 'binary longer than declared', method: 'POST', path, ...binaryRequest(json, Buffer.concat([binary, randomBytes(rand, int(rand, 1, 64))])) }),
    () => {
      const size = (input.parameters as { binary_data_size: number }).binary_data_size;
      return { kind: 'binary_data_size disagrees', method: 'POST', path, ...binaryRequest(withInput({ parameters: { binary_data_size: size + pick(rand, [-4, -1, 1, 4, 1000]) } }), binary) };
    },
    () => {
      const h = Buffer.from(JSON.stringify(json));
      return { kind: 'header length disagrees', method: 'POST', path, ...binaryRequest(json, binary, pick(rand, [h.length - 1, h.length + 1, h.length + binary.length + 1])) };
    },
    () => ({ kind: 'garbage header length', method: 'POST', path, headers: { ...auth, [HEADER_LENGTH]: pick(rand, ['-1', 'abc', '1e3', '99999999999999999999', ' ']) }, body: Buffer.concat([Buffer.from(JSON.stringify(json)), binary]) }),
    () => ({ kind: 'wrong datatype', method: 'POST', path, ...binaryRequest(withInput({ datatype: pick(rand, WRONG_DATATYPES) }), binary) }),
    () => {
      const shape = input.shape as number[];
      const wrong = pick(rand, [[...shape, 1], shape.slice(1), shape.map((d, i) => (i === shape.length - 1 ? d + 1 : d)), shape.map(() => 0), [-1, ...shape.slice(1)], [1.5, ...shape.slice(1)]]);
      return { kind: 'wrong shape', method: 'POST', path, ...binaryRequest(withInput({ shape: wrong }), binary) };
    },
    () => ({ kind: 'unknown input', method: 'POST', path, ...binaryRequest(withInput({ name: `x${int(rand, 0, 1e6)}` }), binary) }),
    () => ({ kind: 'no inputs', method: 'POST', path, headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(pick(rand, [{}, { inputs: [] }, { inputs: {} }, { inputs: null }, [], 42, 'x']))) }),
    () => {
      const data = pick<unknown>(rand, [[1, 2, 3], 'abc', null, [[1], 2], [true], { a: 1 }]);
      return { kind: 'wrong JSON data', method: 'POST', path, headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ inputs: [{ name: input.name, shape: input.shape, datatype: input.datatype, data }] })) };
    },
    () => ({ kind: 'unknown output', method: 'POST', path, ...binaryRequest({ ...json, outputs: [{ name: `out${int(rand, 0, 1e6)}` }] }, binary) }),
    () => ({ kind: 'unknown model', method: 'POST', path: `/v2/models/m${int(rand, 0, 1e6)}/infer`, ...binaryRequest(json, binary) }),
    () => ({ kind: 'unknown version', method: 'POST', path: `/v2/models/${encodeURIComponent(t.model)}/versions/${int(rand, 2, 99)}/infer`, ...binaryRequest(json, binary) }),
    () => ({ kind: 'wrong method', method: pick(rand, ['GET', 'PUT', 'DELETE', 'PATCH']), path, headers: auth }),
    () => ({ kind: 'unknown route', method: pick(rand, ['GET', 'POST']), path: `/v${int(rand, 0, 9)}/${randomBytes(rand, 6).toString('hex')}`, headers: auth }),
    ...limitCases(t, rand, path, auth),
    ...(t.token
      ? [
          () => ({ kind: 'no token', method: 'POST', path, ...binaryRequest(json, binary), headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(Buffer.from(JSON.stringify(json)).length) } }),
          () => ({ kind: 'wrong token', method: 'POST', path, ...binaryRequest(json, binary), headers: { authorization: `Bearer ${t.token}${pick(rand, ['x', '0', ' x'])}` } }),
        ]
      : []),
  ];
  return pick(rand, cases)();
}

/** `count` hostile requests from a seed. */
export function hostileRequests(t: HostileTarget, count: number, seed = 1): RawRequest[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => hostileRequest(t, rand));
}

// ---- requests past the server's structure limits (issue 14): deep JSON, many tensors, on HTTP and the stream ----

/** JSON nested `levels` deep where a tensor's data belongs: arrays, or objects in an array. */
function deepData(rand: Rand, levels: number): string {
  return rand() < 0.5 ? '['.repeat(levels) + ']'.repeat(levels) : `[${'{"a":'.repeat(levels)}0${'}'.repeat(levels)}]`;
}

/** A JSON request for `model` with `tensors` (raw JSON text each) under "inputs". */
const jsonRequest = (fields: Record<string, string>, tensors: string[]): string => `{${Object.entries(fields).map(([k, v]) => `"${k}": ${JSON.stringify(v)}, `).join('')}"inputs": [${tensors.join(',')}]}`;

const LIMIT_KINDS = ['deep JSON', 'many tensors'] as const;

/** A body past the default limits (depth 32, 1024 tensors) under 64 kB, so the depth or count check answers. */
function limitBody(t: HostileTarget, rand: Rand, kind: (typeof LIMIT_KINDS)[number], fields: Record<string, string>): Buffer {
  const tensors = kind === 'deep JSON'
    ? [`{"name": ${JSON.stringify(t.inputs[0]!.name)}, "shape": [1], "datatype": "FP32", "data": ${deepData(rand, int(rand, 33, 5000))}}`]
    : Array.from({ length: int(rand, 1025, 1150) }, () => '{"name":"a","shape":[0],"datatype":"FP32","data":[]}');
  return Buffer.from(jsonRequest(fields, tensors));
}

function limitCases(t: HostileTarget, rand: Rand, path: string, auth: Record<string, string>): (() => RawRequest)[] {
  return LIMIT_KINDS.map((kind) => () => ({ kind, method: 'POST', path, headers: { ...auth, 'content-type': 'application/json' }, body: limitBody(t, rand, kind, {}) }));
}

/** A stream message the server must refuse (4xx) in an error message carrying `id`. */
export interface HostileStreamMessage {
  kind: string;
  id: string;
  message: Uint8Array;
}

/** `count` stream messages past the structure limits, each with its own id, from a seed. */
export function hostileStreamMessages(t: HostileTarget, count: number, seed = 1): HostileStreamMessage[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const id = `hostile-${i}`;
    const kind = pick(rand, LIMIT_KINDS);
    const bytes = limitBody(t, rand, kind, { id, model_name: t.model });
    return { kind, id, message: frameMessage({ chunks: [bytes], headerLength: undefined, byteLength: bytes.length }) };
  });
}

/** `impera serve` arguments that must stop it at start with a one-line error (each alone would lock out or hang). */
export const HOSTILE_SERVE_ARGS: readonly { kind: string; args: string[] }[] = [
  { kind: 'empty token', args: ['--token', ''] },
  { kind: 'token with a space', args: ['--token', 'two words'] },
  { kind: 'batch delay of 115 days', args: ['--batch-delay-ms', '1e10'] },
  { kind: 'inference timeout 0', args: ['--inference-timeout-ms', '0'] },
  { kind: 'JSON depth of a billion', args: ['--max-json-depth', '1e9'] },
];

/** Parent pid of every process (Linux /proc); processes that exit while it reads are left out. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      out.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])); // after "(comm) state"
    } catch {
      // exited
    }
  }
  return out;
}

/** Pids of the inference workers of the server running in process `serverPid` (or below it), alive now. */
export function serverWorkers(serverPid: number): number[] {
  const ppid = parents();
  const below = (pid: number): boolean => {
    for (let p = ppid.get(pid); p !== undefined && p > 1; p = ppid.get(p)) if (p === serverPid) return true;
    return false;
  };
  return [...ppid.keys()].filter((pid) => {
    try {
      return below(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('runtime/server/worker.js');
    } catch {
      return false;
    }
  });
}
