/**
 * Concrete input shapes: the model's declared dims, with the batch (a symbolic first dim) defaulting to 1 and
 * every other symbolic dim given by the user (`--input-shape`).
 */
import { ImperaError } from '../errors.js';
import type { DataType } from '../onnx/dtype.js';
import type { ValueInfoProto } from '../onnx/proto.js';
import type { TensorInfo } from '../ops/types.js';

/** A declared dim: a number, a symbol name, or '?' when the model says nothing. */
export type DeclaredDim = number | string;

export function declaredShape(v: ValueInfoProto): DeclaredDim[] | undefined {
  const shape = v.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam || '?'));
}

const formatDims = (dims: readonly DeclaredDim[]) => `[${dims.join(', ')}]`;

/**
 * Parse `--input-shape` values: `1,3,224,224` (single-input models), or `name=1,3,224,224` per input;
 * `x` also separates dims (`1x3x224x224`).
 */
export function parseInputShapes(specs: readonly string[], inputNames: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    const name = eq >= 0 ? spec.slice(0, eq) : inputNames.length === 1 ? inputNames[0]! : undefined;
    if (name === undefined) {
      throw new ImperaError('BAD_INPUT_SHAPE', `--input-shape '${spec}' does not say which input it is for; the model has inputs ${inputNames.join(', ')}`, `write it as NAME=${'1,3,224,224'}`);
    }
    if (!inputNames.includes(name)) throw new ImperaError('BAD_INPUT_SHAPE', `--input-shape names '${name}', which is not an input of the model (inputs: ${inputNames.join(', ')})`);
    const dimsText = spec.slice(eq + 1).trim();
    const dims = dimsText.split(/[,x×]/).map((d) => Number(d.trim()));
    if (dimsText === '' || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new ImperaError('BAD_INPUT_SHAPE', `--input-shape '${spec}' must list positive integer dims, e.g. 1,3,224,224`);
    }
    out[name] = dims;
  }
  return out;
}

/**
 * Parse `--input-value` values: `sr=16000`, or `NAME=v1,v2,...` for a tensor (its values in row-major order);
 * the name may be left out for single-input models.
 */
export function parseInputValues(specs: readonly string[], inputNames: readonly string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    const name = eq >= 0 ? spec.slice(0, eq) : inputNames.length === 1 ? inputNames[0]! : undefined;
    if (name === undefined) throw new ImperaError('BAD_ARGUMENT', `--input-value '${spec}' does not say which input it is for; the model has inputs ${inputNames.join(', ')}`, 'write it as NAME=VALUE, e.g. sr=16000');
    if (!inputNames.includes(name)) throw new ImperaError('BAD_ARGUMENT', `--input-value names '${name}', which is not an input of the model (inputs: ${inputNames.join(', ')})`);
    const text = spec.slice(eq + 1).trim();
    const values = text.split(',').map((v) => Number(v.trim()));
    if (text === '' || values.some((v) => !Number.isFinite(v))) throw new ImperaError('BAD_ARGUMENT', `--input-value '${spec}' must give numbers, e.g. sr=16000 or mask=1,0,1`);
    out[name] = values;
  }
  return out;
}

export interface ResolvedInputs {
  infos: Map<string, TensorInfo>;
  /** The batch symbol (the first dim's name when symbolic) and its value, if the model has a symbolic batch. */
  batch: { symbol: string; size: number } | undefined;
}

/**
 * Concrete shapes for every graph input. `batch` sets a symbolic first dim (default 1); `given` overrides
 * whole shapes and must agree with the dims the model fixes.
 */
export function resolveInputShapes(inputs: readonly ValueInfoProto[], given: Record<string, number[]> = {}, batchSize?: number): ResolvedInputs {
  const infos = new Map<string, TensorInfo>();
  let batch: ResolvedInputs['batch'];
  for (const v of inputs) {
    const name = v.name!;
    const dtype = (v.type?.tensorType?.elemType ?? 0) as DataType;
    if (!v.type?.tensorType) throw new ImperaError('INVALID_MODEL', `input '${name}' is not a tensor; impera handles tensor inputs only`);
    const declared = declaredShape(v);
    const user = given[name];
    if (declared && typeof declared[0] === 'string' && !batch) batch = { symbol: declared[0] === '?' ? 'batch' : declared[0], size: user?.[0] ?? batchSize ?? 1 };
    if (user) {
      if (declared && declared.length !== user.length) {
        throw new ImperaError('BAD_INPUT_SHAPE', `input '${name}' has rank ${declared.length} ${formatDims(declared)}, but --input-shape gives ${user.length} dims [${user}]`);
      }
      declared?.forEach((d, i) => {
        if (typeof d === 'number' && d !== user[i]) {
          throw new ImperaError('BAD_INPUT_SHAPE', `input '${name}' is declared ${formatDims(declared)}: dim ${i} must be ${d}, --input-shape gives ${user[i]}`);
        }
      });
      infos.set(name, { dtype, shape: [...user] });
      continue;
    }
    if (!declared) {
      throw new ImperaError('DYNAMIC_SHAPE', `input '${name}' declares no shape`, `pass --input-shape ${name}=d1,d2,...`);
    }
    const open = declared.map((d, i) => (typeof d === 'string' && i > 0 ? `${i} (${d})` : '')).filter(Boolean);
    if (open.length > 0) {
      throw new ImperaError('DYNAMIC_SHAPE', `input '${name}' ${formatDims(declared)} has dynamic dims beyond the batch: dim ${open.join(', dim ')}`, `pass --input-shape ${name}=${declared.map((d, i) => (typeof d === 'number' ? d : i === 0 ? (batchSize ?? 1) : 'N')).join(',')} with N filled in`);
    }
    infos.set(name, { dtype, shape: declared.map((d) => (typeof d === 'number' ? d : (batchSize ?? 1))) });
  }
  return { infos, batch };
}

/** An open dim of the inputs before its second pass: symbol, where it is, and its analysed size. */
export interface OpenDim {
  symbol: string;
  at: { input: string; axis: number }[];
  size: number;
}

/**
 * The inputs' open dims, the batch first: every symbolic first dim is the batch (as resolveInputShapes has it),
 * other symbolic dims are grouped by their dim_param; an unnamed one is called `<input>_<axis>`.
 */
export function openDims(inputs: readonly ValueInfoProto[], resolved: ResolvedInputs): OpenDim[] {
  const dims = new Map<string, OpenDim>();
  const add = (symbol: string, input: string, axis: number) => {
    const dim = dims.get(symbol) ?? { symbol, at: [], size: resolved.infos.get(input)!.shape[axis]! };
    dim.at.push({ input, axis });
    dims.set(symbol, dim);
  };
  for (const v of inputs) {
    (declaredShape(v) ?? []).forEach((d, axis) => {
      if (typeof d === 'number') return;
      if (axis === 0 && resolved.batch) add(resolved.batch.symbol, v.name!, 0);
      else add(d === '?' ? `${v.name}_${axis}` : d, v.name!, axis);
    });
  }
  const batch = resolved.batch?.symbol;
  return [...dims.values()].sort((a, b) => Number(b.symbol === batch) - Number(a.symbol === batch));
}
