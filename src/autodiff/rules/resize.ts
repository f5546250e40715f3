/**
 * Nearest-neighbour upsampling by whole factors (Resize, Upsample): every input element is copied to a block of
 * s_0 x s_1 x ... output elements, so its gradient is the sum of dy over its block — dy reshaped to put each
 * factor on its own axis, then summed over those axes. Feature pyramids (detectors, segmenters) upsample this way.
 * Linear and cubic modes, fractional factors and downsampling have no rule yet: `unsupported` says so.
 */
import { attrString } from '../../onnx/attributes.js';
import type { RuleList } from '../../onnx/op-table.js';
import type { GradContext, GradRule } from '../rule.js';

/** Whole upsampling factor per axis, or why the node is not block replication. */
function factors(ctx: Pick<GradContext, 'node' | 'opset' | 'facts' | 'x' | 'y'>): number[] | string {
  const { node } = ctx;
  const what = `${node.opType} '${node.name}'`;
  const mode = attrString(node.proto, 'mode', 'nearest');
  if (mode !== 'nearest') return `${what} in mode ${mode} (only nearest has a gradient rule)`;
  if (node.opType === 'Resize' && ctx.opset >= 11) {
    // which source element an output element copies: blocks for these coordinate and rounding modes
    const coordinates = attrString(node.proto, 'coordinate_transformation_mode', 'half_pixel');
    const rounding = attrString(node.proto, 'nearest_mode', 'round_prefer_floor');
    const blocks = (coordinates === 'asymmetric' && rounding === 'floor') || (['half_pixel', 'pytorch_half_pixel'].includes(coordinates) && rounding.startsWith('round_prefer'));
    if (!blocks) return `${what} with coordinate_transformation_mode ${coordinates} and nearest_mode ${rounding}`;
  }
  const from = ctx.facts(ctx.x(0)).shape;
  const to = ctx.facts(ctx.y(0)).shape;
  const s = to.map((d, i) => d / from[i]!);
  if (s.some((f) => !Number.isInteger(f) || f < 1)) return `${what} from [${from}] to [${to}] (only whole upsampling factors have a gradient rule)`;
  if (s[0] !== 1) return `${what} scales the batch axis`;
  return s;
}

const nearestUpsample: GradRule = {
  unsupported: (ctx) => {
    const f = factors(ctx);
    return typeof f === 'string' ? f : undefined;
  },
  grad: (ctx) => {
    const e = ctx.emit;
    const s = factors(ctx) as number[];
    const from = ctx.facts(ctx.x(0)).shape;
    // [N, C, H, sH, W, sW] for [N, C, H, W] -> [N, C, sH H, sW W]; 0 keeps the batch as dy has it
    const blocked = from.flatMap((d, i) => (s[i]! > 1 ? [d, s[i]!] : [i === 0 ? 0 : d]));
    const axes = from.flatMap((_, i) => (s[i]! > 1 ? [i] : [])).map((i, k) => i + k + 1);
    const dx = e.reduceSum(e.op('Reshape', [ctx.dy()!, e.ints(blocked)]), axes, false);
    return [dx];
  },
};

export const resizeGradients: RuleList<GradRule> = [
  ['Resize', nearestUpsample],
  ['Upsample', nearestUpsample],
];
