// A user's metric for a detector whose NMS is in the graph (impera eval --metric-module box-f1.mjs, or the
// scenario's quality: {module: box-f1.mjs}): the F1 score of the split model's boxes against the full model's.
// Each sample's outputs arrive whole: boxes [K, 4] as (x1, y1, x2, y2), labels [K], K boxes of that sample.
// A split box matches the unmatched full-model box of its label with the highest IoU, if that IoU is >= 0.5, in the
// order the model keeps them (by score). Two samples with no box at all agree: F1 1.
export const name = 'box F1 @IoU 0.5';
export const better = 'higher';
const IOU = 0.5;

function iou(a, i, b, j) {
  const w = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]);
  const h = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]);
  const inter = Math.max(0, w) * Math.max(0, h);
  const area = (x, k) => (x[4 * k + 2] - x[4 * k]) * (x[4 * k + 3] - x[4 * k + 1]);
  return inter / (area(a, i) + area(b, j) - inter);
}

export function score(split, full) {
  const [s, f] = [split.boxes.data, full.boxes.data];
  const [ls, lf] = [split.labels.data, full.labels.data];
  const [ns, nf] = [s.length / 4, f.length / 4];
  if (ns + nf === 0) return 1;
  const taken = new Array(nf).fill(false);
  let matched = 0;
  for (let i = 0; i < ns; i++) {
    let best = -1;
    let bestIou = IOU;
    for (let j = 0; j < nf; j++) {
      if (taken[j] || ls[i] !== lf[j]) continue;
      const v = iou(s, i, f, j);
      if (v >= bestIou) [best, bestIou] = [j, v];
    }
    if (best >= 0) {
      taken[best] = true;
      matched++;
    }
  }
  return (2 * matched) / (ns + nf);
}
