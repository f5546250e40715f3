/** `impera/graph`: the graph IR and what is computed from it: shapes, per-op rules (add a custom op's rule here), costs, cuts, exported parts. */
export { analyzeModel, type AnalyzeOptions } from '../graph/analyze.js';
export { tensor, runtimeNodes, type Graph, type TensorFacts } from '../graph/graph.js';
export { parseInputShapes } from '../graph/input-shapes.js';
export { channelAxes, channelLayout, tensorLayout, type ChannelLayout } from '../graph/layout.js';
export type { GraphNode } from '../graph/structure.js';
export { registerOpRule, registeredOps, type RegisterOptions, type OpRule, type OpContext, type TensorInfo, type NodeCost, type ConstValue } from '../ops/index.js';
export { partCost, modelCost, nodeCosts, type PartCost, type NodeCostRecord } from '../cost/part.js';
export { modelSummary, type ModelSummary } from '../cost/summary.js';
export { enumerateCuts, type RawCut, type EnumerateOptions } from '../cuts/enumerate.js';
export { findCuts, singleTensorCuts, describeCut, resolveCut, partition, stretches, cutRecord, DEFAULT_WIDTH, type Cut, type CutListOptions, type CutSpec, type CutRecord, type CutTensor, type Stage } from '../cuts/cuts.js';
export { paretoFront, dominatedTensors, type FrontPoint } from '../cuts/front.js';
export { extractPart, type ExportedPart, type PartSpec } from '../export/extract.js';
export { splitModel, writeParts, partNames, type SplitResult } from '../export/split.js';
export { verifyParts, referenceOutputs, type VerifyReport, type VerifyOptions, type OutputCheck } from '../export/verify.js';
export { createSession, run, type SessionOptions, type Feeds } from '../ort/session.js';
