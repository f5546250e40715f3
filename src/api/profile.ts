/** `impera/profile`: measured latency profiles (impera-profile/1) and predictions of any part from its nodes. */
export { loadProfile, saveProfile, partMs, modelFingerprint, PROFILE_FORMAT, type Profile, type PartTiming, type NodeTiming, type TimingStats, type BoundaryTiming } from '../profile/profile-file.js';
export { profileModel, profileSteps, type ProfileOptions } from '../profile/profiler.js';
export { partPredictor, predictionErrors, type PartPrediction, type PredictionInputs } from '../profile/predict.js';
export { machinePeaks } from '../profile/machine.js';
