/** Splitting a model along one or more cuts into exported parts, and writing them to a folder. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cut } from '../cuts/cuts.js';
import { partition, type Stage } from '../cuts/cuts.js';
import type { Graph } from '../graph/graph.js';
import { saveModel } from '../onnx/io.js';
import { extractPart, type ExportedPart } from './extract.js';

export interface SplitResult {
  stages: Stage[];
  parts: ExportedPart[];
}

/** Part names: head/tail for one cut, stage0..stageK otherwise. */
export function partNames(count: number): string[] {
  return count === 2 ? ['head', 'tail'] : Array.from({ length: count }, (_, i) => `stage${i}`);
}

/**
 * The parts along `cuts`. A dynamic dim that one part cannot follow is fixed in every part, so that the chain
 * runs at every size each of its parts accepts.
 */
export function splitModel(g: Graph, cuts: readonly Cut[]): SplitResult {
  const stages = partition(g, cuts);
  const names = partNames(stages.length);
  const extract = (fixed: ReadonlySet<string>) => stages.map((s, i) => extractPart(g, { name: names[i]!, nodes: s.nodes, inputs: s.inputs, outputs: s.outputs }, fixed));
  const parts = extract(new Set());
  const kept = g.dynamicDims.filter((d) => parts.every((p) => p.dynamicDims.includes(d.symbol)));
  if (parts.every((p) => p.dynamicDims.length === kept.length)) return { stages, parts };
  return { stages, parts: extract(new Set(g.dynamicDims.filter((d) => !kept.includes(d)).map((d) => d.symbol))) };
}

/** Write each part as `<name>.onnx` and return the paths. */
export function writeParts(g: Graph, parts: readonly ExportedPart[], dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return parts.map((p) => {
    const path = join(dir, `${p.name}.onnx`);
    saveModel({ proto: p.proto, dir: g.model.dir }, path);
    return path;
  });
}

export function writeManifest(dir: string, manifest: unknown): string {
  const path = join(dir, 'split.json');
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}
