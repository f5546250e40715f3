/** Loading and saving ONNX models, including tensors stored in external data files. */
import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ImperaError } from '../errors.js';
import { inlineFunctions } from './functions.js';
import { externalExtent, isExternal, tensorRawBytes } from './tensor.js';
import { onnx, type GraphProto, type ModelProto, type TensorProto } from './proto.js';

/** A model and the directory its external data is resolved against. */
export interface OnnxModel {
  proto: ModelProto;
  /** Directory holding external data files (the model file's directory). */
  dir: string;
  /** Where the model was read from, for messages. */
  source: string;
  /** The absolute file path, for models loaded from a file. */
  path?: string;
  /** Size of the .onnx file in bytes. */
  fileBytes: number;
}

/** Read and decode an .onnx file; every way this can fail ends in an ImperaError naming the file. */
export function loadModel(path: string): OnnxModel {
  const file = resolve(path);
  let bytes: Buffer;
  try {
    if (statSync(file).isDirectory()) throw new ImperaError('BAD_ARGUMENT', `'${path}' is a directory, not an .onnx file`);
    bytes = readFileSync(file);
  } catch (e) {
    if (e instanceof ImperaError) throw e;
    throw new ImperaError('FILE_NOT_FOUND', `model file '${path}' does not exist or cannot be read`, 'check the path');
  }
  return { ...modelFromBytes(bytes, dirname(file), path), path: file };
}

/**
 * A model from its bytes with its external data checked against `dir` and its local functions inlined
 * (functions.ts): loadModel once the file is read.
 */
export function modelFromBytes(bytes: Uint8Array, dir: string, source: string): OnnxModel {
  const model: OnnxModel = { proto: inlineFunctions(decodeModel(bytes, source), source), dir, source, fileBytes: bytes.byteLength };
  checkExternalFiles(model);
  return model;
}

/** Decode ONNX bytes as they are (local functions kept), telling a truncated file apart from something that is not ONNX at all. */
export function decodeModel(bytes: Uint8Array, source = 'model'): ModelProto {
  let proto: ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/index out of range/i.test(msg)) {
      throw new ImperaError('TRUNCATED_MODEL', `'${source}' is truncated or corrupt: its data ends in the middle of a field (${bytes.byteLength} bytes read)`, 'download or export the model again');
    }
    throw new ImperaError('NOT_ONNX', `'${source}' is not an ONNX model (protobuf decoding failed: ${msg})`, 'pass a .onnx file');
  }
  const g = proto.graph;
  if (!g || !proto.irVersion || proto.opsetImport.length === 0 || !g.node?.length || !g.output?.length) {
    throw new ImperaError('NOT_ONNX', `'${source}' is not an ONNX model (no graph, IR version or opset found)`, 'pass a .onnx file');
  }
  return proto;
}

/** Every TensorProto of a graph and its subgraphs: initializers, sparse initializers, attribute tensors. */
export function* allTensors(g: GraphProto): Generator<TensorProto> {
  yield* g.initializer ?? [];
  for (const s of g.sparseInitializer ?? []) {
    if (s.values) yield s.values;
    if (s.indices) yield s.indices;
  }
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t) yield a.t;
      yield* a.tensors ?? [];
      if (a.g) yield* allTensors(a.g);
      for (const sub of a.graphs ?? []) yield* allTensors(sub);
    }
  }
}

/** Every external tensor's file is inside the model's folder and holds its bytes (read later, on demand). */
function checkExternalFiles(model: OnnxModel): void {
  for (const t of allTensors(model.proto.graph!)) if (isExternal(t)) externalExtent(t, model.dir);
}

export interface SaveOptions {
  /** Write tensors of at least `minBytes` to `<file>.data` beside the model instead of inside it. */
  externalData?: { minBytes?: number };
}

const PROTOBUF_LIMIT = 2 ** 31 - 1;
const EXTERNAL_ALIGN = 4096; // the ONNX spec recommends page-aligned offsets so runtimes can mmap them

/**
 * Save a model. Tensors the source keeps in external files are read and either embedded or written to a new
 * data file, so the saved model never depends on the source's files. Models past protobuf's 2 GiB limit go
 * external automatically.
 */
export function saveModel(model: Pick<OnnxModel, 'proto' | 'dir'>, path: string, options: SaveOptions = {}): void {
  const out = resolve(path);
  const tensors = [...allTensors(model.proto.graph!)];
  const inlineBytes = tensors.reduce((s, t) => s + (tensorRawBytes(t, model.dir)?.byteLength ?? 0), 0);
  const external = options.externalData ?? (inlineBytes > PROTOBUF_LIMIT * 0.9 ? {} : undefined);
  const minBytes = external?.minBytes ?? 1024;
  const dataName = `${basename(out)}.data`;
  const rewritten = new Map<TensorProto, TensorProto>();
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const raw = isExternal(t) || external ? tensorRawBytes(t, model.dir) : undefined;
    if (!raw) continue;
    if (external && raw.byteLength >= minBytes) {
      const pad = (EXTERNAL_ALIGN - (offset % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
      if (pad) chunks.push(new Uint8Array(pad));
      offset += pad;
      chunks.push(raw);
      const entry = (key: string, value: string) => onnx.StringStringEntryProto.create({ key, value });
      rewritten.set(t, { ...t, rawData: new Uint8Array(0), dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [entry('location', dataName), entry('offset', String(offset)), entry('length', String(raw.byteLength))] });
      offset += raw.byteLength;
    } else {
      rewritten.set(t, { ...t, rawData: raw, dataLocation: onnx.TensorProto.DataLocation.DEFAULT, externalData: [] });
    }
  }
  const proto = rewritten.size ? swapTensors(model.proto, rewritten) : model.proto;
  writeFileSync(out, onnx.ModelProto.encode(proto).finish());
  if (chunks.length) writeChunks(join(dirname(out), dataName), chunks);
}

function writeChunks(file: string, chunks: Uint8Array[]): void {
  const fd = openSync(file, 'w');
  try {
    for (const c of chunks) writeSync(fd, c);
  } finally {
    closeSync(fd);
  }
}

/** A copy of the model with some TensorProtos replaced (messages are shallow-copied along the path). */
function swapTensors(model: ModelProto, map: Map<TensorProto, TensorProto>): ModelProto {
  const swapGraph = (g: GraphProto): GraphProto => ({
    ...g,
    initializer: (g.initializer ?? []).map((t) => map.get(t) ?? t),
    sparseInitializer: (g.sparseInitializer ?? []).map((s) => ({ ...s, values: s.values && (map.get(s.values) ?? s.values), indices: s.indices && (map.get(s.indices) ?? s.indices) })),
    node: (g.node ?? []).map((n) => ({
      ...n,
      attribute: (n.attribute ?? []).map((a) => ({
        ...a,
        t: a.t && (map.get(a.t) ?? a.t),
        tensors: (a.tensors ?? []).map((t) => map.get(t) ?? t),
        g: a.g && swapGraph(a.g),
        graphs: (a.graphs ?? []).map(swapGraph),
      })),
    })),
  });
  return onnx.ModelProto.create({ ...model, graph: swapGraph(model.graph!) as onnx.GraphProto });
}

/** Serialise a model held in memory (all tensors inline). */
export function encodeModel(proto: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(proto).finish();
}

/** A model built in memory (no file behind it; external data resolves against the working directory; local functions inlined). */
export function inMemoryModel(proto: ModelProto, source = 'in-memory model'): OnnxModel {
  return { proto: inlineFunctions(proto, source), dir: process.cwd(), source, fileBytes: encodeModel(proto).byteLength };
}
