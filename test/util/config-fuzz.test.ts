/**
 * Property-based fuzzing of the YAML/JSON config readers (plan scenario, simulate scenario, runtime config, device
 * catalog): thousands of mutations of valid files (truncations, flipped characters, deleted or repeated lines,
 * inserted YAML syntax, replaced values) and random JSON documents, each either read or refused with an ImperaError
 * (one line from the CLI); never a TypeError/RangeError (the CLI's "internal error").
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { readCatalogFile } from '../../src/devices/catalog.js';
import { isImperaError } from '../../src/errors.js';
import { readPlanScenario } from '../../src/plan/scenario.js';
import { loadRuntimeConfig } from '../../src/runtime/edge/config.js';
import { readScenario } from '../../src/sim/scenario.js';
import { PACKAGE_ROOT } from '../../src/util/package.js';

const dir = mkdtempSync(join(tmpdir(), 'impera-config-fuzz-'));
for (const f of ['head.onnx', 'tail.onnx', 'codec.json', 'ca.pem', 'token.txt']) writeFileSync(join(dir, f), 'x');
const example = (path: string) => readFileSync(join(PACKAGE_ROOT, path), 'utf8');

const RUNTIME = `format: impera-runtime/1
head: head.onnx
codec: codec.json
tail: tail.onnx
output: logits
server:
  url: http://10.0.0.2:8000
  model: tail
  protocol: binary
  wire: packed
  tokenFile: token.txt
  ca: ca.pem
latencyBudgetMs: 200
fallback: local
exits:
  - output: exit1.logits
    threshold: 0.9
reconnect: { initialMs: 200, maxMs: 5000 }
threads: 1
`;

/** Bits of YAML syntax and hostile values to splice in. */
const SNIPPETS = ['&a ', '*a', '*nope', '{', '}', '[', ']', ': ', '- ', '? ', '!!binary ', '!!js/function ', '<<: *a', '\t', '%YAML 1.1\n', '---\n', '...', '"', "'", '#', '|', '>', '\\u0000', 'null', '~', '-1', '1e309', '.nan', '.inf', '0x1F', '2026-12-07', '[[[[[[[[', '{a: 1, a: 2}', 'x'.repeat(300)];

/** Whole top-level entries to insert between lines: an alias bomb ("billion laughs"), a repeated key, an anchor and merge. */
const ENTRIES = [
  ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]', ...[1, 2, 3, 4, 5].map((k) => `l${k}: &l${k} [${Array(10).fill(`*l${k - 1}`).join(', ')}]`)].join('\n'),
  'name: twice',
  'base: &base { a: 1 }\nmerged: { <<: *base, b: 2 }',
];

/** One text mutation of `text`. */
const mutated = (text: string): fc.Arbitrary<string> => {
  const lines = text.split('\n');
  return fc.oneof(
    fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
    fc.array(fc.tuple(fc.nat({ max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })), { minLength: 1, maxLength: 6 }).map((flips) => flips.reduce((t, [at, c]) => t.slice(0, at) + c + t.slice(at + 1), text)),
    fc.tuple(fc.nat({ max: text.length }), fc.constantFrom(...SNIPPETS)).map(([at, s]) => text.slice(0, at) + s + text.slice(at)),
    fc.nat({ max: lines.length - 1 }).map((i) => lines.filter((_, j) => j !== i).join('\n')),
    fc.tuple(fc.nat({ max: lines.length }), fc.constantFrom(...ENTRIES)).map(([i, entry]) => [...lines.slice(0, i), entry, ...lines.slice(i)].join('\n')),
    fc.nat({ max: lines.length - 1 }).map((i) => [...lines.slice(0, i + 1), lines[i], ...lines.slice(i + 1)].join('\n')),
    // a scalar value replaced by something of another type or range
    fc.tuple(fc.nat({ max: lines.length - 1 }), fc.oneof(fc.constantFrom('-1', '0', '1e309', '.nan', 'null', '[]', '{}', '""', 'true', '[1, [2]]', '{x: {y: z}}'), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)))).map(([i, value]) =>
      lines.map((l, j) => (j === i ? l.replace(/:\s.*$/, `: ${value}`) : l)).join('\n'),
    ),
  );
};

/** Random documents: JSON values of any shape, and JSON objects with the reader's own field names. */
const randomDocument = (fields: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.constantFrom(...fields), fc.jsonValue({ maxDepth: 2 })).map((v) => JSON.stringify(v)),
  );

/** `read` on each generated file either returns or throws an ImperaError. */
function fuzz(name: string, read: (file: string) => unknown, valid: string, fields: string[], numRuns: number): void {
  const file = join(dir, name);
  fc.assert(
    fc.property(fc.oneof(mutated(valid), randomDocument(fields)), (text) => {
      writeFileSync(file, text);
      try {
        read(file);
      } catch (e) {
        if (!isImperaError(e)) throw new Error(`not an ImperaError for ${JSON.stringify(text)}: ${(e as Error).stack ?? String(e)}`);
      }
    }),
    { numRuns, seed: 14 },
  );
}

describe('fuzzing the config readers', () => {
  it('the plan scenario reader reads or refuses every mutated or random file with an ImperaError', () => {
    fuzz('plan.yaml', readPlanScenario, example('examples/plan/impera.yaml'), ['name', 'model', 'data', 'devices', 'links', 'qos', 'objective', 'explore', 'workload'], 800);
  });

  it('the simulate scenario reader reads or refuses every mutated or random file with an ImperaError', () => {
    for (const f of ['wifi-cameras.yaml', 'split-et-impera.yaml', 'lte-trace.yaml']) fuzz('sim.yaml', readScenario, example(`examples/scenarios/${f}`), ['devices', 'link', 'server', 'setups', 'durationS', 'model'], 300);
  });

  it('the runtime config reader reads or refuses every mutated or random file with an ImperaError', () => {
    fuzz('edge.yaml', loadRuntimeConfig, RUNTIME, ['format', 'head', 'tail', 'codec', 'server', 'exits', 'fallback', 'latencyBudgetMs'], 800);
  });

  it('the device catalog reader reads or refuses every mutated or random file with an ImperaError', () => {
    fuzz('catalog.yaml', readCatalogFile, example('devices/catalog.yaml'), ['devices', 'radios'], 400);
  });
});
