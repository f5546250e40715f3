/**
 * The op-rule registry: shape inference, constant folding and cost for each ONNX op, one file per op family
 * (as tfjs-core does for gradients). The built-in rules are the families listed below, registered once when
 * the table is made: adding an op touches its family file, adding a family touches this list. Users register
 * rules for custom ops with `registerOpRule`.
 */
import { OpTable, type RegisterOptions, type RuleList } from '../onnx/op-table.js';
import { constantRules } from './constant.js';
import { convRules } from './conv.js';
import { elementwiseRules } from './elementwise.js';
import { matmulRules } from './matmul.js';
import { normRules } from './norm.js';
import { recurrentRules } from './recurrent.js';
import { reduceRules } from './reduce.js';
import { shapeRules } from './shape-ops.js';
import type { OpRule } from './types.js';

const BUILT_IN: readonly RuleList<OpRule>[] = [elementwiseRules, convRules, matmulRules, normRules, recurrentRules, reduceRules, shapeRules, constantRules];

const rules = OpTable.of('an op rule', 'registerOpRule', BUILT_IN);

/**
 * Add the rule for op types (default domain unless `options.domain`). An op that already has a rule is an
 * error unless `options.replace` is set (to override a built-in rule).
 */
export function registerOpRule(opTypes: string | readonly string[], rule: OpRule, options: RegisterOptions = {}): void {
  rules.register(opTypes, rule, options);
}

export function getOpRule(domain: string, opType: string): OpRule | undefined {
  return rules.get(domain, opType);
}

/** Op types with a rule in the default domain, for documentation and tests. */
export function registeredOps(): string[] {
  return rules.opTypes();
}
