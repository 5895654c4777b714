import { isGroup, type Plan } from '../plan/task.js';
import { EXIT_TO_RESULT, type DoneRecord, type ReportRecord, type RunState, type TaskRecord } from './run-state.js';
import type { StateStore } from './state-store.js';

/**
 * Keeps the run's state and writes it after every change that matters: the run's start, each task's start
 * and end, and the result. Once-state (`done`) carries over from the previous run.
 */
export class RunRecorder {
  readonly state: RunState;

  constructor(
    private readonly store: StateStore,
    bootId: string | undefined,
    now = new Date(),
  ) {
    this.state = {
      version: 1,
      ...(bootId ? { bootId } : {}),
      startedAt: now.toISOString(),
      result: 'running',
      tasks: [],
      done: { ...(store.previous?.done ?? {}) },
    };
  }

  get done(): Readonly<Record<string, DoneRecord>> {
    return this.state.done;
  }

  save(durable = true): Promise<void> {
    return this.store.write(this.state, durable);
  }

  setInstanceId(id: string): void {
    this.state.instanceId = id;
  }

  /** Lists every step and member as `not-run`, so a run that stops early still shows the whole plan. */
  setPlan(plan: Plan): void {
    this.state.tasks = plan.steps.flatMap((step): TaskRecord[] => {
      const row = { name: step.name, source: step.origin, kind: step.kind, status: 'not-run' as const, attempts: 0 };
      if (!isGroup(step)) return [{ ...row, hash: step.hash }];
      return [row, ...step.tasks.map((m) => ({ name: m.name, source: m.origin, kind: m.kind, status: 'not-run' as const, attempts: 0, hash: m.hash, group: step.name }))];
    });
  }

  update(name: string, patch: Partial<TaskRecord>): void {
    const row = this.state.tasks.find((t) => t.name === name);
    if (row) Object.assign(row, patch);
  }

  markDone(name: string, hash: string): void {
    if (!this.state.instanceId) return;
    this.state.done[name] = { instanceId: this.state.instanceId, hash, at: new Date().toISOString() };
  }

  forget(name: string): void {
    delete this.state.done[name];
  }

  /** The final report to the Node, for `postjoin status`; saved with the next save(). */
  setReport(report: ReportRecord | undefined): void {
    if (report) this.state.report = report;
  }

  finish(exitCode: number, message?: string): void {
    this.state.result = EXIT_TO_RESULT[exitCode] ?? 'failed';
    this.state.exitCode = exitCode;
    this.state.finishedAt = new Date().toISOString();
    if (message) this.state.message = message;
    for (const t of this.state.tasks) if (t.status === 'running') t.status = 'failed';
  }
}
