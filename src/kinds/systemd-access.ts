import { allowedByGlobs } from '../base/glob.js';
import type { Systemd } from '../host/systemd/systemd.js';
import { TaskFailed, type PolicyRules, type TaskContext } from './kind.js';

/** Policy for anything that names a unit (unit tasks, wait: {unit}): policy.units globs; empty allows all (but see unit tasks from tags). */
export function unitPolicyProblems(name: string, rules: PolicyRules): string[] {
  return allowedByGlobs(name, rules.units) ? [] : [`unit "${name}" is not allowed by policy.units [${rules.units.join(', ')}]`];
}

/** The shared systemd connection, or a task failure an SRE can act on. */
export async function systemdFor(ctx: TaskContext): Promise<Systemd> {
  try {
    return await ctx.host.systemd();
  } catch (err) {
    throw new TaskFailed(`cannot reach systemd: ${(err as Error).message}`);
  }
}
