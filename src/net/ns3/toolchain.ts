/**
 * Building and running impera's ns-3 scenario programs (the C++ files in the package's `ns3/` folder). A program
 * is compiled on first use with the C++ compiler against the installed ns-3 and cached under
 * ~/.cache/impera/ns3/<hash>/, the hash covering the sources, the compiler's version and the flags, so an edit
 * or a new ns-3 rebuilds it. Runs take parameters on the command line and print one JSON object.
 *
 * Where things are can be overridden (and so tested): IMPERA_NS3_CXX (compiler), IMPERA_NS3_PREFIX (the ns-3
 * installation: PREFIX/include/ns3, PREFIX/lib...), IMPERA_CACHE_DIR (instead of ~/.cache/impera).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ImperaError } from '../../errors.js';
import { cacheRoot, contentKey } from '../../util/cache.js';
import { PACKAGE_ROOT } from '../../util/package.js';

export const NS3_SOURCES = join(PACKAGE_ROOT, 'ns3');
const INSTALL_HINT = 'install it with `sudo apt-get install libns3-dev g++ pkg-config` (Debian/Ubuntu), or use --backend des or analytic';

/** The ns-3 modules each program links. */
const PROGRAMS = {
  p2p: ['core', 'network', 'internet', 'point-to-point', 'applications', 'traffic-control'],
  wifi: ['core', 'network', 'internet', 'wifi', 'mobility', 'applications', 'propagation'],
} as const;
export type Ns3Program = keyof typeof PROGRAMS;

export interface Ns3Toolchain {
  cxx: string;
  includeDir: string;
  libDir: string;
  cacheDir: string;
}

const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

/**
 * Where ns-3 and the compiler are. pkg-config only locates the installation: Debian's ns3 .pc files carry a
 * stray "-I/usr;" in Cflags and name libgsl.so (from libgsl-dev, not a dependency) in Libs, so the flags are
 * built here.
 */
export function ns3Toolchain(env: NodeJS.ProcessEnv = process.env): Ns3Toolchain {
  const cacheDir = join(cacheRoot(env), 'ns3');
  const cxx = env.IMPERA_NS3_CXX ?? 'g++';
  if (env.IMPERA_NS3_PREFIX) {
    const prefix = env.IMPERA_NS3_PREFIX;
    const libDir = [join(prefix, 'lib', 'x86_64-linux-gnu'), join(prefix, 'lib', 'aarch64-linux-gnu'), join(prefix, 'lib64'), join(prefix, 'lib')].find((d) => existsSync(join(d, 'libns3-core.so'))) ?? join(prefix, 'lib');
    return { cxx, includeDir: join(prefix, 'include'), libDir, cacheDir };
  }
  const variable = (name: string) => {
    const r = run('pkg-config', ['--variable', name, 'ns3-core']);
    return r.status === 0 ? r.stdout.trim().replace(/^"|"$/g, '') : '';
  };
  return { cxx, includeDir: variable('includedir') || '/usr/include', libDir: variable('libdir') || '/usr/lib/x86_64-linux-gnu', cacheDir };
}

/** Check that ns-3's headers and libraries and the compiler are there, with an actionable error if not. */
export function checkNs3(tc: Ns3Toolchain): void {
  if (!existsSync(join(tc.includeDir, 'ns3', 'core-module.h')) || !existsSync(join(tc.libDir, 'libns3-core.so'))) {
    throw new ImperaError('NS3_MISSING', `ns-3 is not installed (no ns3/core-module.h under ${tc.includeDir} or libns3-core.so in ${tc.libDir})`, INSTALL_HINT);
  }
  const version = run(tc.cxx, ['--version']);
  if (version.error || version.status !== 0) throw new ImperaError('NS3_MISSING', `the C++ compiler '${tc.cxx}' that builds the ns-3 scenarios is not available`, INSTALL_HINT);
}

function flags(tc: Ns3Toolchain, program: Ns3Program): string[] {
  // --no-as-needed: ns-3 modules register their types in static constructors, so a library nothing calls into
  // directly (e.g. the TCP implementation) must still be linked
  return ['-O2', '-std=c++17', `-I${NS3_SOURCES}`, `-I${tc.includeDir}`, `-L${tc.libDir}`, `-Wl,-rpath,${tc.libDir}`, '-Wl,--no-as-needed', ...PROGRAMS[program].map((m) => `-lns3-${m}`)];
}

/** The program's executable, compiled now if this version of it is not cached yet. */
export function ns3Binary(program: Ns3Program, tc: Ns3Toolchain = ns3Toolchain()): string {
  checkNs3(tc);
  const sources = readdirSync(NS3_SOURCES).sort().flatMap((f) => [f, readFileSync(join(NS3_SOURCES, f))]);
  const dir = join(tc.cacheDir, contentKey(...sources, run(tc.cxx, ['--version']).stdout, flags(tc, program).join(' ')));
  const binary = join(dir, program);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  // build to a private name and rename, so concurrent builds never run a half-written file
  const partial = `${binary}.${process.pid}.partial`;
  try {
    execFileSync(tc.cxx, [join(NS3_SOURCES, `${program}.cc`), '-o', partial, ...flags(tc, program)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmSync(partial, { force: true });
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '').split('\n').find((l) => /error/.test(l)) ?? (e as Error).message;
    throw new ImperaError('NS3_FAILED', `compiling the ns-3 scenario '${program}' failed: ${stderr.trim()}`, 'check that libns3-dev matches the installed ns-3 (3.37 is known to work)');
  }
  renameSync(partial, binary);
  return binary;
}

export type Ns3Args = Record<string, string | number | boolean>;

/** Run a compiled scenario program (from ns3Binary) with `--name=value` parameters; parse the JSON it prints. */
export async function runNs3(binary: string, args: Ns3Args): Promise<unknown> {
  const program = basename(binary);
  const argv = Object.entries(args).map(([k, v]) => `--${k}=${typeof v === 'boolean' ? Number(v) : v}`);
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(binary, argv, { maxBuffer: 1 << 30 }));
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new ImperaError('NS3_FAILED', `ns-3 scenario '${program}' failed: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' ')}`, `reproduce with: ${binary} ${argv.join(' ')}`);
  }
  try {
    return JSON.parse(stdout);
  } catch {
    throw new ImperaError('NS3_FAILED', `ns-3 scenario '${program}' printed something that is not JSON: ${stdout.slice(0, 200)}`);
  }
}
