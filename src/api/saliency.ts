/** `impera/saliency`: I-SPLIT's Grad-CAM and cumulative saliency (CUI) over a dataset, and its peaks as candidate split points. */
export { runSaliency, candidateLayers, type SaliencyOptions, type SaliencyResult } from '../saliency/dataset-saliency.js';
export { buildSaliencyModel, type SaliencyModel } from '../saliency/gradcam.js';
export { CuiAccumulator, findPeaks, type CuiPoint, type SaliencyLayer } from '../saliency/cui.js';
