/**
 * impera's library API: the product's verbs and the types they take and return, in the order of the work — load
 * a model, analyze its graph, find the cuts, split and verify the parts, then gradients and saliency, accuracy
 * and bytes (evaluate), latency (profile), the network (simulate), the recommendation (plan, renderReport) and
 * the runtime (startServer, EdgeRunner). Specialist layers are subpath exports: `impera/onnx`, `impera/graph`,
 * `impera/autodiff`, `impera/saliency`, `impera/codecs`, `impera/eval`, `impera/data`, `impera/profile`,
 * `impera/devices`, `impera/net`, `impera/sim`, `impera/exits`, `impera/bottlenecks`, `impera/placement`, `impera/plan`,
 * `impera/report`, `impera/runtime` (src/api/).
 *
 * ```ts
 * import { EXAMPLE_MODEL, loadModel, analyzeModel, findCuts, splitModel, verifyParts, sampleFeeds } from 'impera';
 * const g = await analyzeModel(loadModel(EXAMPLE_MODEL), { batch: 1 });
 * const cuts = findCuts(g, { maxWidth: 2 });
 * const { parts } = splitModel(g, [cuts[16]]);
 * console.log((await verifyParts(g, parts, sampleFeeds(g.inputShapes, 8).feeds)).ok);
 * ```
 */
export { ImperaError, isImperaError, type ErrorCode } from './errors.js';
export { EXAMPLE_MODEL, EXAMPLE_DATA, VERSION } from './util/package.js';

// model -> graph -> cuts -> parts
export { loadModel, saveModel, type OnnxModel } from './onnx/io.js';
export type { Tensor, TypedArray } from './onnx/tensor.js';
export { DataType } from './onnx/dtype.js';
export { analyzeModel, type AnalyzeOptions } from './graph/analyze.js';
export type { Graph, TensorFacts } from './graph/graph.js';
export { modelSummary, type ModelSummary } from './cost/summary.js';
export { findCuts, describeCut, resolveCut, partition, type Cut, type CutRecord, type CutTensor, type Stage } from './cuts/cuts.js';
export { splitModel, writeParts, type SplitResult } from './export/split.js';
export { verifyParts, type VerifyReport, type VerifyOptions } from './export/verify.js';

// data
export { openDataset, type Dataset, type DatasetOptions } from './data/dataset.js';
export { sampleFeeds, type SampleFeeds } from './data/samples.js';
export { readNpy, writeNpy } from './data/npy.js';
export type { Feeds } from './ort/session.js';

// analyses
export { computeGradients, type GradientOptions, type Gradients } from './autodiff/gradients.js';
export { runSaliency, type SaliencyOptions, type SaliencyResult } from './saliency/dataset-saliency.js';
export { evaluate, type EvaluateOptions, type EvalReport } from './eval/evaluate.js';
export { profileModel, type ProfileOptions } from './profile/profiler.js';
export { loadProfile, saveProfile, type Profile } from './profile/profile-file.js';
export { loadScenario as loadSimScenario, type Scenario as SimScenario } from './sim/scenario.js';
export { deployment } from './sim/setups.js';
export { simulate, type SimOptions } from './sim/des.js';
export type { SimResult } from './sim/result.js';

// the plan
export { readPlanScenario as readScenario, type PlanScenario } from './plan/scenario.js';
export { plan, type PlanOptions, type PlanContext } from './plan/planner.js';
export type { PlanResult, PlanConfiguration, Recommendation } from './plan/types.js';
export { renderReport } from './report/html.js';
export { exportPlan } from './runtime/deploy.js';

// the runtime
export { startServer, type ServerOptions, type RunningServer } from './runtime/server/app.js';
export { EdgeRunner, type FrameResult } from './runtime/edge/runner.js';
export { loadRuntimeConfig, type RuntimeConfig } from './runtime/edge/config.js';
