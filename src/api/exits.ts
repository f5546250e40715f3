/** `impera/exits`: early exits: branches trained on cached features, temperature calibration, exit policies, robustness, exits attached to an exported head, and exits that predict maps, sequences and embeddings. */
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
export { outputTarget, makeOutputBranch, outputBranchModel, distillationModel, hasClassScores, type OutputTarget, type OutputBranch } from '../exits/output-branch.js';
export { confidences, applyTau, calibrateTau, OUTPUT_TAUS, type OutputPolicyRow } from '../exits/output-policy.js';
export { trainOutputExits, defaultTarget, type OutputExitsOptions, type OutputExitsResult, type OutputExitReport } from '../exits/output-pipeline.js';
