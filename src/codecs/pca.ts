/**
 * PCA on a cut tensor's channels: the k-dimensional linear projection that keeps the most variance (the best
 * linear bottleneck), from the channel covariance accumulated over calibration data. Small covariances get a full
 * symmetric eigendecomposition (ml-matrix); large ones (C > 512) a randomized subspace iteration whose C x C
 * products run in ONNX Runtime, with the small eigenproblem in ml-matrix.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { ModelBuilder } from '../onnx/builder.js';
import { DataType } from '../onnx/dtype.js';
import { createSession, run, type ort } from '../ort/session.js';
import { gaussian, seededRandom } from '../util/random.js';

export interface ChannelMoments {
  /** Sum over samples and positions of x x^T (C x C, row-major) and of x (C), and how many vectors were summed. */
  gram: Float64Array;
  sum: Float64Array;
  count: number;
}

export interface Pca {
  k: number;
  /** k x C row-major: the principal directions, by decreasing variance. */
  components: Float32Array;
  mean: Float32Array;
  /** Share of the total variance the k directions keep. */
  explained: number;
}

const FULL_EVD_LIMIT = 512;

function covariance(m: ChannelMoments): { cov: Float64Array; mean: Float64Array } {
  const c = m.sum.length;
  const mean = m.sum.map((s) => s / m.count);
  const cov = new Float64Array(c * c);
  for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) cov[i * c + j] = m.gram[i * c + j]! / m.count - mean[i]! * mean[j]!;
  return { cov, mean };
}

/** Eigenvectors (columns) and eigenvalues of a symmetric matrix, by decreasing eigenvalue. */
function symmetricEigen(a: Matrix): { values: number[]; vectors: Matrix } {
  const evd = new EigenvalueDecomposition(a, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((x, y) => y[0] - x[0]);
  const vectors = new Matrix(a.rows, a.rows);
  order.forEach(([, i], col) => vectors.setColumn(col, evd.eigenvectorMatrix.getColumn(i)));
  return { values: order.map(([v]) => v), vectors };
}

/** u . v, summed in index order (plain loops: a closure per element made the randomized solver's JS the slow part). */
function dot(u: Float64Array, v: Float64Array): number {
  let sum = 0;
  for (let r = 0; r < u.length; r++) sum += u[r]! * v[r]!;
  return sum;
}

/** Modified Gram-Schmidt on the columns of a (C x m, column arrays). */
function orthonormalize(cols: Float64Array[]): Float64Array[] {
  for (let j = 0; j < cols.length; j++) {
    const v = cols[j]!;
    for (let i = 0; i < j; i++) {
      const u = cols[i]!;
      const along = dot(u, v);
      for (let r = 0; r < v.length; r++) v[r]! -= along * u[r]!;
    }
    const norm = Math.sqrt(dot(v, v)) || 1;
    for (let r = 0; r < v.length; r++) v[r]! /= norm;
  }
  return cols;
}

/** A [C, C] x [C, m] product in ONNX Runtime (float32 is ample for a power iteration). */
class CovarianceProduct {
  private constructor(private readonly session: ort.InferenceSession, private readonly cov: Float32Array, private readonly c: number) {}

  static async create(cov: Float64Array, c: number): Promise<CovarianceProduct> {
    const b = new ModelBuilder({ opset: 17 });
    b.input('a', 'float32', [c, c]);
    b.input('q', 'float32', [c, 'm']);
    b.op('MatMul', ['a', 'q'], {}, { output: 'y' });
    b.output('y', 'float32', [c, 'm']);
    return new CovarianceProduct(await createSession(b.build(), '.'), Float32Array.from(cov), c);
  }

  async times(cols: Float64Array[]): Promise<Float64Array[]> {
    const m = cols.length;
    const q = new Float32Array(this.c * m);
    for (let j = 0; j < m; j++) {
      const col = cols[j]!;
      for (let r = 0; r < this.c; r++) q[r * m + j] = col[r]!;
    }
    const out = await run(this.session, { a: { dtype: DataType.FLOAT, dims: [this.c, this.c], data: this.cov }, q: { dtype: DataType.FLOAT, dims: [this.c, m], data: q } });
    const y = out.y!.data as Float32Array;
    return cols.map((_, j) => {
      const col = new Float64Array(this.c);
      for (let r = 0; r < this.c; r++) col[r] = y[r * m + j]!;
      return col;
    });
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Top-k principal directions of the channel covariance. */
export async function fitPca(moments: ChannelMoments, k: number, seed = 7): Promise<Pca> {
  const c = moments.sum.length;
  const { cov, mean } = covariance(moments);
  const total = Array.from({ length: c }, (_, i) => cov[i * c + i]!).reduce((a, b) => a + b, 0);
  let directions: Float64Array[];
  let values: number[];
  if (c <= FULL_EVD_LIMIT) {
    const eig = symmetricEigen(new Matrix(Array.from({ length: c }, (_, i) => Array.from(cov.subarray(i * c, (i + 1) * c)))));
    directions = Array.from({ length: k }, (_, j) => Float64Array.from(eig.vectors.getColumn(j)));
    values = eig.values.slice(0, k);
  } else {
    // randomized subspace iteration (Halko, Martinsson & Tropp): a few power steps on an oversampled block
    const m = Math.min(c, k + 16);
    const rand = seededRandom(seed);
    const product = await CovarianceProduct.create(cov, c);
    try {
      let q = orthonormalize(Array.from({ length: m }, () => Float64Array.from({ length: c }, () => gaussian(rand))));
      for (let it = 0; it < 4; it++) q = orthonormalize(await product.times(q));
      const aq = await product.times(q);
      const small = new Matrix(m, m);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) small.set(i, j, dot(q[i]!, aq[j]!));
      const eig = symmetricEigen(small.add(small.transpose()).mul(0.5));
      directions = Array.from({ length: k }, (_, j) => {
        const v = eig.vectors.getColumn(j);
        const d = new Float64Array(c);
        for (let i = 0; i < m; i++) {
          const [qi, vi] = [q[i]!, v[i]!];
          for (let r = 0; r < c; r++) d[r]! += qi[r]! * vi;
        }
        return d;
      });
      values = eig.values.slice(0, k);
    } finally {
      await product.release();
    }
  }
  const components = new Float32Array(k * c);
  directions.forEach((d, i) => components.set(d, i * c));
  return { k, components, mean: Float32Array.from(mean), explained: total > 0 ? values.reduce((a, b) => a + b, 0) / total : 1 };
}
