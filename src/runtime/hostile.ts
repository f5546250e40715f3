/**
 * Hostile requests for the inference server, every one wrong by construction, so the only right answer is a 4xx:
 * garbage bodies, valid requests cut short, a wrong token, malformed JSON, wrong datatypes, shapes and names,
 * binary sizes and an Inference-Header-Content-Length that disagree with the body, unknown models and methods,
 * oversized headers. Seeded, so a failing case can be replayed. The server tests and `bench:serve` fire them
 * while correct requests keep flowing. And the server's worker processes, found from the server's pid, so the same
 * tests and bench can kill one under load (Linux /proc).
 */
import { HEADER_LENGTH, joinBody } from './protocol/body.js';
import { encodeRequest } from './protocol/messages.js';
import type { InferTensor } from './protocol/tensor.js';
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
