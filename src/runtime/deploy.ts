/**
 * `impera plan --export DIR`: the recommended configuration as files the runtime runs — the head with its codec and
 * exits, the tail in a model repository for `impera serve`, and `runtime.yaml` (impera-runtime/1) for
 * `impera edge`. Codecs are fitted on the same calibration images the plan's evaluation used, so the deployed pair
 * behaves as measured.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { fitCodecs } from '../codecs/calibrate.js';
import { parseCodec } from '../codecs/spec.js';
import { ImperaError } from '../errors.js';
import { attachCodec, describeWire } from '../export/codec.js';
import { attachExits, exitOutput } from '../exits/export.js';
import { splitModel, writeParts } from '../export/split.js';
import { RUNTIME_FORMAT } from './edge/config.js';
import { restoreExits } from '../plan/analyses.js';
import type { PlanContext } from '../plan/planner.js';
import type { SwitchingPlan } from '../plan/switching.js';
import type { PlanConfiguration, PlanResult } from '../plan/types.js';

/** Where a split's tail goes: the repository `impera serve` serves, the model's name there, and whether it has a folder of its own (NAME/model.onnx, with its codec.json: needed when several tails with different codecs share a repository). */
interface TailLayout {
  repo: string;
  model: string;
  ownFolder: boolean;
}

/** Write the deployment of `c` into `dir` (named after the plan's scenario, its latency limit the budget); returns the files written. */
export async function exportPlan(c: PlanConfiguration, ctx: PlanContext, dir: string, result: Pick<PlanResult, 'scenario'>, layout: TailLayout = { repo: join(dir, 'server'), model: 'tail', ownFolder: false }): Promise<string[]> {
  const { g } = ctx;
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    files.push(join(dir, name));
  };
  const active = c.exits && ctx.exits ? restoreExits(g, ctx.exits.cuts, ctx.exits.analysis.exits).slice(0, c.exits.cuts.length) : [];
  write('configuration.json', `${JSON.stringify({ plan: result.scenario.name, configuration: c }, null, 1)}\n`);

  if (c.placement === 'local' || c.placement === 'remote') {
    const model = { ...splitModel(g, []).parts[0]!, name: 'model' };
    const withExits = c.placement === 'local' && active.length ? attachExits(g, model, active) : model;
    files.push(...writeParts(g, [withExits], c.placement === 'local' ? dir : join(dir, 'server')));
    write('README.txt', c.placement === 'local' ? 'Everything runs on the device: model.onnx (exit outputs exitK.logits divided by their temperature; leave at the first whose top softmax probability reaches its threshold, see configuration.json).\n' : `The device sends its input (${c.codec}); the server runs the whole model: impera serve --model-repo ${join(dir, 'server')}\n`);
    return files;
  }
  if (c.placement !== 'split') {
    throw new ImperaError('BAD_ARGUMENT', `exporting a '${c.placement}' configuration is not supported`, c.cuts.length ? `write its stages with \`impera split MODEL --at ${c.cuts.map((x) => x.index).join(',')} --out DIR\`` : undefined);
  }

  const tailDir = layout.ownFolder ? join(layout.repo, layout.model) : layout.repo;
  const tailFile = layout.ownFolder ? 'model' : layout.model;
  const cut = ctx.cuts.find((x) => x.index === c.cuts[0]!.index)!;
  let [head, tail] = splitModel(g, [cut]).parts as [NonNullable<ReturnType<typeof splitModel>['parts'][0]>, NonNullable<ReturnType<typeof splitModel>['parts'][0]>];
  const spec = parseCodec(c.codec);
  const raw = !spec.pca && !spec.quant && !spec.fp16 && !spec.sparse && !spec.entropy;
  if (!raw) {
    if (!ctx.data) throw new ImperaError('BAD_ARGUMENT', 'fitting the codec needs calibration images: give data in the scenario');
    const codec = (await fitCodecs(g, [cut], [spec], ctx.data.calibration, { samples: 256 })).get(cut.id)![0]!;
    [head, tail] = attachCodec(g, [head, tail], codec);
    write('codec.json', `${JSON.stringify(describeWire(codec), null, 2)}\n`);
    mkdirSync(tailDir, { recursive: true });
    copyFileSync(join(dir, 'codec.json'), join(tailDir, 'codec.json'));
  }
  if (active.length) head = attachExits(g, head, active);
  files.push(...writeParts(g, [head], dir), ...writeParts(g, [{ ...tail, name: tailFile }], tailDir));
  const latency = result.scenario.qos.latency?.limit;
  const runtime = {
    format: RUNTIME_FORMAT,
    head: 'head.onnx',
    ...(raw ? {} : { codec: 'codec.json' }),
    tail: relative(dir, join(tailDir, `${tailFile}.onnx`)),
    server: { url: 'http://127.0.0.1:8000', model: layout.model, protocol: 'binary', wire: raw ? 'tensors' : 'packed' },
    latencyBudgetMs: latency ?? 1000,
    fallback: active.length ? 'exit' : 'local',
    exits: active.map((_, k) => ({ output: exitOutput(k), threshold: c.exits!.threshold })),
  };
  write('runtime.yaml', `# ${c.id}\n# serve the tail: impera serve --model-repo ${layout.repo}\n# run the device: impera edge --config ${join(dir, 'runtime.yaml')} (set server.url to the server's address)\n${stringify(runtime)}`);
  return files;
}

/**
 * Write the switching plan beside the recommendation: DIR/switching/switching.json, each option's head and
 * runtime.yaml in DIR/switching/NAME/, and one repository holding every option's tail as model NAME
 * (DIR/switching/server/NAME/model.onnx) for `impera serve`; `impera edge --switching` runs it.
 */
export async function exportSwitching(plan: SwitchingPlan, configurations: readonly PlanConfiguration[], ctx: PlanContext, dir: string, result: Pick<PlanResult, 'scenario'>): Promise<string[]> {
  const root = join(dir, 'switching');
  const repo = join(root, 'server');
  const files: string[] = [];
  for (const o of plan.options) {
    const c = configurations.find((x) => x.id === o.id)!;
    files.push(...(await exportPlan(c, ctx, join(root, o.name), result, { repo, model: o.name, ownFolder: true })));
  }
  const file = join(root, 'switching.json');
  writeFileSync(file, `${JSON.stringify({ ...plan, options: plan.options.map((o) => ({ ...o, runtime: `${o.name}/runtime.yaml` })) }, null, 1)}\n`);
  return [...files, file];
}
