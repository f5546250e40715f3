/**
 * Predefined sparsity (METHODS.md §6): the connection pattern of a fully connected layer is fixed before training —
 * every input feeds exactly `fanOut` outputs and every output reads exactly fanIn = nIn * fanOut / nOut inputs — and
 * kept during training. Stored compactly as values plus input indices.
 */
import { ImperaError } from '../errors.js';
import { seededRandom, shuffledIndices } from '../util/random.js';

/** Fan-outs that give every output the same fan-in. */
export function validFanOuts(nIn: number, nOut: number): number[] {
  return Array.from({ length: nOut }, (_, i) => i + 1).filter((d) => (nIn * d) % nOut === 0);
}

/**
 * The nIn x nOut (row-major) 0/1 mask. Inputs and outputs are shuffled, then input rank r feeds outputs
 * (r * fanOut + j) mod nOut for j < fanOut: consecutive, hence distinct, and spread evenly over the outputs.
 */
export function fanOutMask(nIn: number, nOut: number, fanOut: number, seed = 1): Float32Array {
  if (!Number.isInteger(fanOut) || fanOut < 1 || fanOut > nOut || (nIn * fanOut) % nOut !== 0) {
    const ok = validFanOuts(nIn, nOut);
    const list = ok.length > 12 ? `${ok.slice(0, 12).join(', ')}, ...` : ok.join(', ');
    throw new ImperaError('BAD_ARGUMENT', `fan-out ${fanOut} does not fit a ${nIn} -> ${nOut} layer: every output must read the same number of inputs (${nIn} x fan-out / ${nOut} must be whole)`, `fan-outs that work: ${list}`);
  }
  const rand = seededRandom(seed);
  const ins = shuffledIndices(nIn, rand);
  const outs = shuffledIndices(nOut, rand);
  const mask = new Float32Array(nIn * nOut);
  ins.forEach((i, r) => {
    for (let j = 0; j < fanOut; j++) mask[i * nOut + outs[(r * fanOut + j) % nOut]!] = 1;
  });
  return mask;
}

export interface LayerSize {
  /** Weights that exist (non-zero pattern) and the dense count. */
  weights: number;
  denseWeights: number;
  /** Multiply-accumulates per sample. */
  macs: number;
  /** Stored compactly: 4-byte values plus 2- or 4-byte input indices (dense: values only). */
  bytes: number;
  denseBytes: number;
}

export function layerSize(nIn: number, nOut: number, mask?: Float32Array): LayerSize {
  const dense = nIn * nOut;
  const weights = mask ? mask.reduce((s, v) => s + v, 0) : dense;
  const indexBytes = nIn <= 65536 ? 2 : 4;
  return { weights, denseWeights: dense, macs: weights, bytes: mask ? weights * (4 + indexBytes) : dense * 4, denseBytes: dense * 4 };
}
