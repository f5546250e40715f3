/**
 * Rules keyed by ONNX op identity, (domain, op type): the op rules (ops/) and gradient rules (autodiff/) each
 * live in one table filled from one explicit list of rule modules. A second rule for the same op is an error
 * unless the caller says it replaces the first, so a typo or a clash never silently wins.
 */
import { ImperaError } from '../errors.js';

/** What a rule module exports: its rules, each for one or more op types (of the domain it is registered in). */
export type RuleList<R> = readonly (readonly [opTypes: string | readonly string[], rule: R])[];

export interface RegisterOptions {
  /** The ONNX domain of the op types ('' or 'ai.onnx': the default domain). */
  domain?: string;
  /** Replace a rule already registered for the op instead of failing. */
  replace?: boolean;
}

/** The default domain has two spellings. */
const canonicalDomain = (domain: string): string => (domain === 'ai.onnx' ? '' : domain);

export class OpTable<R> {
  private readonly rules = new Map<string, Map<string, R>>();

  /** `kind` names one rule in errors ('an op rule'), `registrar` the public function that adds rules. */
  constructor(
    private readonly kind: string,
    private readonly registrar: string,
  ) {}

  /** A table holding every rule of the lists, in the default domain. */
  static of<R>(kind: string, registrar: string, lists: readonly RuleList<R>[]): OpTable<R> {
    const table = new OpTable<R>(kind, registrar);
    for (const list of lists) for (const [opTypes, rule] of list) table.register(opTypes, rule);
    return table;
  }

  register(opTypes: string | readonly string[], rule: R, options: RegisterOptions = {}): void {
    const domain = canonicalDomain(options.domain ?? '');
    const byType = this.rules.get(domain) ?? new Map<string, R>();
    this.rules.set(domain, byType);
    for (const opType of typeof opTypes === 'string' ? [opTypes] : opTypes) {
      if (byType.has(opType) && !options.replace) {
        const where = domain ? ` in domain '${domain}'` : '';
        throw new ImperaError('DUPLICATE_RULE', `${this.kind} for op ${opType}${where} is already registered`, `pass { replace: true } to ${this.registrar} to replace it`);
      }
      byType.set(opType, rule);
    }
  }

  get(domain: string, opType: string): R | undefined {
    return this.rules.get(canonicalDomain(domain))?.get(opType);
  }

  /** Op types with a rule in a domain, sorted. */
  opTypes(domain = ''): string[] {
    return [...(this.rules.get(canonicalDomain(domain))?.keys() ?? [])].sort();
  }
}
