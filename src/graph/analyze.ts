/**
 * From a loaded model to an analysed Graph: concrete input shapes, inputs bound to given values, a shape-inference
 * pass (with the ONNX Runtime probe for ops without a rule), `If`s with a known condition folded into their branch
 * (specialise.ts), node costs, and how every shape follows each dynamic input dim — found by running the pass again
 * with only that dim changed (the batch one larger, a height or length a few steps larger), which is what lets
 * exported parts keep those dims dynamic.
 */
import { ImperaError, isImperaError } from '../errors.js';
import type { OnnxModel } from '../onnx/io.js';
import type { TensorInfo } from '../ops/types.js';
import { bytesOf, type DynamicDim, type Graph, type Specialisation, type TensorFacts } from './graph.js';
import { inferPass, type PassResult, type Probed } from './infer.js';
import { openDims, resolveInputShapes, type OpenDim } from './input-shapes.js';
import { probeShapes } from './probe.js';
import { bindInputValues, inlineBranches, knownBranches } from './specialise.js';
import { buildStructure, liveNodes, type GraphStructure } from './structure.js';

export interface AnalyzeOptions {
  /** Whole shapes per input name; needed for dynamic dims other than the batch. */
  inputShapes?: Record<string, number[]>;
  /** Value of a symbolic batch dim (default 1). */
  batch?: number;
  /** Ask ONNX Runtime for the shapes of ops impera has no rule for (default true). */
  probe?: boolean;
  /**
   * Values per input name (flattened): those inputs become constants of the analysed model, so that an `If` on them
   * (a sample rate) folds into the branch it takes. The analysis, cuts and exported parts are of that specialised model.
   */
  inputValues?: Record<string, readonly number[]>;
}

