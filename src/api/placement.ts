/** `impera/placement`: where each part runs: POPEX with exits, the k-device chain DP, DADS's minimum cut and the max-flow it uses. */
export { expectedTime, popexBruteForce, popexShortestPath, type PopexProblem, type PopexPlan, type PopexExit } from '../placement/popex.js';
export { modelPopex, profilePopex, popexSummary, type ModelPopex, type PopexSetup, type PopexSummary } from '../placement/model-popex.js';
export { planChain, bruteForceChain, type ChainProblem, type ChainDevice, type ChainLink, type ChainObjective, type ChainPlan, type ChainStage, type ChainHop } from '../placement/chain.js';
export { dadsPartition, bestEnumeratedCut, type EdgeCloudCosts, type EdgeCloudSplit, type DadsResult } from '../placement/dads.js';
export { minCut, type Arc, type MinCut } from '../placement/maxflow.js';
