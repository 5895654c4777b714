import type { Problem } from '../base/errors.js';

/** Types of the validated, normalized plan. Nothing here runs anything. */

export type OnFailure = 'abort' | 'continue';

export interface TaskCommon {
  name: string;
  /** Where the task was written: `file:/etc/postjoin/tasks.d/10-x.yaml#tasks[2]`, `tag:postjoin:10-prepull`. */
  origin: string;
  /** Which source it came from (its name in the sources registry); policy is per source. */
  source: string;
  onFailure: OnFailure;
}

export interface SimpleTask extends TaskCommon {
  kind: string;
  /** The kind's spec, validated and with its defaults applied. */
  spec: unknown;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  once: boolean;
  env?: Record<string, string>;
  cwd?: string;
  /** Content hash for once-state: kind, spec, env and cwd (design §5). */
  hash: string;
  /** The parallel group this task belongs to, if any. */
  group?: string;
}

export interface ParallelGroup extends TaskCommon {
  kind: 'parallel';
  concurrency: number;
  tasks: SimpleTask[];
}

export type PlanStep = SimpleTask | ParallelGroup;

export interface Plan {
  steps: PlanStep[];
  /** What is valid but most likely not meant (`$VAR` in an exec argument); absent or empty when nothing is. */
  warnings?: Problem[];
}

export function isGroup(step: PlanStep): step is ParallelGroup {
  return step.kind === 'parallel';
}

/** Every runnable task, members of groups included, in order. */
export function allTasks(plan: Plan): SimpleTask[] {
  return plan.steps.flatMap((s) => (isGroup(s) ? s.tasks : [s]));
}
