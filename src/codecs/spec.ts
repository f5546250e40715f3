/**
 * Codec specifications, written as stages joined by '+':
 *
 *   codec  := [pca] [fp16 | int<bits>] [sparse] [deflate | brotli | zstd]      (at least one stage; fp32 = none)
 *           | 'learned:' <dir> ['+' stage]*     a trained bottleneck (`impera bottleneck --out <dir>`) then the
 *                                               stages on its latent (no pca; none written: int8+deflate); a
 *                                               <dir> with '+' in it cannot be named
 *   pca    := 'pca' [':' (<k> | 'c/' <d>)]        keep k channels (k <= C), or max(1, floor(C / d)) (default d = 4),
 *                                                 of a PCA fitted on sample data
 *   int<b> := 'int' <1..16> (':' opt)*            uniform affine quantisation; opts: channel (default) | tensor,
 *                                                 minmax (default) | p<percentile> (e.g. p99.99)
 *   sparse := zero-run encoding of the packed codes (lossless; for post-ReLU tensors)
 *   entropy: lossless coding of the packed bytes with Node's zlib (zstd only where Node has it)
 *
 * Examples: fp32, fp16+deflate, int8, int4:tensor+brotli, pca:c/8+int8+deflate, int8+sparse+deflate.
 */
import { constants as zlib } from 'node:zlib';
import { ImperaError } from '../errors.js';

export type Entropy = 'deflate' | 'brotli' | 'zstd';

export interface QuantStage {
  bits: number;
  granularity: 'channel' | 'tensor';
  /** min-max, or the [100 - p, p] percentiles of the calibration data. */
  percentile?: number;
}

export interface CodecSpec {
  /** The spec as written (canonical form). */
  name: string;
  /** A trained bottleneck's folder: its encoder and decoder go around the stages below (codecs/learned.ts). */
  learned?: { dir: string };
  pca?: { k?: number; divisor?: number };
  fp16?: boolean;
  quant?: QuantStage;
  sparse?: boolean;
  entropy?: Entropy;
}

export const zstdAvailable = (): boolean => 'ZSTD_c_compressionLevel' in zlib;

const fail = (spec: string, why: string) => new ImperaError('BAD_CODEC', `codec '${spec}': ${why}`, 'write codecs like fp16, int8, int4:tensor, pca:c/4+int8+deflate (see `impera eval --help`)');

/** The default stages on a learned bottleneck's latent: what `impera bottleneck` trains for and measures. */
const LEARNED_DEFAULT = ['int8', 'deflate'];

export function parseCodec(spec: string): CodecSpec {
  const text = spec.trim();
  const out: CodecSpec = { name: text };
  if (text === 'fp32') return out;
  let stages = text.split('+').map((s) => s.trim());
  if (stages[0]!.startsWith('learned:')) {
    const dir = stages[0]!.slice('learned:'.length);
    if (!dir) throw fail(text, "learned takes a folder written by 'impera bottleneck --out', as in learned:bn/");
    out.learned = { dir };
    stages = stages.length > 1 ? stages.slice(1) : LEARNED_DEFAULT;
    if (stages.some((s) => s.split(':')[0] === 'pca')) throw fail(text, 'a learned bottleneck is its own projection: no pca stage after it');
  }
  let order = 0; // stages must come in pca, precision, sparse, entropy order
  const place = (rank: number, stage: string) => {
    if (rank <= order) throw fail(text, `stage '${stage}' is out of place or repeated; the order is pca, fp16|intN, sparse, entropy`);
    order = rank;
  };
  for (const stage of stages) {
    const [head, ...opts] = stage.split(':');
    if (head === 'pca') {
      place(1, stage);
      const arg = opts.join(':');
      if (opts.length === 0) out.pca = { divisor: 4 };
      else if (/^c\/\d+$/.test(arg)) out.pca = { divisor: Number(arg.slice(2)) };
      else if (/^\d+$/.test(arg)) out.pca = { k: Number(arg) };
      else throw fail(text, `pca takes k or c/<d>, not '${arg}'`);
      if ((out.pca.k ?? out.pca.divisor)! < 1) throw fail(text, 'pca keeps at least one channel');
    } else if (head === 'fp32') {
      place(2, stage); // explicit full precision: nothing to do
    } else if (head === 'fp16') {
      place(2, stage);
      out.fp16 = true;
    } else if (/^int\d+$/.test(head!)) {
      place(2, stage);
      const bits = Number(head!.slice(3));
      if (bits < 1 || bits > 16) throw fail(text, `bit width ${bits} is outside 1-16`);
      const q: QuantStage = { bits, granularity: 'channel' };
      for (const o of opts) {
        if (o === 'channel' || o === 'tensor') q.granularity = o;
        else if (o === 'minmax') delete q.percentile;
        else if (/^p\d+(\.\d+)?$/.test(o) && Number(o.slice(1)) > 50 && Number(o.slice(1)) <= 100) q.percentile = Number(o.slice(1));
        else throw fail(text, `unknown option '${o}' for ${head} (channel, tensor, minmax, p<percentile> with 50 < p <= 100)`);
      }
      out.quant = q;
    } else if (head === 'sparse') {
      place(3, stage);
      out.sparse = true;
    } else if (head === 'deflate' || head === 'brotli' || head === 'zstd') {
      place(4, stage);
      if (head === 'zstd' && !zstdAvailable()) throw fail(text, `this Node.js (${process.version}) has no zstd; use deflate or brotli`);
      out.entropy = head;
    } else {
      throw fail(text, `unknown stage '${stage}'`);
    }
  }
  if (out.sparse && !out.quant) throw fail(text, 'sparse encodes quantised codes: put an intN stage before it');
  return out;
}

/** Whether the codec changes the tensor (a tail pass is needed to know its accuracy). */
export const isLossy = (c: CodecSpec): boolean => !!(c.learned || c.pca || c.fp16 || c.quant);

/** The evaluation's default set: the table, each with entropy coding. */
export const DEFAULT_CODECS = ['fp32+deflate', 'fp16+deflate', 'int8+deflate', 'int4+deflate', 'pca:c/4+int8+deflate', 'pca:c/8+int8+deflate'];
