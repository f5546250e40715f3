/** `impera/exits`: early exits: branches trained on cached features, temperature calibration, exit policies, robustness, and exits attached to an exported head. */
export { makeBranch, branchModel, type Branch, type BranchSpec } from '../exits/branch.js';
export { fanOutMask, validFanOuts } from '../exits/sparsity.js';
export { extractFeatures, type ExitFeatures, type FeatureOptions } from '../exits/features.js';
export { trainBranch, type TrainData, type TrainOptions, type TrainedBranch } from '../exits/train.js';
export { fitTemperature, expectedCalibrationError, type ReliabilityBin } from '../exits/calibration.js';
export { applyPolicy, sweep, outageProbability, missedDeadline, DEFAULT_TAUS, type Policy, type PolicyOutcome, type ExitLogits } from '../exits/policy.js';
export { trainExits, type TrainedExit, type TrainedExits, type ExitsOptions, type ExitsResult, type ExitReport } from '../exits/pipeline.js';
export { parseDistortions, type Distortion } from '../exits/distort.js';
export { robustness, type RobustnessRow } from '../exits/robustness.js';
export { attachExits, describeExits, type ExitsDescription } from '../exits/export.js';