export async function analyzeModel(model: OnnxModel, options: AnalyzeOptions = {}): Promise<Graph> {
  if (options.batch !== undefined && (!Number.isInteger(options.batch) || options.batch <= 0)) {
    throw new ImperaError('BAD_ARGUMENT', `batch must be a positive integer, got ${options.batch}`);
  }
  const bound = bindInputValues(model.proto, options.inputValues ?? {}, options.inputShapes);
  let s = buildStructure(bound);
  const resolved = resolveInputShapes(s.inputs, options.inputShapes, options.batch);
  const { infos: inputs, batch } = resolved;
  const probe = options.probe ?? true;
  const folded: { node: string; branch: 'then' | 'else' }[] = [];
  let warnings: string[];
  let pass: PassResult;
  let next: PassResult | undefined;
  for (;;) {
    const bigger = batch ? biggerBatch(s, inputs, batch.symbol) : undefined;
    // conditions known without the probe fold first: each probe is a whole ONNX Runtime run
    const plain = bigger ? passOrNothing(() => inferPass(s, model.dir, bigger)) : undefined;
    let taken = knownBranches(s, [inferPass(s, model.dir, inputs), ...(plain ? [plain] : [])]);
    if (taken.size === 0) {
      warnings = [];
      pass = await passWithProbe(s, { ...model, proto: s.proto }, inputs, probe, warnings);
      next = undefined;
      if (bigger) {
        // dims the model leaves unnamed that equal the batch (Silero VAD v5's state [2, ?, 128]) grow too when that is what lets it run
        const loose = biggerBatch(s, inputs, batch!.symbol, batch!.size);
        const attempt = (shapes: Map<string, TensorInfo>) => passWithProbe(s, { ...model, proto: s.proto }, shapes, probe, []).catch(() => undefined);
        next = (await attempt(bigger)) ?? (sameShapes(loose, bigger) ? undefined : await attempt(loose));
        if (!next) warnings.push(`the model does not run at batch ${batch!.size + 1}: exported parts keep the batch fixed at ${batch!.size}`);
      }
      taken = knownBranches(s, next ? [pass, next] : [pass]);
      if (taken.size === 0) break;
    }
    for (const [i, then] of taken) folded.push({ node: s.nodes[i]!.name, branch: then ? 'then' : 'else' });
    s = buildStructure(inlineBranches(s.proto, taken));
  }
  const specialisation = specialisationOf(options.inputValues ?? {}, folded);
  if (specialisation) warnings.push(specialisationNote(specialisation));
  const analysed = specialisation ? { ...model, proto: s.proto, path: undefined } : model;

  // the batch's second pass is the folding loop's; every other dynamic dim gets one of its own
  const passes = new Map<string, PassResult>();
  const dynamicDims: DynamicDim[] = [];
  for (const open of openDims(s.inputs, resolved)) {
    if (open.symbol === batch?.symbol) {
      if (next) passes.set(open.symbol, next);
      dynamicDims.push({ ...open, probe: next ? open.size + 1 : undefined });
      continue;
    }
    const size = secondSize(open);
    try {
      passes.set(open.symbol, await passWithProbe(s, { ...model, proto: s.proto }, resized(inputs, open, size), probe, []));
      dynamicDims.push({ ...open, probe: size });
    } catch {
      warnings.push(`the model does not run at ${open.symbol} = ${size}: exported parts keep it fixed at ${open.size}`);
      dynamicDims.push({ ...open, probe: undefined });
    }
  }

  const unknownCost = new Map<string, number>();
  pass.costs.forEach((c, i) => {
    if (!c && s.live[i]) unknownCost.set(s.nodes[i]!.opType, (unknownCost.get(s.nodes[i]!.opType) ?? 0) + 1);
  });
  if (unknownCost.size) {
    warnings.push(`the cost model does not know ${[...unknownCost].map(([op, n]) => `${op} (${n} node${n > 1 ? 's' : ''})`).join(', ')}: their FLOPs count as unknown`);
  }

  const tensors = new Map<string, TensorFacts>();
  for (const [name, links] of s.values) {
    const info = pass.infos.get(name);
    if (!info) continue;
    const other = next?.infos.get(name);
    tensors.set(name, {
      ...links,
      ...info,
      isStatic: pass.isStatic.has(name),
      value: pass.values.get(name),
      bytes: bytesOf(info),
      batchScale: next && batch ? batchScale(info, other, batch.size) : undefined,
      valueFollowsBatch: next ? JSON.stringify(pass.values.get(name)?.data) !== JSON.stringify(next.values.get(name)?.data) : false,
      shapeAt: new Map([...passes].flatMap(([symbol, p]) => (p.infos.has(name) ? [[symbol, p.infos.get(name)!.shape]] : []))),
      dataDependent: pass.dataDependent.has(name),
    });
  }
  const isStaticNode = s.nodes.map((n) => n.outputs.every((o) => !o || pass.isStatic.has(o)));
  const live = liveNodes(s.nodes, s.values, s.outputs, (i) => isStaticNode[i]!);
  return { ...s, live, model: analysed, tensors, costs: pass.costs, isStaticNode, inputShapes: inputs, batch, dynamicDims, warnings, specialisation };
}

const specialisationOf = (inputValues: Record<string, readonly number[]>, folded: Specialisation['folded']): Specialisation | undefined =>
  Object.keys(inputValues).length || folded.length ? { inputValues: Object.fromEntries(Object.entries(inputValues).map(([k, v]) => [k, [...v]])), folded } : undefined;

function specialisationNote(sp: Specialisation): string {
  const values = Object.entries(sp.inputValues).map(([k, v]) => `${k}=${v.join(',')}`);
  const ifs = sp.folded.slice(0, 3).map((f) => `${f.node} -> ${f.branch}`).join(', ') + (sp.folded.length > 3 ? `, ... ${sp.folded.length - 3} more` : '');
  const what = [values.length ? `the input value${values.length > 1 ? 's' : ''} ${values.join(' ')}` : '', sp.folded.length ? `${sp.folded.length} If node${sp.folded.length > 1 ? 's' : ''} folded into the branch their known condition takes (${ifs})` : ''].filter(Boolean).join(', with ');
  return `analysed as the model specialised to ${what}; cuts and exported parts are of this specialised model${values.length ? ', which ignores other values of those inputs' : ''}`;
}

/** A pass at a batch the model may not run at (then nothing is learnt from it). */
function passOrNothing(run: () => PassResult): PassResult | undefined {
  try {
    return run();
  } catch (e) {
    if (isImperaError(e)) return undefined;
    throw e;
  }
}

/**
 * The inputs one batch larger: a symbolic first dim, and every dim named as the batch (an RNN state [layers, batch, n]);
 * with `unnamedOf`, also every unnamed dim whose size is that batch.
 */
