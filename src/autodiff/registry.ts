/**
 * The gradient-rule registry: the rule families under rules/ listed below, registered once when the table is
 * made, keyed by (domain, op type) like the op rules. Adding an op touches its family file, adding a family
 * touches this list. Users register rules for custom ops with `registerGradient`.
 */
import { OpTable, type RegisterOptions, type RuleList } from '../onnx/op-table.js';
import type { GradRule } from './rule.js';
import { convGradients } from './rules/conv.js';
import { elementwiseGradients } from './rules/elementwise.js';
import { matmulGradients } from './rules/matmul.js';
import { normGradients } from './rules/norm.js';
import { poolGradients } from './rules/pool.js';
import { recurrentGradients } from './rules/recurrent.js';
import { resizeGradients } from './rules/resize.js';
import { shapeGradients } from './rules/shape.js';

const BUILT_IN: readonly RuleList<GradRule>[] = [elementwiseGradients, convGradients, matmulGradients, poolGradients, resizeGradients, normGradients, shapeGradients, recurrentGradients];

const rules = OpTable.of('a gradient rule', 'registerGradient', BUILT_IN);

/**
 * Add the gradient rule for op types (default domain unless `options.domain`). An op that already has a rule
 * is an error unless `options.replace` is set (to override a built-in rule).
 */
export function registerGradient(opTypes: string | readonly string[], rule: GradRule, options: RegisterOptions = {}): void {
  rules.register(opTypes, rule, options);
}

export function getGradient(domain: string, opType: string): GradRule | undefined {
  return rules.get(domain, opType);
}

/** Op types of the default domain that can be differentiated, for documentation and tests. */
export function differentiableOps(): string[] {
  return rules.opTypes();
}
