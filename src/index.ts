/**
 * impera's library API. The flow is one way: load a model -> analyse its graph (shapes, costs) -> find cuts ->
 * split and export parts -> verify them in ONNX Runtime.
 *
 * ```ts
 * import { loadModel, analyzeModel, findCuts, splitModel, writeParts } from 'impera';
 * const g = await analyzeModel(loadModel('model.onnx'), { batch: 1 });
 * const cuts = findCuts(g, { maxWidth: 2 });
 * const { parts } = splitModel(g, [cuts[10]!]);
 * writeParts(g, parts, 'out/');
 * ```
 */
export { ImperaError, isImperaError, type ErrorCode } from './errors.js';

export { loadModel, saveModel, decodeModel, encodeModel, inMemoryModel, type OnnxModel, type SaveOptions } from './onnx/io.js';
export { readTensor, makeTensorProto, toNumbers, type Tensor, type TypedArray } from './onnx/tensor.js';
export { ModelBuilder, valueInfo } from './onnx/builder.js';
export { Emitter, type NodeOptions, type OpOptions } from './onnx/emitter.js';
export { DataType, dtypeName, tensorBytes } from './onnx/dtype.js';
export { onnx } from './onnx/proto.js';

export { analyzeModel, type AnalyzeOptions } from './graph/analyze.js';
export { tensor, runtimeNodes, type Graph, type TensorFacts } from './graph/graph.js';
export { parseInputShapes } from './graph/input-shapes.js';
export type { GraphNode } from './graph/structure.js';
export { registerOpRule, registeredOps, type RegisterOptions, type OpRule, type OpContext, type TensorInfo, type NodeCost, type ConstValue } from './ops/index.js';

export { partCost, modelCost, nodeCosts, type PartCost, type NodeCostRecord } from './cost/part.js';
export { modelSummary, type ModelSummary } from './cost/summary.js';

export { enumerateCuts, type RawCut, type EnumerateOptions } from './cuts/enumerate.js';
export { findCuts, describeCut, resolveCut, partition, stretches, cutRecord, type Cut, type CutRecord, type CutTensor, type Stage } from './cuts/cuts.js';

export { extractPart, type ExportedPart, type PartSpec } from './export/extract.js';
export { splitModel, writeParts, partNames, type SplitResult } from './export/split.js';
export { verifyParts, referenceOutputs, type VerifyReport, type VerifyOptions, type OutputCheck } from './export/verify.js';

export { createSession, run, type SessionOptions, type Feeds } from './ort/session.js';

export { loadFashionMnist, FASHION_MNIST_CLASSES, type GrayImages } from './data/fashion-mnist.js';
export { grayToInput, rasterToInput, IMAGENET } from './data/preprocess.js';
export { sampleFeeds, type SampleFeeds } from './data/samples.js';
export { openDataset, type Dataset, type DatasetOptions, type ImageSpec } from './data/dataset.js';
export { readNpy, writeNpy, encodeNpy, decodeNpy } from './data/npy.js';

export { buildBackwardGraph, gradientName, TARGETS_INPUT, OUTPUT_GRAD_INPUT, type BackwardSpec, type BackwardModel, type Objective } from './autodiff/backward.js';
export { registerGradient, differentiableOps } from './autodiff/registry.js';
export type { GradRule, GradContext, ShapeFacts } from './autodiff/rule.js';

export { runSaliency, candidateLayers, type SaliencyOptions, type SaliencyResult } from './saliency/dataset-saliency.js';
export { buildSaliencyModel, type SaliencyModel } from './saliency/gradcam.js';
export { CuiAccumulator, findPeaks, type CuiPoint, type SaliencyLayer } from './saliency/cui.js';
export { renderSvg, curveSpec, rateAccuracySpec } from './report/plot.js';
export { renderReport } from './report/html.js';