function biggerBatch(s: GraphStructure, inputs: ReadonlyMap<string, TensorInfo>, symbol: string, unnamedOf?: number): Map<string, TensorInfo> {
  return new Map(
    [...inputs].map(([name, info]) => {
      const declared = s.inputs.find((v) => v.name === name)?.type?.tensorType?.shape?.dim ?? [];
      const named = (i: number) => !!declared[i]?.dimParam && declared[i]!.dimParam === symbol;
      const unnamed = (i: number) => unnamedOf !== undefined && !!declared[i] && !declared[i]!.dimParam && !(Number(declared[i]!.dimValue ?? 0) > 0) && info.shape[i] === unnamedOf;
      const grows = (i: number) => (i === 0 && batchDimIsSymbolic(s, name)) || named(i) || unnamed(i);
      return [name, { ...info, shape: info.shape.map((d, i) => (grows(i) ? d + 1 : d)) }];
    }),
  );
}

const sameShapes = (a: ReadonlyMap<string, TensorInfo>, b: ReadonlyMap<string, TensorInfo>): boolean => [...a].every(([k, v]) => v.shape.join() === b.get(k)?.shape.join());

function batchDimIsSymbolic(s: GraphStructure, input: string): boolean {
  const d = s.inputs.find((v) => v.name === input)?.type?.tensorType?.shape?.dim?.[0];
  return !!d && !(Number(d.dimValue ?? 0) > 0);
}

/** The size of a dynamic dim's second pass (not the batch's): larger by its largest power-of-two factor up to 32, so sizes a strided model needs (multiples of 8, 32) stay multiples of them. */
const secondSize = (dim: OpenDim): number => dim.size + Math.min(32, dim.size & -dim.size);

/** The input shapes with one open dim at another size. */
function resized(inputs: ReadonlyMap<string, TensorInfo>, dim: OpenDim, size: number): Map<string, TensorInfo> {
  const out = new Map(inputs);
  for (const { input, axis } of dim.at) {
    const info = out.get(input)!;
    out.set(input, { ...info, shape: info.shape.map((d, i) => (i === axis ? d + size - dim.size : d)) });
  }
  return out;
}

/** k per dim when dim = k x batch at both batch sizes, 0 when fixed, -1 otherwise. */
function batchScale(a: TensorInfo, b: TensorInfo | undefined, size: number): number[] {
  if (!b || b.shape.length !== a.shape.length) return a.shape.map(() => -1);
  return a.shape.map((d, i) => {
    const e = b.shape[i]!;
    if (d === e) return 0;
    return d % size === 0 && e === (d / size) * (size + 1) ? d / size : -1;
  });
}

async function passWithProbe(s: GraphStructure, model: OnnxModel, inputs: Map<string, TensorInfo>, probe: boolean, warnings: string[]): Promise<PassResult> {
  let pass = inferPass(s, model.dir, inputs);
  if (pass.unresolved.length === 0) return pass;
  const first = pass.unresolved[0]!;
  if (!probe) {
    throw new ImperaError('SHAPE_INFERENCE', `cannot infer the shape after node '${first.node.name}' (${first.node.opType}): ${first.reason}`, 'allow the ONNX Runtime probe');
  }
  const names = pass.unresolved.flatMap((u) => u.node.outputs.filter(Boolean));
  let probed: Map<string, Probed>;
  try {
    probed = await probeShapes(model.proto, model.dir, inputs, names);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ImperaError('SHAPE_INFERENCE', `cannot infer the shape after node '${first.node.name}' (${first.node.opType}): ${first.reason}, and ONNX Runtime could not run the model either (${why})`);
  }
  pass = inferPass(s, model.dir, inputs, probed);
  if (pass.unresolved.length) {
    const u = pass.unresolved[0]!;
    throw new ImperaError('SHAPE_INFERENCE', `cannot infer the shape after node '${u.node.name}' (${u.node.opType}): ${u.reason}`);
  }
  const ops = [...new Set(pass.probedNodes.map((n) => n.opType))];
  if (ops.length) warnings.push(`shapes after ${ops.join(', ')} come from an ONNX Runtime run (impera has no shape rule for ${ops.length > 1 ? 'them' : 'it'}); data-dependent shapes hold for that run only`);
  return pass;
}
