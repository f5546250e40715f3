/**
 * The package as users get it: `npm pack`, install the tarball into an empty folder, run `impera --help` and the
 * README's library example from there. Catches a public name that is not exported, a subpath missing from
 * `exports`, a runtime file left out of `files`, and internals (tests, benchmarks) shipped by mistake.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };

/** The first ```ts block under the README's "## Library" heading: the example users copy. */
function readmeLibraryExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README.md has no ```ts block under "## Library"');
  return block[1]!;
}

describe('the npm package', () => {
  let dir: string;
  let files: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'impera-pack-'));
    const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 << 20 });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    files = packed!.files.map((f) => f.path);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'impera-user', private: true, type: 'module' }));
    // From npm's cache where it can (CI installed the same versions a moment ago); the registry otherwise.
    await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed!.filename)], {
      cwd: dir,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      maxBuffer: 64 << 20,
    });
  });

  it('ships the built library, the CLI and the example, and no tests, benchmarks or sources', () => {
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    expect(files).toContain('dist/src/cli/main.js');
    expect(files).toContain('examples/mobilenet_v2.onnx');
    expect(files.filter((f) => /^(test|bench|dist\/test|dist\/bench)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('every subpath in `exports` resolves to a shipped module with its types', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      const { types, default: js } = target as { types: string; default: string };
      expect(files, `${subpath} -> ${js}`).toContain(js.replace(/^\.\//, ''));
      expect(files, `${subpath} -> ${types}`).toContain(types.replace(/^\.\//, ''));
    }
  });

  it('installs and runs `impera --help` from the tarball', async () => {
    const { stdout } = await exec(join(dir, 'node_modules', '.bin', 'impera'), ['--help']);
    expect(stdout).toMatch(/Usage: impera/);
    expect(stdout).toMatch(/\bplan\b/);
  });

  it("runs the README's library example from the installed package", async () => {
    writeFileSync(join(dir, 'example.mjs'), readmeLibraryExample());
    const { stdout } = await exec('node', ['example.mjs'], { cwd: dir, maxBuffer: 64 << 20 });
    expect(stdout.trim().split('\n').at(-1)).toBe('true');
  });

  it('imports every subpath by the package name', async () => {
    const names = Object.keys(pkg.exports).map((s) => s.replace(/^\./, 'impera'));
    const script = names.map((n, i) => `const m${i} = await import('${n}'); if (Object.keys(m${i}).length === 0) throw new Error('${n} exports nothing');`).join('\n');
    writeFileSync(join(dir, 'subpaths.mjs'), `${script}\nconsole.log('${names.length} ok');`);
    const { stdout } = await exec('node', ['subpaths.mjs'], { cwd: dir });
    expect(stdout.trim()).toBe(`${names.length} ok`);
    expect(readdirSync(join(dir, 'node_modules', 'impera'))).toContain('package.json');
  });
});
