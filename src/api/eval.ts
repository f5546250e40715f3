/**
 * `impera/eval`: quality (under the task's metric) and bytes of every cut x codec on real data, input-side baselines,
 * Pareto fronts; the task layer that measures quality of any output (metrics, their automatic choice, intervals).
 */
export { evaluate, type EvaluateOptions, type EvalReport, type CutEval, type CodecEval } from '../eval/evaluate.js';
export { inputBaselines, type BaselineEval } from '../eval/baselines.js';
export { paretoFront, bestWithin } from '../eval/pareto.js';
export { chooseTask, metricKind } from '../task/choose.js';
export { bootstrapMean, qualityFigure } from '../task/quality.js';
export { editDistance, greedyDecode } from '../task/sequences.js';
export type { BuiltinMetric, DataInfo, Metric, MetricName, OutputInfo, QualityFigure, ScoreBatch, Task, TaskOptions, UserMetricModule } from '../task/types.js';
export { wilson } from '../util/stats.js';
