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

/** The parts of a report to the Node; the condition and the label are what the recipe and fleet alerting read. */
export const REPORT_PARTS = ['condition', 'label', 'event'] as const;
export type ReportPart = (typeof REPORT_PARTS)[number];

/**
 * The last run's report to its Node (design §4): whether it was made, and, so that `postjoin report` can deliver it
 * later without re-deriving anything, what it says. The fields after `error` are absent in files written before
 * `postjoin report` existed; such a record is shown but never delivered.
 */
export interface ReportRecord {
  /**
   * The condition and the label (when one is configured) are on the Node: what node-readiness-controller and
   * fleet alerting read. A failed event does not keep a report pending: an event records a moment, and is sent
   * with the first delivery that can send it.
   */
  made: boolean;
  /** When the last try ended. */
  at: string;
  node: string;
  condition: string;
  status: 'True' | 'False';
  reason: string;
  durationMs?: number;
  /** What the last try could not write, and why. */
  error?: string;
  /** The condition's message, also the event's note. */
  message?: string;
  /** Absent when no label was configured. */
  label?: { key: string; value: 'succeeded' | 'failed' };
  /** Absent when events were off. */
  event?: { type: 'Normal' | 'Warning'; reason: string };
  /** When the run ended: the event's time, also when it is delivered later. */
  endedAt?: string;
  /** The parts not on the Node yet. */
  missing?: ReportPart[];
  /** When the report was first found not made; kept once it is. */
  pendingSince?: string;
  /** Tries so far, the run's own final report being the first. */
  tries?: number;
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
  const optional = (key: keyof ReportRecord, ok: (x: unknown) => boolean) => r[key] === undefined || ok(r[key]);
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
  return (
    typeof r.made === 'boolean' &&
    typeof r.at === 'string' &&
    typeof r.node === 'string' &&
    typeof r.condition === 'string' &&
    typeof r.reason === 'string' &&
    optional('message', (x) => typeof x === 'string') &&
    optional('label', (x) => isObject(x) && typeof x.key === 'string' && typeof x.value === 'string') &&
    optional('event', (x) => isObject(x) && typeof x.type === 'string' && typeof x.reason === 'string') &&
    optional('endedAt', (x) => typeof x === 'string') &&
    optional('missing', (x) => Array.isArray(x) && x.every((p) => (REPORT_PARTS as readonly unknown[]).includes(p))) &&
    optional('pendingSince', (x) => typeof x === 'string') &&
    optional('tries', (x) => Number.isInteger(x))
  );
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
