import type { Problem } from '../base/errors.js';
import type { PolicyRules } from '../kinds/kind.js';
import { kindNamed } from '../kinds/registry.js';
import type { SimpleTask } from './task.js';

/**
 * The config's `policy` block as the plan applies it: under each source's name (`policy.file`, `policy.tags`, …)
 * the kinds its tasks may have, and the rules the kinds apply to their specs.
 */
export interface Policy extends PolicyRules {
  readonly [source: string]: SourceAllow | string[];
}

export interface SourceAllow {
  allow: string[];
}

/** `policy.<source>.allow`; a source the policy does not name may ask for nothing. */
export function allowedKinds(policy: Policy, source: string): string[] {
  const entry = policy[source];
  return entry && 'allow' in entry ? entry.allow : [];
}

/**
 * Applies the policy to one task: may its source ask for its kind, and do the kind's own rules (registry and
 * unit globs, stricter for tags) allow its spec? A group needs no permission; each member is checked (design §5).
 */
export function policyProblems(task: SimpleTask, policy: Policy): Problem[] {
  const deny = (message: string): Problem => ({ source: task.origin, message: `task "${task.name}": ${message}` });
  const allow = allowedKinds(policy, task.source);
  if (!allow.includes(task.kind)) {
    return [deny(`kind "${task.kind}" is not allowed from source "${task.source}" (policy.${task.source}.allow: [${allow.join(', ')}])`)];
  }
  const extra = kindNamed(task.kind)?.checkPolicy?.(task.spec, policy, task.source) ?? [];
  return extra.map(deny);
}
