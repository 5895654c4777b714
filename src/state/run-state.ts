/** The shape of `state.json` (design §8) and of `status --output json` (design §3). */

export const RUN_RESULTS = ['succeeded', 'failed', 'invalid', 'not-ready', 'source-error', 'running'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

export const TASK_STATUSES = ['succeeded', 'failed', 'continued', 'skipped-done', 'not-run', 'running'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface TaskRecord {
  name: string;
  source: string;
  kind: string;
  status: TaskStatus;
  attempts: number;
  startedAt?: string;
  durationMs?: number;
  exitCode?: number | null;
  hash?: string;
  /** Set on the members of a parallel group. */
  group?: string;
  error?: string;
}

/** Once-state, per task name: done for this instance with this content (design §5). */
export interface DoneRecord {
  instanceId: string;
  hash: string;
  at: string;
}

export interface RunState {
  version: 1;
  instanceId?: string;
  bootId?: string;
  startedAt: string;
  finishedAt?: string;
  result: RunResult;
  exitCode?: number;
  /** Why the run ended as it did, when it did not succeed. */
  message?: string;
  tasks: TaskRecord[];
  done: Record<string, DoneRecord>;
  /** The run's final report to its Node (cluster handoff); absent when reporting was off, and in older files. */
  report?: ReportRecord;
}

/** Whether the last report to the Node was made, so `postjoin status` can say (design §4). */
export interface ReportRecord {
  /** The condition was written. A label or event that failed is in `error`, with made still true. */
  made: boolean;
  at: string;
  node: string;
  condition: string;
  status: 'True' | 'False';
  reason: string;
  durationMs?: number;
  error?: string;
}

export const EXIT_TO_RESULT: Record<number, RunResult> = {
  0: 'succeeded',
  1: 'failed',
  2: 'invalid',
  3: 'not-ready',
  4: 'source-error',
};

/** Checks a parsed state file closely enough that `status` and `once` can trust it. */
export function isRunState(v: unknown): v is RunState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<RunState>;
  return (
    s.version === 1 &&
    typeof s.startedAt === 'string' &&
    typeof s.result === 'string' &&
    (RUN_RESULTS as readonly string[]).includes(s.result) &&
    Array.isArray(s.tasks) &&
    s.tasks.every(isTaskRecord) &&
    typeof s.done === 'object' &&
    s.done !== null &&
    !Array.isArray(s.done) &&
    Object.values(s.done).every((d) => typeof d?.instanceId === 'string' && typeof d?.hash === 'string') &&
    (s.report === undefined || isReportRecord(s.report))
  );
}

function isReportRecord(v: unknown): v is ReportRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<ReportRecord>;
  return typeof r.made === 'boolean' && typeof r.at === 'string' && typeof r.node === 'string' && typeof r.condition === 'string' && typeof r.reason === 'string';
}

function isTaskRecord(v: unknown): v is TaskRecord {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Partial<TaskRecord>;
  return (
    typeof t.name === 'string' &&
    typeof t.kind === 'string' &&
    typeof t.status === 'string' &&
    (TASK_STATUSES as readonly string[]).includes(t.status) &&
    typeof t.attempts === 'number'
  );
}
