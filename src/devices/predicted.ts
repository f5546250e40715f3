/**
 * Predicted profiles: the same file a measured profile is, for a catalog device impera cannot run on. Node times
 * come from the roofline device model; a part's time is the sum of its nodes (no edge costs: those are specific
 * to the measuring machine's runtime).
 */
import { partition, type Cut } from '../cuts/cuts.js';
import { runtimeNodes, type Graph } from '../graph/graph.js';
import { modelInfo, PROFILE_FORMAT, type PartTiming, type Profile } from '../profile/profile-file.js';
import type { ComputeDtype, Device } from './catalog.js';
import { predictNodes, type DeviceModel } from './roofline.js';

export interface PredictedProfileOptions {
  device: Device;
  model: DeviceModel;
  dtype: ComputeDtype;
  /** The measured profile the model was calibrated on (a path or a description). */
  calibratedFrom: string;
  cuts: readonly Cut[];
  stages: readonly (readonly Cut[])[];
}

export function predictedProfile(g: Graph, o: PredictedProfileOptions): Profile {
  const batch = g.batch?.size ?? 1;
  const ms = predictNodes(g, o.device, o.model, o.dtype);
  const sum = (nodes: Iterable<number>) => [...nodes].reduce((s, i) => s + (ms.get(i) ?? 0), 0);
  const parts: PartTiming[] = [{ kind: 'full', cut: null, batch, predictedMs: sum(runtimeNodes(g)) }];
  for (const cut of o.cuts) {
    const [head, tail] = partition(g, [cut]);
    parts.push({ kind: 'head', cut: cut.id, batch, predictedMs: sum(head!.nodes) }, { kind: 'tail', cut: cut.id, batch, predictedMs: sum(tail!.nodes) });
  }
  for (const staging of o.stages) {
    const id = staging.map((c) => c.id).join(',');
    partition(g, staging).forEach((s, stage) => parts.push({ kind: 'stage', cut: id, stage, batch, predictedMs: sum(s.nodes) }));
  }
  return {
    format: PROFILE_FORMAT,
    createdAt: new Date().toISOString(),
    model: modelInfo(g),
    device: { kind: 'predicted', name: o.device.id, description: o.device.name, calibratedFrom: o.calibratedFrom },
    runtime: null,
    batch,
    nodes: runtimeNodes(g).map((i) => ({ name: g.nodes[i]!.name, opType: g.nodes[i]!.opType, ms: ms.get(i) ?? 0, index: i })),
    parts,
    deviceModel: { dtype: o.dtype, ...o.model },
  };
}
