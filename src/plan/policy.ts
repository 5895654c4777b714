import type { Policy } from '../config/agent-config.js';
import type { Problem } from '../base/errors.js';
import { kindNamed } from '../tasks/registry.js';
import type { SimpleTask } from './task.js';

/**
 * Applies the policy to one task: may its source ask for its kind, and do the kind's own rules (registry and
 * unit globs, stricter for tags) allow its spec? A group needs no permission; each member is checked (design §5).
 */
export function policyProblems(task: SimpleTask, policy: Policy): Problem[] {
  const deny = (message: string): Problem => ({ source: task.origin, message: `task "${task.name}": ${message}` });
  const allow = policy[task.source].allow;
  if (!allow.includes(task.kind)) {
    return [deny(`kind "${task.kind}" is not allowed from source "${task.source}" (policy.${task.source}.allow: [${allow.join(', ')}])`)];
  }
  const extra = kindNamed(task.kind)?.checkPolicy?.(task.spec, policy, task.source) ?? [];
  return extra.map(deny);
}
