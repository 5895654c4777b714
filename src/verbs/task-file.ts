import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { agentConfigSchema, toAgentConfig, type Policy } from '../config/agent-config.js';
import { InvalidInput } from '../errors.js';
import { buildPlan } from '../plan/build-plan.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import type { Plan } from '../plan/task.js';
import { tasksFromText } from '../plan/task-document.js';
import { kindNames } from '../tasks/registry.js';

/** Offline the node's policy is unknown: every kind is allowed from every source. */
export function everyKindPolicy(): Policy {
  const all = kindNames();
  const defaults = toAgentConfig(agentConfigSchema.parse({}), '(built-in)').policy;
  return { ...defaults, file: { allow: all }, userdata: { allow: all }, tags: { allow: all } };
}

export interface TaskFile {
  path: string;
  bytes: Buffer;
  tasks: SourcedTask[];
  plan: Plan;
}

/** Reads and fully validates a task file a helper verb was given (`--tasks FILE`): exit 2 if anything is wrong. */
export async function readTaskFile(arg: string, flag: string): Promise<TaskFile> {
  const path = resolve(arg);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new InvalidInput({ source: `${flag} ${arg}`, message: `cannot read: ${(err as Error).message}` });
  }
  const tasks = tasksFromText(bytes.toString('utf8'), path.endsWith('.json') ? 'json' : 'yaml', `file:${path}`, 'file');
  return { path, bytes, tasks, plan: buildPlan(tasks, everyKindPolicy()) };
}

export function requiredString(values: Record<string, unknown>, flag: string, usage: string): string {
  const v = values[flag];
  if (typeof v !== 'string' || v === '') throw new InvalidInput({ source: 'usage', message: `--${flag} FILE is required; ${usage}` });
  return v;
}
