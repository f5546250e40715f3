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
export { DataType, dtypeName, tensorBytes } from './onnx/dtype.js';
export { onnx } from './onnx/proto.js';

export { analyzeModel, type AnalyzeOptions } from './graph/analyze.js';
export { tensor, runtimeNodes, type Graph, type TensorFacts } from './graph/graph.js';
export { parseInputShapes } from './graph/input-shapes.js';
export type { GraphNode } from './graph/structure.js';
export { registerOpRule, registeredOps, type OpRule, type OpContext, type TensorInfo, type NodeCost, type ConstValue } from './ops/index.js';

export { partCost, modelCost, nodeCosts, type PartCost, type NodeCostRecord } from './cost/part.js';
export { modelSummary, type ModelSummary } from './cost/summary.js';

export { enumerateCuts, type RawCut, type EnumerateOptions } from './cuts/enumerate.js';
export { findCuts, describeCut, resolveCut, partition, cutRecord, type Cut, type CutRecord, type CutTensor, type Stage } from './cuts/cuts.js';

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
export { registerGradient, differentiableOps, type GradRule, type GradContext } from './autodiff/registry.js';
export { Emitter } from './autodiff/emit.js';

export { runSaliency, candidateLayers, type SaliencyOptions, type SaliencyResult } from './saliency/run.js';
export { buildSaliencyModel, type SaliencyModel } from './saliency/gradcam.js';
export { CuiAccumulator, findPeaks, type CuiPoint, type SaliencyLayer } from './saliency/cui.js';
export { renderSvg, curveSpec, rateAccuracySpec } from './report/plot.js';

export { parseCodec, isLossy, DEFAULT_CODECS, type CodecSpec, type QuantStage, type Entropy } from './codecs/spec.js';
export { fitCodecs, type CalibrationOptions } from './codecs/calibrate.js';
export { fitPca, type Pca, type ChannelMoments } from './codecs/pca.js';
export { codecModel, emitEncode, emitDecode, emitRoundTrip } from './codecs/onnx.js';
export { encodeWire, decodeWire, packWire, packBits, unpackBits, type WireValues } from './codecs/wire.js';
export type { FittedCodec, FittedTensorCodec } from './codecs/fitted.js';
export { attachCodec, describeWire, wireCodec, runCodecPair, type WireDescription } from './export/codec.js';
export { evaluate, type EvaluateOptions, type EvalReport, type CutEval, type CodecEval } from './eval/evaluate.js';
export { inputBaselines, type BaselineEval } from './eval/baselines.js';
export { wilson, paretoFront, bestWithin } from './eval/stats.js';
export { channelLayout, type ChannelLayout } from './graph/layout.js';
