/** `impera/eval`: accuracy and bytes of every cut x codec on real data, input-side baselines, Pareto fronts, Wilson intervals. */
export { evaluate, type EvaluateOptions, type EvalReport, type CutEval, type CodecEval } from '../eval/evaluate.js';
export { inputBaselines, type BaselineEval } from '../eval/baselines.js';
export { paretoFront, bestWithin } from '../eval/pareto.js';
export { wilson } from '../util/stats.js';
