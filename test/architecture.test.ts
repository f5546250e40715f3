/**
 * The module layering of docs/ARCHITECTURE.md as a check: every import in src/ (static, re-export, side-effect,
 * dynamic, and worker URLs) goes from a folder to one in a lower layer, so the folders form a DAG and a new
 * back-edge fails here. Folders in one layer are independent of each other; graph/ and ops/ are one unit (shape
 * rules and the graph IR refer to each other).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Layers from the bottom up: a folder may import from its own folder and from folders of lower layers. */
const LAYERS: readonly (readonly string[])[] = [
  ['errors'],
  ['util'],
  ['onnx'],
  ['ort'],
  ['graph', 'ops'],
  ['cost', 'autodiff', 'data', 'net'],
  ['task'],
  ['cuts'],
  ['codecs'],
  ['export'],
  ['saliency', 'eval', 'exits', 'profile', 'bottlenecks'],
  ['devices'],
  ['placement', 'sim'],
  ['plan'],
  ['report', 'runtime'],
  ['harness'],
  ['cli', 'index', 'api'],
];

/** Folders that import each other as one concern (in one layer). */
const UNITS: readonly (readonly string[])[] = [['graph', 'ops']];

interface Edge {
  from: string;
  to: string;
}

/** Relative module specifiers a source file loads: `import ... from`, `export ... from`, `import '...'`, `import('...')`, `new URL('...', import.meta.url)`. */
function relativeImports(source: string): string[] {
  const patterns = [/\bfrom\s*['"]([^'"]+)['"]/g, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bnew URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g];
  return patterns.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]!)).filter((s) => s.startsWith('.'));
}

/** The layered folder of a path under src/: its first folder, or the file's name for files at the top (errors.ts, index.ts). */
function folderOf(srcPath: string): string {
  const [first, ...rest] = srcPath.split('/');
  return rest.length ? first! : first!.replace(/\.[jt]s$/, '');
}

/** Edges that do not go down the layers (or name a folder no layer lists), as 'from -> to'. */
function backEdges(edges: readonly Edge[], layers: readonly (readonly string[])[], units: readonly (readonly string[])[]): string[] {
  const rank = new Map(layers.flatMap((layer, i) => layer.map((f) => [f, i] as const)));
  const sameUnit = (a: string, b: string) => units.some((u) => u.includes(a) && u.includes(b));
  return edges
    .filter(({ from, to }) => {
      const a = folderOf(from);
      const b = folderOf(to);
      if (a === b || sameUnit(a, b)) return false;
      const ra = rank.get(a);
      const rb = rank.get(b);
      return ra === undefined || rb === undefined || rb >= ra;
    })
    .map(({ from, to }) => `${from} -> ${to}`);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every import edge of src/, as paths relative to src/ (.js specifiers name the .ts source). */
function srcEdges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    relativeImports(readFileSync(file, 'utf8')).map((spec) => ({
      from: relative(SRC, file),
      to: relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'),
    })),
  );
}

describe('module layers', () => {
  it('every import in src/ goes down the layers of docs/ARCHITECTURE.md', () => {
    const edges = srcEdges();
    expect(edges.length).toBeGreaterThan(500);
    expect(backEdges(edges, LAYERS, UNITS)).toEqual([]);
  });

  it('every folder of src/ has a layer, and every layer names folders that exist', () => {
    const folders = new Set(sourceFiles(SRC).map((f) => folderOf(relative(SRC, f))));
    expect([...folders].sort()).toEqual(LAYERS.flat().sort());
  });

  it('docs/ARCHITECTURE.md draws the same layers, bottom to top', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
    const block = /```layers\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block, 'a ```layers block in docs/ARCHITECTURE.md').toBeDefined();
    const drawn = block!
      .trim()
      .split('\n')
      .reverse()
      .map((line) => line.split('|')[0]!.trim().split(/\s+/).map((f) => f.replace(/\/$/, '').replace(/\.ts$/, '')));
    expect(drawn).toEqual(LAYERS);
  });
});

describe('the layer check itself', () => {
  const layers = [['util'], ['graph', 'ops'], ['cuts'], ['exits', 'profile'], ['placement'], ['plan'], ['cli', 'index']];
  const units = [['graph', 'ops']];

  it('reads static, re-export, side-effect, dynamic and worker-URL imports, and skips packages', () => {
    const source = [
      "import { a } from '../cuts/cuts.js';",
      "import type { B } from './b.js';",
      "export { c } from '../graph/graph.js';",
      "import '../ops/index.js';",
      "const m = await import('../plan/planner.js');",
      "const w = new URL('./worker.js', import.meta.url);",
      "import {\n  d,\n  e,\n} from '../util/stats.js';",
      "import { z } from 'zod';",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(relativeImports(source).sort()).toEqual(['../cuts/cuts.js', '../graph/graph.js', '../ops/index.js', '../plan/planner.js', '../util/stats.js', './b.js', './worker.js'].sort());
  });

  it('passes imports within a folder, downwards, and within a unit', () => {
    const edges = [
      { from: 'plan/planner.ts', to: 'plan/types.ts' },
      { from: 'plan/planner.ts', to: 'placement/chain.ts' },
      { from: 'placement/chain.ts', to: 'cuts/cuts.ts' },
      { from: 'cli/main.ts', to: 'util/stats.ts' },
      { from: 'ops/types.ts', to: 'graph/structure.ts' },
      { from: 'graph/infer.ts', to: 'ops/registry.ts' },
    ];
    expect(backEdges(edges, layers, units)).toEqual([]);
  });

  it('fails an import that goes up a layer (a back-edge)', () => {
    expect(backEdges([{ from: 'cuts/cuts.ts', to: 'plan/planner.ts' }], layers, units)).toEqual(['cuts/cuts.ts -> plan/planner.ts']);
    expect(backEdges([{ from: 'util/stats.ts', to: 'index.ts' }], layers, units)).toEqual(['util/stats.ts -> index.ts']);
  });

  it('fails an import between two folders of one layer, and one from or to a folder no layer lists', () => {
    expect(backEdges([{ from: 'exits/policy.ts', to: 'profile/profile-file.ts' }], layers, units)).toEqual(['exits/policy.ts -> profile/profile-file.ts']);
    expect(backEdges([{ from: 'newthing/a.ts', to: 'util/stats.ts' }], layers, units)).toEqual(['newthing/a.ts -> util/stats.ts']);
    expect(backEdges([{ from: 'plan/planner.ts', to: 'newthing/a.ts' }], layers, units)).toEqual(['plan/planner.ts -> newthing/a.ts']);
  });
});
