import { InvalidInput, SourceUnreadable, type Problem } from '../base/errors.js';
import { throwIfStopped } from '../base/stop-reason.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { sourceNamed } from './registry.js';
import type { SourceContext } from './source.js';

/**
 * Reads the named sources in order and concatenates their tasks (nodeadm's provider chain). Invalid content
 * from every source is reported together; an unreadable source stops at once (exit 4).
 */
export async function readSources(names: readonly string[], ctx: SourceContext): Promise<SourcedTask[]> {
  const out: SourcedTask[] = [];
  const problems: Problem[] = [];
  for (const name of names) {
    throwIfStopped(ctx.stop, 'reading the task sources');
    const source = sourceNamed(name);
    if (!source) throw new SourceUnreadable(name, `source "${name}" is not available in this build`);
    try {
      const tasks = await source.read(ctx);
      ctx.log.debug({ source: name, tasks: tasks.length }, `read ${tasks.length} task(s) from source ${name}`);
      out.push(...tasks);
    } catch (err) {
      if (!(err instanceof InvalidInput)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new InvalidInput(problems);
  return out;
}
