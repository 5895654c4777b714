import { forEachWithLimit } from '../base/concurrency.js';
import { reasonOf } from '../base/stop-reason.js';
import type { StatusReporter } from '../host/notify/systemd-notify.js';
import { isGroup, type ParallelGroup, type Plan, type SimpleTask } from '../plan/task.js';
import type { RunRecorder } from '../state/run-recorder.js';
import { isDone, runTask, type TaskOutcome, type TaskRunDeps } from './run-task.js';

export interface PlanRunDeps extends Omit<TaskRunDeps, 'done'> {
  recorder: RunRecorder;
  notify: StatusReporter;
}

export interface PlanOutcome {
  exitCode: 0 | 1;
  counts: Record<TaskOutcome['status'] | 'not-run', number>;
  /** The essential task (or state failure) that stopped the run. */
  message?: string;
}

/** A state write failed: nothing more may run, or a `once` task could run again on the next boot. */
class StateWriteFailed extends Error {}

/**
 * Runs the plan's steps in order. An essential failure stops the run (later steps stay `not-run`); a group
 * lets its running members finish but starts no new ones. State is written before and after every task; after
 * the first of a run (or of a group), a task's start rides in the previous task's final record (issue 14).
 */
export async function runPlan(plan: Plan, deps: PlanRunDeps): Promise<PlanOutcome> {
  const counts: PlanOutcome['counts'] = { succeeded: 0, failed: 0, continued: 0, 'skipped-done': 0, 'not-run': 0 };
  const total = plan.steps.length;
  let stopMessage: string | undefined;
  try {
    for (const [i, step] of plan.steps.entries()) {
      if (deps.stop.aborted) {
        stopMessage ??= `${reasonOf(deps.stop)} before task "${step.name}"`;
        // The previous task's record may have marked this one as running; it never started.
        if (!isGroup(step)) deps.recorder.update(step.name, { status: 'not-run', startedAt: undefined });
        break;
      }
      const label = `${step.name} (${i + 1}/${total})`;
      deps.notify.status(`task ${i + 1}/${total} ${step.name}`);
      const next = plan.steps[i + 1];
      const failed = isGroup(step) ? await runGroup(step, label, deps, counts) : await runOne(step, label, deps, counts, next && !isGroup(next) ? next : undefined);
      if (failed) {
        // A stop fails whatever was running; the run's message leads with the stop, not with its symptom.
        stopMessage = deps.stop.aborted ? `${reasonOf(deps.stop)} during ${isGroup(step) ? 'group' : 'task'} "${step.name}"` : `task "${step.name}" failed: ${failed}`;
        break;
      }
    }
  } catch (err) {
    if (!(err instanceof StateWriteFailed)) throw err;
    stopMessage = err.message;
    deps.log.error(`${err.message}; stopping so that no task runs unrecorded`);
  }
  counts['not-run'] = deps.recorder.state.tasks.filter((t) => t.status === 'not-run' && !isGroupRow(plan, t.name)).length;
  // However the loop ended, a run that was stopped before every task ran has not succeeded.
  if (deps.stop.aborted && counts['not-run'] > 0) {
    const first = deps.recorder.state.tasks.find((t) => t.status === 'not-run');
    stopMessage ??= `${reasonOf(deps.stop)} before task "${first?.group ?? first?.name}"`;
    stopMessage += `; ${counts['not-run']} ${counts['not-run'] === 1 ? 'task' : 'tasks'} not run`;
  }
  return stopMessage ? { exitCode: 1, counts, message: stopMessage } : { exitCode: 0, counts };
}

/**
 * Returns the error when the task failed and stops the run; undefined otherwise. `next`, the task that runs
 * after this one, gets its "running" marker in this task's final record, one state write instead of two.
 */