export { parseCodec, isLossy, DEFAULT_CODECS, type CodecSpec, type QuantStage, type Entropy } from './codecs/spec.js';
export { fitCodecs, type CalibrationOptions } from './codecs/calibrate.js';
export { fitPca, type Pca, type ChannelMoments } from './codecs/pca.js';
export { codecModel, emitEncode, emitDecode, emitRoundTrip } from './codecs/onnx.js';
export { encodeWire, decodeWire, packWire, packBits, unpackBits, type WireValues } from './codecs/wire.js';
export type { FittedCodec, FittedTensorCodec } from './codecs/fitted.js';
export { attachCodec, describeWire, wireCodec, runCodecPair, type WireDescription } from './export/codec.js';
export { evaluate, type EvaluateOptions, type EvalReport, type CutEval, type CodecEval } from './eval/evaluate.js';
export { inputBaselines, type BaselineEval } from './eval/baselines.js';
export { paretoFront, bestWithin } from './eval/pareto.js';
export { channelLayout, type ChannelLayout } from './graph/layout.js';

export { resolveLink, LINK_PRESETS, type Link, type LinkConfig } from './net/link.js';
export { constantRate, traceRate, parseTrace, loadTrace, type Rate, type BandwidthTrace } from './net/rate.js';
export { pathOf, type Path, type Direction } from './net/path.js';
export { tcpConnection, tcpSend, TCP_DEFAULTS, type TcpOptions, type TcpConnection, type TransferOutcome } from './net/tcp.js';
export { udpFlow, udpSend, udpFrameLossProbability, type UdpOptions } from './net/udp.js';
export { resolveTransport, openFlow, drawTransfers, transferStats, type Transport, type Flow, type TransferStats } from './net/transfer.js';
export { phyRateMbps, ppduUs, aggregate, uncontendedUs, type WifiPhy } from './net/wifi.js';
export { summarize, type Summary } from './net/time-summary.js';
export { quantile, quantileSorted, median, mean, wilson, argmax } from './util/stats.js';
export { ns3Toolchain, ns3Binary, checkNs3, runNs3, type Ns3Toolchain, type Ns3Program } from './net/ns3/toolchain.js';
export { runP2p, runWifi, type P2pRequest, type WifiRequest, type Ns3Run, type WifiRun } from './net/ns3/scenarios.js';
export { simulate, type SimOptions } from './sim/des.js';
export { analyze } from './sim/analytic.js';
export { simulateNs3, type Ns3Options } from './sim/ns3.js';
export { loadScenario, readScenario, SETUPS, type Scenario, type ScenarioConfig, type SetupName } from './sim/scenario.js';
export { deployment, chooseSetups, missingFor } from './sim/setups.js';
export type { Deployment, DeviceSpec, ServerSpec } from './sim/deployment.js';
export type { SimResult, FrameTrace, Backend } from './sim/result.js';

export { loadProfile, saveProfile, partMs, modelFingerprint, PROFILE_FORMAT, profileSchema, type Profile, type PartTiming, type NodeTiming, type TimingStats, type BoundaryTiming } from './profile/profile-file.js';
export { profileModel, profileSteps, type ProfileOptions } from './profile/profiler.js';
export { partPredictor, predictionErrors, type PartPrediction, type PredictionInputs } from './profile/predict.js';
export { attributeKernels, shareFusedTime, type NodeTime, type OptimizedNode, type Attribution } from './profile/attribute.js';
export { measureAlternating, measureFor, DEFAULT_MEASURE, type MeasureOptions, type Task } from './profile/measure.js';
export { machinePeaks } from './profile/machine.js';
export { loadCatalog, readCatalogFile, findDevice, findRadio, peakGflops, BUILTIN_CATALOG, DTYPES, type Catalog, type Device, type Radio, type ComputeDtype } from './devices/catalog.js';
export { calibrate, predictNodes, rooflineMs, nodeWork, opClass, OP_CLASSES, type DeviceModel, type OpClass, type Efficiency, type NodeWork } from './devices/roofline.js';
export { predictedProfile, type PredictedProfileOptions } from './devices/predicted.js';
export { edgeEnergy, computeEnergyJ, radioEnergyJ, radioJoulesPerByte, type EdgeEnergy } from './devices/energy.js';

