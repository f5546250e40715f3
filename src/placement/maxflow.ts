/**
 * Maximum flow and a minimum s-t cut (Dinic): breadth-first levels from the source, then blocking flows along
 * strictly increasing levels, repeated until the sink is unreachable. Capacities are non-negative reals and may be
 * Infinity (arcs a cut must never cross). O(V^2 E) in the worst case; the networks built from DNN graphs have a
 * few hundred vertices. After the last phase the vertices still reachable from the source in the residual network
 * are the source side of a minimum cut (the smallest such side).
 */

export interface Arc {
  from: number;
  to: number;
  capacity: number;
}

export interface MinCut {
  /** The maximum flow: the capacity of a minimum cut. */
  value: number;
  /** Per vertex: on the source side of the cut. */
  sourceSide: boolean[];
}

/** Residual capacities below this share of the largest finite capacity count as saturated (float round-off). */
const RELATIVE_EPS = 1e-12;

/** The maximum flow from `source` to `sink` in a network of `vertices` vertices (0..vertices-1) and `arcs`. */
export function minCut(vertices: number, arcs: readonly Arc[], source: number, sink: number): MinCut {
  // residual arcs in pairs: 2i forward, 2i + 1 backward
  const head = new Int32Array(arcs.length * 2);
  const residual = new Float64Array(arcs.length * 2);
  const out: number[][] = Array.from({ length: vertices }, () => []);
  arcs.forEach((a, i) => {
    if (!(a.capacity >= 0)) throw new RangeError(`arc ${a.from}->${a.to}: capacity ${a.capacity} is not a non-negative number`);
    head[2 * i] = a.to;
    residual[2 * i] = a.capacity;
    head[2 * i + 1] = a.from;
    out[a.from]!.push(2 * i);
    out[a.to]!.push(2 * i + 1);
  });
  const largest = arcs.reduce((m, a) => (Number.isFinite(a.capacity) ? Math.max(m, a.capacity) : m), 0);
  const eps = largest * RELATIVE_EPS;
  const level = new Int32Array(vertices);
  const next = new Int32Array(vertices);

  const bfs = (): boolean => {
    level.fill(-1);
    level[source] = 0;
    const queue = [source];
    for (let q = 0; q < queue.length; q++) {
      const v = queue[q]!;
      for (const e of out[v]!) {
        if (residual[e]! > eps && level[head[e]!]! < 0) {
          level[head[e]!] = level[v]! + 1;
          queue.push(head[e]!);
        }
      }
    }
    return level[sink]! >= 0;
  };

  // pushes up to `limit` along level-increasing arcs; `next` skips arcs already found useless in this phase
  const push = (v: number, limit: number): number => {
    if (v === sink) return limit;
    for (; next[v]! < out[v]!.length; next[v]!++) {
      const e = out[v]![next[v]!]!;
      const w = head[e]!;
      if (residual[e]! <= eps || level[w] !== level[v]! + 1) continue;
      const sent = push(w, Math.min(limit, residual[e]!));
      if (sent > 0) {
        residual[e] -= sent;
        residual[e ^ 1] += sent;
        return sent;
      }
    }
    return 0;
  };

  let value = 0;
  while (bfs()) {
    next.fill(0);
    for (let sent = push(source, Infinity); sent > 0; sent = push(source, Infinity)) {
      if (sent === Infinity) throw new RangeError('every source-sink cut crosses an infinite arc');
      value += sent;
    }
  }
  return { value, sourceSide: [...level].map((l) => l >= 0) };
}
