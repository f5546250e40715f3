/**
 * Checkpoints of a bottleneck's training, so an interrupted run resumes where its last epoch ended. A checkpoint is
 * written to a temporary file and renamed over the old one, so a run killed mid-write leaves the previous
 * checkpoint whole; it carries a fingerprint of the run (model, cut, design, loss, seed, samples) and is refused
 * for any other run.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImperaError } from '../errors.js';

export interface TrainingState {
  fingerprint: string;
  /** Epochs completed and Adam steps taken. */
  epoch: number;
  step: number;
  values: Map<string, Float32Array>;
  moments: Map<string, [Float32Array, Float32Array]>;
  best: { score: number; epoch: number; values: Map<string, Float32Array> };
  history: unknown[];
}

export const CHECKPOINT_FILE = 'checkpoint.json';
export const checkpointPath = (dir: string): string => join(dir, CHECKPOINT_FILE);

const encode = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const decode = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const encodeMap = (m: ReadonlyMap<string, Float32Array>) => Object.fromEntries([...m].map(([k, v]) => [k, encode(v)]));
const decodeMap = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k, decode(v)]));

export function writeCheckpoint(path: string, s: TrainingState): void {
  const body = {
    fingerprint: s.fingerprint,
    epoch: s.epoch,
    step: s.step,
    values: encodeMap(s.values),
    moments: Object.fromEntries([...s.moments].map(([k, [m, v]]) => [k, [encode(m), encode(v)]])),
    best: { score: s.best.score, epoch: s.best.epoch, values: encodeMap(s.best.values) },
    history: s.history,
  };
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(body));
  renameSync(tmp, path);
}

/**
 * The state to start from: the checkpoint when resuming (refused if absent or of another run), nothing otherwise
 * (refused if a checkpoint of an interrupted run is there, so it is not overwritten by accident).
 */
export function startingState(path: string, fingerprint: string, resume: boolean): TrainingState | undefined {
  const exists = existsSync(path);
  if (!resume) {
    if (exists) throw new ImperaError('BAD_ARGUMENT', `${path} holds the checkpoint of an interrupted training run`, 'pass --resume to continue it, or delete the file to start again');
    return undefined;
  }
  if (!exists) throw new ImperaError('BAD_ARGUMENT', `--resume: no checkpoint at ${path}`, 'run without --resume to start training');
  let raw: { fingerprint: string; epoch: number; step: number; values: Record<string, string>; moments: Record<string, [string, string]>; best: { score: number; epoch: number; values: Record<string, string> }; history: unknown[] };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ImperaError('BAD_ARGUMENT', `--resume: ${path} is not a readable checkpoint`, 'delete it and run without --resume');
  }
  if (raw.fingerprint !== fingerprint) throw new ImperaError('BAD_ARGUMENT', `--resume: ${path} was written by another run (model, cut, design, loss, seed or samples differ)`, 'give the same options as the interrupted run, or delete the file and run without --resume');
  return {
    fingerprint,
    epoch: raw.epoch,
    step: raw.step,
    values: decodeMap(raw.values),
    moments: new Map(Object.entries(raw.moments).map(([k, [m, v]]) => [k, [decode(m), decode(v)]])),
    best: { score: raw.best.score, epoch: raw.best.epoch, values: decodeMap(raw.best.values) },
    history: raw.history,
  };
}

export function removeCheckpoint(path: string): void {
  rmSync(path, { force: true });
}
