/**
 * The model repository `impera serve --model-repo DIR` serves. A model is any of
 *   - `DIR/NAME.onnx` (what `impera split --out DIR` writes: head.onnx and tail.onnx),
 *   - `DIR/NAME/model.onnx`,
 *   - `DIR/NAME/<version>/model.onnx` with an optional `DIR/NAME/config.pbtxt` (a Triton repository, as
 *     `impera export-triton` writes; the highest version is served, and max_batch_size / dynamic_batching apply).
 * A `codec.json` (from `impera split --codec`) beside a model, or in its folder, lets the model take packed wire
 * bytes when the codec's wire tensors are exactly the model's inputs.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../../errors.js';
import { readUserFile } from '../../util/config.js';
import { loadWireCodec } from '../codec-file.js';
import { loadModel } from '../../onnx/io.js';
import { batchable, parseTextProto, readTritonServing, type TritonServing } from '../triton.js';
import { modelMetadata } from '../protocol/metadata.js';
import { codecFits, type ServedModel } from './model.js';
import { MAX_BATCH_DELAY_MS } from './scheduler.js';

export interface ServingDefaults {
  /** Largest batch per request and per dynamic batch (models without a batch dim: 1). */
  maxBatch: number;
  /** Dynamic batching delay (ms) for every model; undefined: off unless a config.pbtxt turns it on. */
  batchDelayMs?: number;
}

interface Found {
  name: string;
  version: string;
  file: string;
  codecFiles: string[];
  triton?: TritonServing;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

function tritonModel(dir: string, name: string): Found | undefined {
  const versions = readdirSync(dir).filter((v) => /^\d+$/.test(v) && existsSync(join(dir, v, 'model.onnx'))).sort((a, b) => Number(b) - Number(a));
  if (!versions.length) return undefined;
  const configFile = join(dir, 'config.pbtxt');
  const triton = existsSync(configFile) ? readTritonServing(parseTextProto(readUserFile(configFile, 'Triton configuration', 'config.pbtxt must be a text file'), configFile), configFile) : undefined;
  if (triton?.name !== undefined && triton.name !== name) throw new ImperaError('BAD_REPOSITORY', `${configFile} names the model '${triton.name}' but its folder is '${name}'`, 'Triton requires the name to match the folder');
  if (triton?.batchDelayUs !== undefined && triton.batchDelayUs > MAX_BATCH_DELAY_MS * 1000) {
    throw new ImperaError('BAD_REPOSITORY', `${configFile}: dynamic_batching.max_queue_delay_microseconds is ${triton.batchDelayUs}, beyond the ${MAX_BATCH_DELAY_MS * 1000} (${MAX_BATCH_DELAY_MS / 1000} s) impera serve allows`, 'a batching delay is a few milliseconds (e.g. 500 to 5000)');
  }
  return { name, version: versions[0]!, file: join(dir, versions[0]!, 'model.onnx'), codecFiles: [join(dir, 'codec.json')], ...(triton ? { triton } : {}) };
}

function discover(repo: string): Found[] {
  if (!isDir(repo)) throw new ImperaError('BAD_REPOSITORY', `model repository '${repo}' is not a folder`, 'pass the folder `impera split --out` or `impera export-triton --out` wrote');
  const found: Found[] = [];
  for (const entry of readdirSync(repo).sort()) {
    const path = join(repo, entry);
    if (entry.endsWith('.onnx') && !isDir(path)) found.push({ name: entry.slice(0, -'.onnx'.length), version: '1', file: path, codecFiles: [join(repo, 'codec.json')] });
    else if (isDir(path) && existsSync(join(path, 'model.onnx'))) found.push({ name: entry, version: '1', file: join(path, 'model.onnx'), codecFiles: [join(path, 'codec.json')] });
    else if (isDir(path)) {
      const t = tritonModel(path, entry);
      if (t) found.push(t);
    }
  }
  if (!found.length) throw new ImperaError('BAD_REPOSITORY', `model repository '${repo}' holds no models`, 'expected NAME.onnx, NAME/model.onnx or NAME/<version>/model.onnx (Triton layout)');
  // NAME.onnx beside a folder NAME/ would serve one of them silently
  const twice = found.find((f, i) => found.findIndex((o) => o.name === f.name) !== i);
  if (twice) throw new ImperaError('BAD_REPOSITORY', `model repository '${repo}' holds the model '${twice.name}' twice: ${found.filter((f) => f.name === twice.name).map((f) => `'${f.file}'`).join(' and ')}`, 'keep one of them, or rename the other');
  return found;
}

/** Every model of the repository with its metadata and serving settings. */
export function loadRepository(repo: string, defaults: ServingDefaults): ServedModel[] {
  return discover(repo).map((f) => {
    const metadata = modelMetadata(loadModel(f.file).proto, f.name, f.version);
    const canBatch = batchable(metadata);
    const maxBatch = !canBatch ? 1 : f.triton ? Math.max(1, f.triton.maxBatch) : defaults.maxBatch;
    const delayMs = f.triton ? (f.triton.batchDelayUs !== undefined ? f.triton.batchDelayUs / 1000 : undefined) : defaults.batchDelayMs;
    const codecFile = f.codecFiles.find((c) => existsSync(c));
    const codec = codecFile ? loadWireCodec(codecFile) : undefined;
    const wire = codec && codecFits(metadata, codec) ? codec : undefined;
    return { name: f.name, version: f.version, file: f.file, metadata, maxBatch, ...(canBatch && maxBatch > 1 && delayMs !== undefined ? { batchDelayMs: delayMs } : {}), ...(wire ? { wire } : {}) };
  });
}
