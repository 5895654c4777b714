import { resolve } from 'node:path';
import { InvalidInput } from '../base/errors.js';
import { readInputFile, UnreadableFile } from '../base/input-file.js';
import { decodeUtf8Text } from '../base/text-encoding.js';
import { everyKindPolicy } from '../config/agent-config.js';
import { buildPlan } from '../plan/build-plan.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { tasksFromText } from '../plan/task-document.js';
import type { Plan } from '../plan/task.js';

export interface TaskFile {
  path: string;
  bytes: Buffer;
  tasks: SourcedTask[];
  plan: Plan;
}

/**
 * Reads and fully validates a task file a helper verb was given (`--tasks FILE`): exit 2 if anything is wrong,
 * with the same size cap and UTF-8 rule as tasks.d. The bytes are then exactly the text that was validated.
 */
export async function readTaskFile(arg: string, flag: string): Promise<TaskFile> {
  const path = resolve(arg);
  const bytes = await readFlagFile(arg, flag, { source: `file:${path}`, what: 'a task file' });
  const tasks = tasksFromText(decodeUtf8Text(bytes, `file:${path}`), path.endsWith('.json') ? 'json' : 'yaml', `file:${path}`, 'file');
  return { path, bytes, tasks, plan: buildPlan(tasks, everyKindPolicy()) };
}

/** A file a helper verb was given with a flag: a pipe (`<(…)`) is fine; one that cannot be read is exit 2. */
export async function readFlagFile(arg: string, flag: string, opts: { source: string; what: string }): Promise<Buffer> {
  try {
    return await readInputFile(resolve(arg), { ...opts, allowPipe: true });
  } catch (err) {
    if (err instanceof UnreadableFile) throw new InvalidInput({ source: `${flag} ${arg}`, message: `cannot read: ${err.message}` });
    throw err;
  }
}

export function requiredString(values: Record<string, unknown>, flag: string, usage: string): string {
  const v = values[flag];
  if (typeof v !== 'string' || v === '') throw new InvalidInput({ source: 'usage', message: `--${flag} FILE is required; ${usage}` });
  return v;
}
