/** `impera/bottlenecks`: learned bottlenecks at a cut — the design, cached head features, training with the model frozen, and the trained bottleneck deployed and measured. */
export { designBottleneck, emitBottleneck, initParams, parseRatio, fittingRatios, DEFAULT_RATIO, type BottleneckDesign, type DesignOptions, type BottleneckLayout } from '../bottlenecks/design.js';
export { cacheFeatures, samplesThatFit, type CachedFeatures } from '../bottlenecks/features.js';
export { trainWeights, trainingModel, bottleneckedTail, LOSSES, type BottleneckLoss, type TrainOptions, type EpochLog, type TrainedWeights } from '../bottlenecks/train.js';
export { trainBottleneck, insertBottleneck, chooseLoss, type BottleneckOptions, type TrainedBottleneck } from '../bottlenecks/pipeline.js';