async function runOne(task: SimpleTask, label: string, deps: PlanRunDeps, counts: PlanOutcome['counts'], next?: SimpleTask): Promise<string | undefined> {
  const r = deps.recorder;
  // The "running" marker only matters if the agent dies mid-task; a task that is already done never runs.
  // It is written here unless the previous task's record carried it.
  if (!isDone(task, r.done, deps.instanceId) && r.state.tasks.find((t) => t.name === task.name)?.status !== 'running') {
    r.update(task.name, { status: 'running', startedAt: new Date().toISOString() });
    await save(r, false);
  }
  const outcome = await runTask(task, label, { ...deps, done: r.done });
  counts[outcome.status]++;
  r.update(task.name, {
    status: outcome.status,
    attempts: outcome.attempts,
    startedAt: outcome.startedAt,
    durationMs: outcome.durationMs,
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
  });
  if (outcome.status === 'succeeded' && task.once) r.markDone(task.name, task.hash);
  if (outcome.status === 'failed' || outcome.status === 'continued') r.forget(task.name);
  const marksNext = next !== undefined && outcome.status !== 'failed' && !deps.stop.aborted && !isDone(next, r.done, deps.instanceId);
  if (marksNext) r.update(next.name, { status: 'running', startedAt: new Date().toISOString() });
  try {
    await save(r, outcome.status !== 'skipped-done');
  } catch (err) {
    if (marksNext) r.update(next.name, { status: 'not-run', startedAt: undefined });
    throw err;
  }
  return outcome.status === 'failed' ? outcome.error ?? 'failed' : undefined;
}

async function runGroup(group: ParallelGroup, label: string, deps: PlanRunDeps, counts: PlanOutcome['counts']): Promise<string | undefined> {
  const started = Date.now();
  const r = deps.recorder;
  r.update(group.name, { status: 'running', startedAt: new Date(started).toISOString() });
  deps.log.info({ task: group.name, source: group.origin, kind: 'parallel', members: group.tasks.length }, `group ${label}: started, ${group.tasks.length} tasks, up to ${group.concurrency} at a time`);
  let memberError: string | undefined;
  await forEachWithLimit(
    group.tasks,
    group.concurrency,
    async (member, i) => {
      const err = await runOne(member, `${member.name} (${group.name} ${i + 1}/${group.tasks.length})`, deps, counts);
      if (err) memberError ??= `member "${member.name}" failed: ${err}`;
    },
    () => memberError === undefined && !deps.stop.aborted,
  );
  const members = r.state.tasks.filter((t) => t.group === group.name);
  // Members a stop kept from starting: the group did not run to its end, whatever the members that ran did.
  const notRun = members.filter((m) => m.status === 'not-run').length;
  if (!memberError && notRun > 0 && deps.stop.aborted) memberError = `${reasonOf(deps.stop)}; ${notRun} of ${members.length} members not run`;
  const status = memberError
    ? group.onFailure === 'continue' && !deps.stop.aborted
      ? 'continued'
      : 'failed'
    : members.every((m) => m.status === 'skipped-done')
      ? 'skipped-done'
      : 'succeeded';
  r.update(group.name, { status, durationMs: Date.now() - started, attempts: 0, ...(memberError ? { error: memberError } : {}) });
  await save(r, true);
  const fields = { task: group.name, source: group.origin, kind: 'parallel', duration_ms: Date.now() - started };
  if (status === 'failed') deps.log.warn(fields, `group ${label} failed: ${memberError}`);
  else if (status === 'continued') deps.log.warn(fields, `group ${label} failed, continuing (onFailure: continue): ${memberError}`);
  else deps.log.info(fields, `group ${label}: ${status}`);
  return status === 'failed' ? memberError : undefined;
}

async function save(r: RunRecorder, durable: boolean): Promise<void> {
  try {
    await r.save(durable);
  } catch (err) {
    throw new StateWriteFailed(`cannot write the state file: ${(err as Error).message}`);
  }
}

function isGroupRow(plan: Plan, name: string): boolean {
  return plan.steps.some((s) => isGroup(s) && s.name === name);
}
