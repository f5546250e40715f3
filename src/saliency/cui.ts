/**
 * The CUI curve (METHODS.md §2): Grad-CAM maps averaged over images, per class, so the curve of any class subset
 * comes from the per-class sums without running the model again. CUI(l) = |sum_ij Mbar[i, j]| / (H W).
 */
export interface SaliencyLayer {
  tensor: string;
  shape: number[];
  /** Positions of the layer's map (H x W, tokens, or 1). */
  positions: number;
}

export interface CuiPoint {
  layer: string;
  /** Position along the model's depth (0 = first layer). */
  index: number;
  cui: number;
  /** log10 CUI; null when CUI is 0 (no positive evidence at all). */
  log10: number | null;
  /** A local maximum of log10 CUI along depth: a candidate split point. */
  peak: boolean;
  /** The global maximum: the best candidate. */
  best: boolean;
}

export class CuiAccumulator {
  /** sums[c][l]: sum over images of class c of layer l's map. */
  private readonly sums: Float64Array[][];
  readonly counts: number[];

  constructor(readonly layers: readonly SaliencyLayer[], readonly classes: number) {
    this.sums = Array.from({ length: classes }, () => layers.map((l) => new Float64Array(l.positions)));
    this.counts = new Array<number>(classes).fill(0);
  }

  /** Add a batch: per layer, maps of `groups.length` samples laid out sample after sample. */
  add(maps: readonly Float32Array[], groups: readonly number[]): void {
    groups.forEach((c, n) => {
      this.counts[c]!++;
      this.layers.forEach((layer, l) => {
        const sum = this.sums[c]![l]!;
        const map = maps[l]!;
        const base = n * layer.positions;
        for (let p = 0; p < layer.positions; p++) sum[p]! += map[base + p]!;
      });
    });
  }

  /** Mbar of layer l over the images of `subset` (all classes by default). */
  meanMap(l: number, subset: readonly number[] = this.allClasses()): Float64Array {
    const out = new Float64Array(this.layers[l]!.positions);
    let count = 0;
    for (const c of subset) {
      count += this.counts[c]!;
      this.sums[c]![l]!.forEach((v, p) => (out[p]! += v));
    }
    return count ? out.map((v) => v / count) : out;
  }

  /** The CUI curve over `subset`, with its peaks. */
  curve(subset: readonly number[] = this.allClasses()): CuiPoint[] {
    const cui = this.layers.map((layer, l) => Math.abs(this.meanMap(l, subset).reduce((a, b) => a + b, 0)) / layer.positions);
    const log = cui.map((v) => (v > 0 ? Math.log10(v) : null));
    const { peaks, best } = findPeaks(log.map((v) => v ?? -Infinity));
    return this.layers.map((layer, l) => ({ layer: layer.tensor, index: l, cui: cui[l]!, log10: log[l]!, peak: peaks.includes(l), best: l === best }));
  }

  private allClasses(): number[] {
    return [...Array(this.classes).keys()];
  }
}

/** Local maxima (strictly above the previous point, at least the next) and the global maximum. */
export function findPeaks(values: readonly number[]): { peaks: number[]; best: number } {
  const peaks = values.flatMap((v, i) => {
    if (v === -Infinity) return [];
    const left = i === 0 || v > values[i - 1]!;
    const right = i === values.length - 1 || v >= values[i + 1]!;
    return left && right ? [i] : [];
  });
  const best = values.reduce((b, v, i) => (v > values[b]! ? i : b), 0);
  return { peaks, best };
}
