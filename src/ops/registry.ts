/**
 * The op-rule registry: shape inference, constant folding and cost for each ONNX op, one file per op family
 * (as tfjs-core does for gradients). Adding an op touches only its family file. Users can register rules for
 * custom ops with `registerOpRule`.
 */
import type { OpRule } from './types.js';

const rules = new Map<string, OpRule>();

const key = (domain: string, opType: string) => `${domain === 'ai.onnx' ? '' : domain}::${opType}`;

export function registerOpRule(opTypes: string | readonly string[], rule: OpRule, domain = ''): void {
  for (const op of typeof opTypes === 'string' ? [opTypes] : opTypes) rules.set(key(domain, op), rule);
}

export function getOpRule(domain: string, opType: string): OpRule | undefined {
  return rules.get(key(domain, opType));
}

/** Op types with a rule in the default domain, for documentation and tests. */
export function registeredOps(): string[] {
  return [...rules.keys()].filter((k) => k.startsWith('::')).map((k) => k.slice(2)).sort();
}