export { makeBranch, branchModel, initParams, channelStats, type Branch, type BranchSpec, type Param } from './exits/branch.js';
export { fanOutMask, validFanOuts, layerSize, type LayerSize } from './exits/sparsity.js';
export { extractFeatures, type ExitFeatures, type FeatureOptions } from './exits/features.js';
export { trainBranch, trainingModel, adamStep, branchLogits, accuracyOf, type TrainData, type TrainOptions, type TrainedBranch } from './exits/train.js';
export { fitTemperature, expectedCalibrationError, nll, type ReliabilityBin } from './exits/calibration.js';
export { applyPolicy, sweep, softmax, entropy, outageProbability, missedDeadline, DEFAULT_TAUS, type Policy, type PolicyOutcome, type ExitLogits } from './exits/policy.js';
export { trainExits, cacheFeatures, fitExits, splitSamples, testLogits, type TrainedExit, type TrainedExits, type ExitsOptions, type ExitsResult, type ExitReport } from './exits/pipeline.js';
export { expectedTime, popexBruteForce, popexShortestPath, type PopexProblem, type PopexPlan, type PopexExit } from './placement/popex.js';
export { modelPopex, profilePopex, pathTimes, conditionalRates, popexSummary, type ModelPopex, type PopexSetup, type PopexSummary } from './placement/model-popex.js';
export { parseDistortions, distorter, type Distortion } from './exits/distort.js';
export { robustness, type RobustnessRow } from './exits/robustness.js';
export { attachExits, describeExits, exitOutput, type ExitsDescription } from './exits/export.js';

export { planChain, bruteForceChain, type ChainProblem, type ChainDevice, type ChainLink, type ChainObjective, type ChainPlan, type ChainStage, type ChainHop } from './placement/chain.js';
export { dadsPartition, bestEnumeratedCut, splitLatency, transferFromBytes, type EdgeCloudCosts, type EdgeCloudSplit, type DadsResult } from './placement/dads.js';
export { minCut, type Arc, type MinCut } from './placement/maxflow.js';

export { startServer, SERVER_DEFAULTS, type ServerOptions, type RunningServer } from './runtime/server/app.js';
export { loadRepository, type ServingDefaults } from './runtime/server/repository.js';
export type { ServedModel } from './runtime/server/model.js';
export { EdgeRunner, topProbability, type FrameResult, type FrameTimings, type Outcome } from './runtime/edge/runner.js';
export { loadRuntimeConfig, resolveRuntimeConfig, RUNTIME_FORMAT, type RuntimeConfig } from './runtime/edge/config.js';
export { createClient, HttpClient, StreamClient, CallError, PROTOCOLS, type InferenceClient, type Protocol, type InferCall, type InferReply } from './runtime/edge/client.js';
export { frameSource, type FrameSource, type Frame } from './runtime/edge/frames.js';
export { encodeRequest, decodeRequest, encodeResponse, decodeResponse, rawRequest, type InferRequest, type InferResponse, type ModelMetadata, type TensorMetadata, type ServerMetadata } from './runtime/protocol/messages.js';
export { modelMetadata } from './runtime/protocol/metadata.js';
export { checkRequest } from './runtime/protocol/validate.js';
export { ProtocolError, isProtocolError } from './runtime/protocol/errors.js';
export type { InferTensor } from './runtime/protocol/tensor.js';
export { tritonConfig, writeTritonModel, parseTextProto, readTritonServing, type TritonOptions } from './runtime/triton.js';
export { predictE2e, runE2e, openPath, parseLinks, messageBytes, transportFor, type CutResult, type Prediction } from './runtime/e2e.js';
export { measureOverhead, type OverheadStats } from './runtime/overhead.js';
export { hostileRequests, type RawRequest } from './runtime/hostile.js';
export { NetnsPath, netnsUnavailable } from './runtime/shaper/netns.js';
export { ProxyPath } from './runtime/shaper/proxy.js';
export type { ShapedPath, ShapeParams } from './runtime/shaper/path.js';
